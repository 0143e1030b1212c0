"""kaniko builds without `--cache=true`, so every pipeline rebuilds every layer.

## What it does
Flags a kaniko build (`/kaniko/executor` in a job script) without `--cache=true`. A kaniko
build that does cache gets an `info` finding instead, because the kaniko project was archived
by Google on 3 June 2025 and no longer gets fixes: the finding names the maintained
alternatives. A build whose Dockerfile (read through the repository) has no `RUN` step in the
stages it builds is left alone: `--cache=true` caches `RUN` layers only.

## Why it matters
kaniko builds in user space and starts every job with nothing cached. With `--cache=true` it
stores each `RUN` layer (of every stage) in a cache repository in the registry, by default
`<destination>/cache`, and reuses them on the next pipeline; without it, dependency
downloads and compiles run in full every time. Since the archive, kaniko has no upstream
security or bug fixes; BuildKit (`docker buildx`, or rootless `buildkitd`) and buildah are
maintained and run without a privileged Docker daemon as well (a community fork of kaniko
also exists).

## Example
```yaml
build:
  image:
    name: gcr.io/kaniko-project/executor:debug
    entrypoint: [""]
  script:
    - /kaniko/executor --context "$CI_PROJECT_DIR" --destination "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"
```

## Use instead
```yaml
  script:
    - /kaniko/executor
      --cache=true
      --context "$CI_PROJECT_DIR"
      --destination "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"
```

## Fix safety
The fix adds `--cache=true` after the executor (and `--cache-repo=$CI_REGISTRY_IMAGE/cache`
when the build has no `--destination` to derive the cache repository from); a written
`--cache=false` is turned into `--cache=true` where it stands, because the last of kaniko's
flags wins. The image is the
same; the registry gains a cache repository, so the fix is marked **review**. The archive
notice is information only and has no fix: moving off kaniko is a decision for the team.

## References
- kaniko's executor reads its flags with spf13/pflag (https://github.com/spf13/pflag), where a
  flag given twice keeps the last value: `--cache=true --cache=false` does not cache.
- kaniko README, "Caching": `--cache=true` caches layers created by `RUN` in `--cache-repo`,
  which defaults to the destination repository with `/cache` appended.
- GoogleContainerTools/kaniko pull request #3502, "Prepare for archival" (3 June 2025): the
  repository was archived and is no longer developed or maintained.
- GitLab docs, "Use kaniko to build Docker images" and "Use BuildKit to build images" /
  "Use Buildah": the rootless alternatives GitLab documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from layerbot.analysis.ci_builds import Build, Tool
from layerbot.analysis.ci_fixes import (
    add_flags,
    build_finding,
    build_spot,
    jobs_named,
    nothing_to_cache,
    once_per_line,
    rebuild_impact,
)
from layerbot.analysis.gitlab_ci import PipelineContext
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity

NAME = "ci-kaniko-cache"
SEVERITY = Severity.MAJOR
TARGET = "gitlab-ci"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Turn on kaniko's registry layer cache"

ARCHIVED = (
    "Note: the kaniko project was archived in June 2025 and gets no more fixes; BuildKit "
    "(`docker buildx`, rootless buildkitd) and buildah are maintained alternatives."
)


_CACHE_OFF = re.compile(r"--cache=[\"']?(?:false|0)[\"']?(?=\s|$)", re.IGNORECASE)


def _turn_on(ctx: PipelineContext, build: Build, flags: str) -> Edit | None:
    """``--cache=false`` replaced by ``flags`` where it is written (on the build's own lines,
    found once), or ``None`` when the build does not write it."""
    origin = build.step.script.origin
    if origin is None or origin.path != ctx.path:
        return None
    lines = ctx.pipeline.lines
    found = [
        (number, match)
        for number in range(origin.line, min(origin.end_line, len(lines)) + 1)
        for match in _CACHE_OFF.finditer(lines[number - 1])
    ]
    if len(found) != 1:
        return None
    number, match = found[0]
    line = lines[number - 1]
    return Edit(number, number, (line[: match.start()] + flags + line[match.end() :],))


def _fix(ctx: PipelineContext, build: Build, flags: str) -> Fix | None:
    cache_off = any(name == "--cache" for name, _ in build.resolved.pairs)
    spot = build_spot(ctx.pipeline, build)
    if cache_off:
        edit = _turn_on(ctx, build, flags)
    else:
        edit = add_flags(ctx.pipeline, spot, flags) if spot is not None else None
    if edit is None:
        return None
    return Fix(
        description=f"Cache kaniko's layers in the registry (`{flags}`)",
        safety=Safety.REVIEW,
        edits=(edit,),
    )


def check(ctx: PipelineContext) -> Iterator[Finding]:
    def found() -> Iterator[tuple[Build, Finding]]:
        for build in ctx.pipeline.builds:
            if build.tool is not Tool.KANIKO:
                continue
            if build.resolved.on("--cache"):
                yield (
                    build,
                    build_finding(
                        ctx, NAME, Severity.INFO, build, f"kaniko caches here. {ARCHIVED}"
                    ),
                )
                continue
            if nothing_to_cache(ctx, build):
                continue  # its Dockerfile only copies files in: kaniko caches RUN layers only
            flags = "--cache=true"
            if not build.resolved.values("--destination", "--cache-repo"):
                flags += " --cache-repo=$CI_REGISTRY_IMAGE/cache"
            fix = _fix(ctx, build, flags)
            message = (
                f"kaniko in {jobs_named(ctx, build)} runs without `--cache=true`: every "
                f"pipeline rebuilds every layer from scratch. {ARCHIVED}"
            )
            impact = rebuild_impact(ctx, build)
            yield build, build_finding(ctx, NAME, SEVERITY, build, message, impact=impact, fix=fix)

    yield from once_per_line(found())
