"""A multi-stage build caches from the final image only, so its builder stages never hit cache.

## What it does
Reads the Dockerfile a CI build uses (through the repository) and flags the build when the
Dockerfile is multi-stage, the build has a cache source, but none covers the stages the final
image is built from other than its own (the `builder` stage that downloads dependencies and
compiles): no `--cache-from` of an image built with `--target <stage>` and pushed, and no
`--cache-to ...,mode=max` (nor a registry cache another build of the pipeline exports with
`mode=max`). BuildKit's own `buildctl build` (and the rootless `buildctl-daemonless.sh build`)
is judged the same: its `--import-cache` is the cache source, and an `--export-cache
type=inline`, or `type=registry` without `mode=max`, keeps the final stage only. The finding
lands on the CI file, also when only the Dockerfile
changed in a merge request. A build on another machine the job names in `DOCKER_HOST` (or
`docker -H`) is not judged: that daemon keeps the build cache of every stage between
pipelines (see `ci-inline-cache`).

## Why it matters
Inline cache (`BUILDKIT_INLINE_CACHE=1`, `--cache-to type=inline`) is `mode=min` only: it
records the layers of the image it is part of, the final stage. The classic builder can only
reuse layers it finds in the pulled image, which also holds the final stage only. So with a
cache that is "just the last image", every builder-stage step (module downloads, compiles,
`npm ci`) runs in full in every pipeline, which is usually most of the build time. The design
article this tool follows solves it by building and pushing `--target builder` as an image of
its own and using both images as cache sources; BuildKit's registry cache with `mode=max`
exports every stage's layers instead.

Note that BuildKit cache mounts (`RUN --mount=type=cache`) are not exported by `--cache-to`
at all: on ephemeral CI runners they only help when the builder itself persists.

## Example
```yaml
build:
  script:
    - docker pull $CI_REGISTRY_IMAGE:latest || true
    - docker build
      --cache-from $CI_REGISTRY_IMAGE:latest
      --build-arg BUILDKIT_INLINE_CACHE=1
      -t $CI_REGISTRY_IMAGE:latest .
    - docker push $CI_REGISTRY_IMAGE:latest
```
with a Dockerfile that has `FROM golang:1.22 AS builder` ... `FROM alpine:3.20`.

## Use instead
```yaml
  script:
    - docker pull $CI_REGISTRY_IMAGE:builder || true
    - docker build
      --target builder
      --cache-from $CI_REGISTRY_IMAGE:builder
      --build-arg BUILDKIT_INLINE_CACHE=1
      --tag $CI_REGISTRY_IMAGE:builder .
    - docker push $CI_REGISTRY_IMAGE:builder
    - docker pull $CI_REGISTRY_IMAGE:latest || true
    - docker build
      --cache-from $CI_REGISTRY_IMAGE:builder
      --cache-from $CI_REGISTRY_IMAGE:latest
      --build-arg BUILDKIT_INLINE_CACHE=1
      -t $CI_REGISTRY_IMAGE:latest .
    - docker push $CI_REGISTRY_IMAGE:latest
```

## Fix safety
For `docker build` the fix is the article's pattern: before the build it adds, per uncached
named stage, a pull (unless the job is known to run BuildKit), a `docker build --target
STAGE` tagged `<image>:STAGE` (the job's `-f` and `--build-arg`s carried over, inline cache
metadata written unless the classic builder is used) and a `docker push`, and it adds
`--cache-from <image>:STAGE` to the final build. It chooses this rather than a registry cache
because the default `docker` build driver cannot export one. For `docker buildx build` the
fix uses `--cache-to type=registry,ref=<image>:buildcache,mode=max` with the matching
`--cache-from`, creating a `docker-container` builder first (as GitLab's example does) when
the job has none, because only such a builder exports registry caches. For `buildctl build`
that pushes its image and exports no registry cache yet, the fix adds `--export-cache
type=registry,ref=<image>:buildcache,mode=max` and the matching `--import-cache` (as GitLab's
BuildKit page does), beside an inline export the build may keep (BuildKit exports to several
caches). A registry export without `mode=max` gets the finding without a fix (the option goes
on that export). All push new images or caches to the registry and make the job do more, so
the fix is marked **review**. An
unnamed builder stage (no `AS name`) cannot be targeted: the finding then has no fix.

## References
- Docker docs, "Cache storage backends": `mode=min` (the default, and the only mode of the
  inline cache) exports the layers of the final image only; `mode=max` exports all layers of
  all intermediate steps.
- Docker docs, "Inline cache": it "doesn't scale with multi-stage builds as well as the other
  drivers do".
- Docker docs, "Optimize cache usage in builds: use cache mounts": cache mounts are local to
  the builder and not part of the exported cache.
- BuildKit README (https://github.com/moby/buildkit#readme), "Export cache": `--export-cache
  type=inline` embeds the cache in the image (min mode), `type=registry,ref=REF,mode=max`
  exports all the layers of all intermediate steps; `--import-cache type=registry,ref=REF`
  reads it back. GitLab docs, "Build Docker images with BuildKit"
  (https://docs.gitlab.com/ci/docker/using_buildkit/): the rootless job caches with
  `--export-cache type=registry,ref=$CACHE_IMAGE,mode=max` and `--import-cache`.
- Docker docs, "Cache storage backends", "Multiple caches": BuildKit supports several cache
  exporters in one build (moby/buildkit pull request #3024, v0.11).
- GitLab docs, "Make Docker-in-Docker builds faster with Docker layer caching": for
  multi-stage builds use registry caching (`--cache-to type=registry,...,mode=max`) with a
  `docker-container` builder.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis import dockerfile
from layerbot.analysis.ci_builds import (
    Build,
    BuildKit,
    Tool,
    cache_options,
    cache_references,
)
from layerbot.analysis.ci_fixes import (
    add_flags,
    build_finding,
    build_spot,
    combine,
    dockerfile_of,
    image_repository,
    insert_before,
    jobs_doing,
    once_per_line,
    shared_line,
    spelled_image,
)
from layerbot.analysis.gitlab_ci import PipelineContext
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity

NAME = "ci-cache-builder-stage"
SEVERITY = Severity.MINOR
TARGET = "gitlab-ci"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Build, push and cache the builder stage too"

MAX_STEPS_NAMED = 3
_JUDGED = (Tool.DOCKER, Tool.BUILDX, Tool.BUILDCTL)


def _builder_stages(doc: dockerfile.Dockerfile) -> list[dockerfile.Stage]:
    """Stages the final image needs that are not part of its own layers, and do work."""
    own = set()
    stage: dockerfile.Stage | None = doc.final_stage
    while stage is not None and stage.index not in own:
        own.add(stage.index)
        stage = doc.base_stage(stage)
    return [
        doc.stages[index]
        for index in sorted(doc.used_stages() - own)
        if doc.stages[index].of("RUN")
    ]


def _cached_targets(ctx: PipelineContext, build: Build) -> set[str]:
    """Stage names whose own image (built with ``--target``, pushed) this build caches from."""
    cached = set()
    for reference in cache_references(build.cache_from):
        for other in ctx.pipeline.build_index.by_tag.get(parse_image(reference).key, []):
            if other.dockerfile != build.dockerfile or other.target is None:
                continue
            if other.pushed(reference):
                cached.add(other.target.lower())
    return cached


def _with_ancestors(doc: dockerfile.Dockerfile, names: set[str]) -> set[str]:
    """A stage image also holds the layers of the stages it is built ``FROM``."""
    covered = set(names)
    for name in names:
        stage = doc.stage_named(name)
        parent = doc.base_stage(stage) if stage is not None else None
        while parent is not None and (parent.name or "").lower() not in covered:
            covered.add((parent.name or "").lower())
            parent = doc.base_stage(parent)
    return covered


def _keeps_every_stage(ctx: PipelineContext, build: Build) -> bool:
    """Whether the build writes, or reads, a registry cache exported with ``mode=max``."""
    if any(cache_options(value).get("mode") == "max" for value in build.cache_to):
        return True
    every_stage = ctx.pipeline.build_index.every_stage
    return any(parse_image(ref).key in every_stage for ref in cache_references(build.cache_from))


def _spelled(value: str) -> str:
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


def _leaves(doc: dockerfile.Dockerfile, stages: list[dockerfile.Stage]) -> list[dockerfile.Stage]:
    """The stages no other listed stage is built ``FROM``: a ``--target`` image of a stage
    already holds the layers of the stages it is built from."""
    ancestors = set()
    for stage in stages:
        parent = doc.base_stage(stage)
        while parent is not None and parent.index not in ancestors:
            ancestors.add(parent.index)
            parent = doc.base_stage(parent)
    return [stage for stage in stages if stage.index not in ancestors]


def _docker_fix(
    ctx: PipelineContext,
    build: Build,
    doc: dockerfile.Dockerfile,
    stages: list[dockerfile.Stage],
) -> Fix | None:
    spot = build_spot(ctx.pipeline, build)
    written_from = build.written.values("--cache-from")
    if spot is None or not written_from or not build.written.positionals:
        return None
    if any(stage.name is None for stage in stages):
        return None
    written, resolved = written_from[0], build.resolved.values("--cache-from")[0]
    image = spelled_image(written, resolved)
    reference = parse_image(image)
    base, tag = reference.name, reference.tag_or_latest
    carried = [
        f"{flag} {_spelled(value)}"
        for flag, value in build.written.pairs
        if flag in ("--file", "--build-arg") and "BUILDKIT_INLINE_CACHE" not in value
    ]
    inline = [] if build.buildkit is BuildKit.OFF else ["--build-arg BUILDKIT_INLINE_CACHE=1"]
    context = _spelled(build.written.positionals[-1])
    edits: list[Edit] = []
    images = []
    for stage in _leaves(doc, stages):
        name = stage.name or ""
        stage_image = f"{base}:{name}" if tag == "latest" else f"{base}:{name}-{tag}"
        images.append(stage_image)
        commands = []
        if build.buildkit is not BuildKit.ON:
            commands.append(f"docker pull {stage_image} || true")
        words = ["docker build --target", name, "--cache-from", stage_image, *inline, *carried]
        commands.append(" ".join([*words, "--tag", stage_image, context]))
        commands.append(f"docker push {stage_image}")
        for command in commands:
            edit = insert_before(ctx.pipeline, build.step, spot, command)
            if edit is None:
                return None
            edits.append(edit)
    cache_flags = " ".join(f"--cache-from {stage_image}" for stage_image in images)
    edits.append(add_flags(ctx.pipeline, spot, cache_flags))
    return Fix(
        description="Build and push the builder stage as an image of its own "
        f"({', '.join(f'`{i}`' for i in images)}) and cache the final build from it too: "
        "the article's pattern, because the default `docker` build driver cannot export a "
        "registry cache with mode=max",
        safety=Safety.REVIEW,
        edits=combine(ctx.pipeline, edits),
    )


def _buildx_fix(ctx: PipelineContext, build: Build) -> Fix | None:
    spot = build_spot(ctx.pipeline, build)
    if spot is None:
        return None
    base = image_repository(build)
    cache = f"{base}:buildcache"
    flags = f"--cache-to type=registry,ref={cache},mode=max --cache-from type=registry,ref={cache}"
    edits = [add_flags(ctx.pipeline, spot, flags)]
    if not build.after_container_builder:
        for command in (
            "docker context create layerbot-builder",
            "docker buildx create layerbot-builder --driver docker-container --use",
        ):
            edit = insert_before(ctx.pipeline, build.step, spot, command)
            if edit is None:
                return None
            edits.append(edit)
    return Fix(
        description=f"Export every stage's layers to the registry cache `{cache}` with "
        "mode=max (inline cache is mode=min: final stage only), from a `docker-container` "
        "builder, the driver that can export it",
        safety=Safety.REVIEW,
        edits=combine(ctx.pipeline, edits),
    )


def _buildctl_fix(ctx: PipelineContext, build: Build) -> Fix | None:
    """A registry cache of every stage beside the image (``mode=max``), imported too. With no
    registry cache exported yet, so the one new exporter sits beside an inline one at most;
    a registry export without ``mode=max`` is the team's to widen."""
    spot = build_spot(ctx.pipeline, build)
    exported = [cache_options(value)["type"] for value in build.cache_to]
    if spot is None or "registry" in exported or not build.pushes_itself:
        return None
    cache = f"{image_repository(build)}:buildcache"
    flags = (
        f"--export-cache type=registry,ref={cache},mode=max "
        f"--import-cache type=registry,ref={cache}"
    )
    return Fix(
        description=f"Export every stage's layers to the registry cache `{cache}` with "
        "mode=max and import it (an inline cache is mode=min: final stage only)",
        safety=Safety.REVIEW,
        edits=(add_flags(ctx.pipeline, spot, flags),),
    )


