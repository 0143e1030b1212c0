"""`--cache-from` under BuildKit names an image that was built without inline cache metadata.

## What it does
Flags a CI build that writes an image another build (or the same one, next pipeline) uses as
`--cache-from`, under BuildKit, when that image is built without
`--build-arg BUILDKIT_INLINE_CACHE=1` and without any `--cache-to` export. The finding sits on
the build that produces the image, because that is where the fix goes. When no build of the
pipeline tags the cache image but it is another tag of the build's own image (`:main` read,
`:$CI_COMMIT_SHA` written), the build itself stands for its producer and is flagged unless it
writes the metadata (or an included file we could not read, or another build of the same
Dockerfile, might). A cache image of another repository is not judged. `buildctl build` reads
an image as a cache with `--import-cache type=registry,ref=IMAGE` and writes the metadata with
`--export-cache type=inline`.

A job runs BuildKit when it builds with `docker buildx build`, sets `DOCKER_BUILDKIT=1` (in
the command, a script line, or any `variables:`: global, the job's, or inherited through
`extends:`, anchors and `!reference`), or runs a `docker:23` or later image or dind service
(an older CLI image beside a current `docker:dind` service too: the CLI follows the builder the
daemon advertises). A
build that reads no cache (`--no-cache`) or only a tag made from this very commit is left to
`ci-cache-from`, and so is one whose Dockerfile runs no `RUN` step (see there). A build on
another machine the job names in `DOCKER_HOST` (or `docker -H`) is
not judged: that one daemon keeps its build cache between pipelines, and BuildKit reuses it
with or without metadata in the image (a shell runner tag may stand for several machines, so
it does not count). The metadata is written when `BUILDKIT_INLINE_CACHE` is true (`1`,
`true`...), given as `--build-arg BUILDKIT_INLINE_CACHE=1` or as a bare `--build-arg
BUILDKIT_INLINE_CACHE` that takes the job's variable, or when the build exports with
`--cache-to`.

## Why it matters
BuildKit is the default builder since Docker Engine 23, and `docker buildx build` always uses
it. Unlike the classic builder, BuildKit does not compare layers of a pulled image: it takes
cache from an image only when the image carries cache metadata, written by
`BUILDKIT_INLINE_CACHE=1` (or `--cache-to type=inline`), or from a cache manifest exported
with `--cache-to`. A pipeline that still has `docker pull` and `--cache-from` from the
classic-builder days silently rebuilds every layer after the runner's Docker is upgraded.

## Example
```yaml
build:
  image: docker:24.0.5
  services: [docker:24.0.5-dind]
  script:
    - docker pull $CI_REGISTRY_IMAGE:latest || true
    - docker build --cache-from $CI_REGISTRY_IMAGE:latest -t $CI_REGISTRY_IMAGE:latest .
    - docker push $CI_REGISTRY_IMAGE:latest
```

## Use instead
```yaml
    - docker build
      --build-arg BUILDKIT_INLINE_CACHE=1
      --cache-from $CI_REGISTRY_IMAGE:latest
      -t $CI_REGISTRY_IMAGE:latest .
```

## Fix safety
The fix adds `--build-arg BUILDKIT_INLINE_CACHE=1` to the `docker build` that produces the
image (for `docker buildx build`, `--cache-to type=inline`; for `buildctl build`,
`--export-cache type=inline`). A `type=registry` cache that no
build of the pipeline exports gets no fix: it needs a `--cache-to` of that cache, and where
to export it from is the team's choice. The image's contents do not
change, only its cache metadata, so the fix is **safe**. The severity is `major` when the job
is known to run BuildKit (`DOCKER_BUILDKIT=1`, a `docker:23` or later image, buildx) and
`minor` when the job does not say which Docker runs it. With the classic builder
(`DOCKER_BUILDKIT=0`, `docker:20.10`) nothing is reported: it needs a pulled image instead
(`ci-pull-cache-image`). Inline cache only holds the final stage's layers (`mode=min`); for
the builder stages of a multi-stage build see `ci-cache-builder-stage`.

## References
- BuildKit README (https://github.com/moby/buildkit#readme), "Inline (push image and cache
  together)": `buildctl build ... --output type=image,name=IMAGE,push=true --export-cache
  type=inline --import-cache type=registry,ref=IMAGE`.
- Docker docs, "Docker Engine 23.0 release notes"
  (https://docs.docker.com/engine/release-notes/23.0/): BuildKit is the default builder on
  Linux; "BuildKit" (https://docs.docker.com/build/buildkit/#getting-started):
  `DOCKER_BUILDKIT=1` turns it on for older engines.
- Docker docs, "Inline cache" (https://docs.docker.com/build/cache/backends/inline/): export
  with `--cache-to type=inline` or the build argument
  `BUILDKIT_INLINE_CACHE=1`; import with `--cache-from`.
- Docker docs, "Cache storage backends": inline cache supports `mode=min` only; without an
  external cache, a build uses the build cache of the builder itself, which `docker builder
  prune` clears ("Build garbage collection"): a daemon kept between jobs keeps it.
- docker/cli pull request #1275 ("enable buildkit from daemon side", Docker 18.09): without
  `DOCKER_BUILDKIT`, `docker build` uses BuildKit when the daemon advertises it
  (`BuildKitEnabled` reads the ping's builder version); docker/cli pull request #5178: since
  Docker v23.0 (moby@7b153b9) a Linux daemon advertises BuildKit (`Builder-Version: 2`).
- GitLab docs, "Make Docker-in-Docker builds faster with Docker layer caching": the example
  builds with `--build-arg BUILDKIT_INLINE_CACHE=1 --cache-from $CI_REGISTRY_IMAGE:latest`.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis.ci_builds import Build, BuildKit, Tool, cache_references
from layerbot.analysis.ci_fixes import (
    add_flags,
    build_finding,
    build_spot,
    jobs_doing,
    jobs_named,
    nothing_to_cache,
    once_per_line,
    rebuild_impact,
    stable_pushed_tag,
)
from layerbot.analysis.gitlab_ci import PipelineContext
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.model import Finding, Fix, FixAvailability, Safety, Severity

NAME = "ci-inline-cache"
SEVERITY = Severity.MAJOR
TARGET = "gitlab-ci"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Write inline cache metadata into the pushed image"


# How each BuildKit client writes inline cache metadata into the image it pushes.
_INLINE_FLAGS = {Tool.BUILDX: "--cache-to type=inline", Tool.BUILDCTL: "--export-cache type=inline"}
_BUILDKIT_CLIENTS = (Tool.DOCKER, Tool.BUILDX, Tool.BUILDCTL)


def _fix(ctx: PipelineContext, producer: Build) -> Fix | None:
    spot = build_spot(ctx.pipeline, producer)
    if spot is None:
        return None
    flag = _INLINE_FLAGS.get(producer.tool, "--build-arg BUILDKIT_INLINE_CACHE=1")
    return Fix(
        description=f"Write inline cache metadata into the image (`{flag}`)",
        safety=Safety.SAFE,
        edits=(add_flags(ctx.pipeline, spot, flag),),
    )


def _cache_from_pushed_fix(ctx: PipelineContext, consumer: Build) -> Fix | None:
    """For a cache image no job pushes: cache from a stable tag the build does push, with
    the metadata written into it (the inline flag alone would leave the cache unwritten)."""
    chosen = stable_pushed_tag(ctx, consumer)
    spot = build_spot(ctx.pipeline, consumer)
    if chosen is None or spot is None or consumer.tool not in (Tool.DOCKER, Tool.BUILDX):
        return None
    flag = _INLINE_FLAGS.get(consumer.tool, "--build-arg BUILDKIT_INLINE_CACHE=1")
    return Fix(
        description=f"Cache from `{chosen[0]}`, a tag this job pushes, and write inline cache "
        f"metadata into it (`{flag}`)",
        safety=Safety.SAFE,
        edits=(add_flags(ctx.pipeline, spot, f"--cache-from {chosen[0]} {flag}"),),
    )


def _message(ctx: PipelineContext, consumer: Build, producer: Build, reference: str) -> str:
    metadata = "inline cache metadata (`BUILDKIT_INLINE_CACHE=1` or a `--cache-to`)"
    key = parse_image(reference).key
    if ctx.pipeline.build_index.by_tag.get(key):
        built = f"{jobs_doing(ctx, producer, 'builds', 'build')} it without {metadata}"
    elif reference not in consumer.cache_from:  # a `type=registry` cache manifest
        built = "no build of this pipeline exports it with a `--cache-to` or tags it"
    elif any(parse_image(target).key == key for _, target in consumer.retagged):
        built = (
            f"{jobs_doing(ctx, consumer, 'makes', 'make')} it with a `docker tag` of the "
            f"image this build writes, which has no {metadata}"
        )
    elif key not in ctx.pipeline.pushed:
        pushed = ", ".join(f"`{w}`" for w, r in consumer.tags if consumer.pushed(r))
        built = (
            "no job of this pipeline pushes it"
            + (f" (this build pushes {pushed})" if pushed else "")
            + ": it holds whatever an earlier push left there, without metadata from this build"
        )
    else:
        built = f"no build of this pipeline tags it, and this one writes no {metadata} either"
    return (
        f"`{reference}` is the `--cache-from` of {jobs_named(ctx, consumer)}, but {built}: "
        f"under {_builder(consumer)} the cache is never used and every layer is rebuilt."
    )


def _builder(consumer: Build) -> str:
    if consumer.buildkit is BuildKit.ON:
        return f"BuildKit ({consumer.buildkit_reason})"
    return (
        "BuildKit, the default since Docker Engine 23 (this job does not say which Docker it runs)"
    )


def _consumers(ctx: PipelineContext) -> dict[str, tuple[Build, str]]:
    """Per cache image, the BuildKit build that reads it and makes it matter most (known BuildKit
    first); images a ``--cache-to`` exports are fine."""
    index = ctx.pipeline.build_index
    consumers: dict[str, tuple[Build, str]] = {}
    for consumer in ctx.pipeline.builds:
        if consumer.tool not in _BUILDKIT_CLIENTS or consumer.buildkit is BuildKit.OFF:
            continue
        if consumer.no_cache:
            continue  # nothing is read from any cache
        if consumer.remote_daemon is not None:
            continue  # one machine's daemon, kept between jobs: its own build cache serves
        if nothing_to_cache(ctx, consumer):
            continue  # its Dockerfile only copies files in: no cache would spare work
        for reference in cache_references(index.cache_sources(consumer)):
            key = parse_image(reference).key
            if key in index.exports:
                continue
            known = consumers.get(key)
            if known is None or (
                consumer.buildkit is BuildKit.ON and known[0].buildkit is not BuildKit.ON
            ):
                consumers[key] = (consumer, reference)
    return consumers


def _producers(
    ctx: PipelineContext, reference: str, consumer: Build, with_metadata: set[str | None]
) -> list[Build]:
    """The builds that write the cache image without metadata. When no build of the pipeline
    tags it (a retag, an earlier pipeline on another branch) but it is another tag of the
    consumer's own image, the consumer stands for them: unless an included file we could not
    read may build it, or another build of the same Dockerfile writes metadata. A cache image
    of another repository is not judged."""
    wanted = parse_image(reference)
    makers = ctx.pipeline.build_index.by_tag.get(wanted.key)
    if makers:
        return [m for m in makers if m.tool in _BUILDKIT_CLIENTS and not m.inline_cache]
    own = {parse_image(resolved).canonical_name for _, resolved in consumer.tags}
    if wanted.canonical_name not in own or consumer.inline_cache:
        return []
    if ctx.pipeline.unread_includes or consumer.dockerfile in with_metadata:
        return []
    return [consumer]


def check(ctx: PipelineContext) -> Iterator[Finding]:
    index = ctx.pipeline.build_index
    consumers = _consumers(ctx)
    with_metadata = {build.dockerfile for build in ctx.pipeline.builds if build.inline_cache}

    def found() -> Iterator[tuple[Build, Finding]]:
        ranked = sorted(consumers.items(), key=lambda item: item[1][0].buildkit is not BuildKit.ON)
        for key, (consumer, reference) in ranked:
            severity = Severity.MAJOR if consumer.buildkit is BuildKit.ON else Severity.MINOR
            # A `type=registry` cache manifest no build writes is not fixed by metadata in the
            # build's own image: the finding says so, the team picks the export.
            unwritten = reference not in consumer.cache_from and key not in index.by_tag
            never_pushed = key not in ctx.pipeline.pushed and key not in index.by_tag
            for producer in _producers(ctx, reference, consumer, with_metadata):
                if never_pushed:
                    fix = _cache_from_pushed_fix(ctx, producer)
                else:
                    fix = None if unwritten else _fix(ctx, producer)
                yield (
                    producer,
                    build_finding(
                        ctx,
                        NAME,
                        severity,
                        producer,
                        _message(ctx, consumer, producer, reference),
                        impact=rebuild_impact(ctx, producer),
                        fix=fix,
                    ),
                )

    yield from once_per_line(found())
