"""Base image without a tag, or with `:latest`.

## What it does
Flags a `FROM` whose image has no tag or the `latest` tag (and no digest).

Images named through build arguments are judged the way BuildKit expands them: with the
default of a global `ARG` (`ARG NODE_TAG=latest` then `FROM node:${NODE_TAG}` is `latest`;
a default pinned by version or digest is pinned), and with the `word` of
`${VAR:-word}` when the variable has no default. An image or tag taken from an `ARG` with no
default comes from the build (`--build-arg`), so the Dockerfile leaves nothing unpinned and
nothing is reported (a variable registry in front of a tagless name still has no tag).
`FROM scratch` and `FROM <earlier stage>` pull nothing and are never flagged. A stage named
after its own image (`FROM composer AS composer`, kept to `COPY --from=composer` later) still
pulls that image: a `FROM` can only name a stage that comes before it.

## Why it matters
`latest` moves. The same commit builds a different image next month, a new major version of
the toolchain can break the build without any change in the repository, and the layer cache of
every later step is thrown away whenever the base image moves: the registry's `latest` is a
cache key you do not control.

## Example
```dockerfile
FROM golang:latest
```

## Use instead
```dockerfile
FROM golang:1.22
```

## Fix safety
The fix is marked **review**: it changes the base image to the version the project itself
declares (go.mod's `go` directive, `.nvmrc` or package.json `engines.node`,
`.python-version` or `requires-python`), which may differ from what `latest` gives today.
Without such a declaration the finding has no fix.

## References
- Docker docs, "Dockerfile reference: FROM": the tag defaults to `latest` when omitted; the
  name given with `AS name` can be used in *subsequent* `FROM` and `COPY --from=<name>`
  instructions to refer to the image built in this stage;
  "Understand how ARG and FROM interact": an `ARG` before the first `FROM` can be used in
  `FROM`, and `--build-arg` overrides its default.
- Docker docs, "Dockerfile reference: Environment replacement": `${variable:-word}` gives
  `word` when the variable is not set.
- Docker docs, "Building best practices: Pin base image versions".
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis import project
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.image_ref import ImageRef
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity

NAME = "pin-base-image"
SEVERITY = Severity.MINOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Pin the base image to the version the project declares"

_SCRATCH = "scratch"


def pinned_tag(ctx: DockerfileContext, repository: str) -> str | None:
    """The tag the project's own version files call for, for images we know."""
    if repository == "golang":
        return project.go_version(ctx)
    if repository == "node":
        return project.node_version(ctx)
    if repository == "python":
        version = project.python_version(ctx)
        return f"{version}-slim" if version else None
    return None


def _chosen_elsewhere(image: ImageRef) -> bool:
    """A variable with no default names the image or its tag: the build passes it
    (``--build-arg``), so the Dockerfile pins nothing and leaves nothing unpinned.

    ``$REGISTRY/python`` still has no tag: only the registry comes from outside.
    """
    return "$" in image.short_name or "$" in (image.tag or "") or "$" in (image.digest or "")


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    doc = ctx.doc
    for stage in doc.stages:
        if doc.base_stage(stage) is not None or stage.base.lower() == _SCRATCH:
            continue
        image = doc.resolved_base(stage)
        named = doc.stage_named(image.name)
        if _chosen_elsewhere(image) or (named is not None and named.index < stage.index):
            continue  # a stage names only earlier stages: `FROM composer AS composer` pulls
        if image.digest or (image.tag and image.tag != "latest") or image.name == _SCRATCH:
            continue
        written = "no tag" if image.tag is None else "`:latest`"
        if "$" in stage.base:
            written += f" (it resolves to `{image}` with the ARG defaults)"
        message = (
            f"`FROM {stage.base}` uses {written}: the base image changes under you, so builds "
            "are not reproducible and every layer cache is lost when `latest` moves."
        )
        fix = None
        tag = pinned_tag(ctx, image.repository)
        if tag and "$" not in stage.base:
            number = stage.from_instruction.line
            line = doc.line_text(number)
            pinned = f"{image.name}:{tag}"
            new_line = line.replace(stage.base, pinned, 1)
            if new_line != line:
                fix = Fix(
                    description=f"Pin the base image to `{pinned}`, the version the project uses",
                    safety=Safety.REVIEW,
                    edits=(Edit(number, number, (new_line,)),),
                )
        yield ctx.finding(NAME, SEVERITY, stage.from_instruction, message, fix=fix)