def _mode_min(build: Build) -> str:
    """Why the cache the build reads holds the final stage's layers only."""
    if build.tool is Tool.BUILDCTL:
        exports = {cache_options(value)["type"] for value in build.cache_to}
        cache = (
            "its registry cache export has no `mode=max`, so it"
            if "registry" in exports
            else "an inline cache (`--export-cache type=inline`)"
        )
        return f"{cache} keeps the final stage's layers only (mode=min)"
    return "inline cache and the classic builder keep the final stage's layers only (mode=min)"


def _steps_named(stages: list[dockerfile.Stage]) -> str:
    runs = [
        run.commands[-1].text if run.commands else run.value
        for stage in stages
        for run in stage.of("RUN")
    ]
    shown = ", ".join(f"`{run[:40]}`" for run in runs[:MAX_STEPS_NAMED])
    return shown + (", ..." if len(runs) > MAX_STEPS_NAMED else "")


def check(ctx: PipelineContext) -> Iterator[Finding]:
    def found() -> Iterator[tuple[Build, Finding]]:
        for build in ctx.pipeline.builds:
            if build.tool not in _JUDGED or build.no_cache:
                continue
            if not ctx.pipeline.build_index.cache_sources(build):
                continue  # no cache at all: ci-cache-from's
            if build.remote_daemon is not None:
                continue  # one machine's daemon, kept between jobs, caches every stage itself
            if _keeps_every_stage(ctx, build):
                continue
            doc = dockerfile_of(ctx, build)
            if doc is None or len(doc.stages) < 2:
                continue
            if build.target and doc.stage_named(build.target) is not doc.final_stage:
                continue  # this build makes a stage image itself
            cached = _with_ancestors(doc, _cached_targets(ctx, build))
            stages = [s for s in _builder_stages(doc) if (s.name or "").lower() not in cached]
            if not stages:
                continue
            names = ", ".join(f"`{s.name or s.index}`" for s in stages)
            runs = sum(len(s.of("RUN")) for s in stages)
            message = (
                f"`{build.dockerfile}` is multi-stage, but "
                f"{jobs_doing(ctx, build, 'caches', 'cache')} only from the final image: "
                f"{_mode_min(build)}, so stage {names} ({_steps_named(stages)}) "
                "runs in full in every pipeline."
            )
            impact = (
                f"every pipeline re-runs {runs} RUN step(s) of stage {names}"
                f"{shared_line(ctx, build)}"
            )
            if build.tool is Tool.DOCKER:
                fix = _docker_fix(ctx, build, doc, stages)
            else:
                fix = (_buildx_fix if build.tool is Tool.BUILDX else _buildctl_fix)(ctx, build)
            yield build, build_finding(ctx, NAME, SEVERITY, build, message, impact=impact, fix=fix)

    yield from once_per_line(found())
