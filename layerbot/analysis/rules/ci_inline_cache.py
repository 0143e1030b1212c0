"""`--cache-from` under BuildKit names an image that was built without inline cache metadata.

## What it does
Flags a CI build that writes an image another build (or the same one, next pipeline) uses as
`--cache-from`, under BuildKit, when that image is built without
`--build-arg BUILDKIT_INLINE_CACHE=1` and without any `--cache-to` export. The finding sits on
the build that produces the image, because that is where the fix goes.

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
image (for `docker buildx build`, `--cache-to type=inline`). The image's contents do not
change, only its cache metadata, so the fix is **safe**. The severity is `major` when the job
is known to run BuildKit (`DOCKER_BUILDKIT=1`, a `docker:23` or later image, buildx) and
`minor` when the job does not say which Docker runs it. With the classic builder
(`DOCKER_BUILDKIT=0`, `docker:20.10`) nothing is reported: it needs a pulled image instead
(`ci-pull-cache-image`). Inline cache only holds the final stage's layers (`mode=min`); for
the builder stages of a multi-stage build see `ci-cache-builder-stage`.

## References
- Docker docs, "Docker Engine 23.0 release notes": BuildKit is the default builder on Linux.
- Docker docs, "Inline cache": export with `--cache-to type=inline` or the build argument
  `BUILDKIT_INLINE_CACHE=1`; import with `--cache-from`.
- Docker docs, "Cache storage backends": inline cache supports `mode=min` only.
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
    jobs_named,
    once_per_line,
    rebuild_impact,
)
from layerbot.analysis.gitlab_ci import PipelineContext
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.model import Finding, Fix, FixAvailability, Safety, Severity

NAME = "ci-inline-cache"
SEVERITY = Severity.MAJOR
TARGET = "gitlab-ci"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Write inline cache metadata into the pushed image"


def _fix(ctx: PipelineContext, producer: Build) -> Fix | None:
    spot = build_spot(ctx.pipeline, producer)
    if spot is None:
        return None
    flag = (
        "--cache-to type=inline"
        if producer.tool is Tool.BUILDX
        else "--build-arg BUILDKIT_INLINE_CACHE=1"
    )
    return Fix(
        description=f"Write inline cache metadata into the image (`{flag}`)",
        safety=Safety.SAFE,
        edits=(add_flags(ctx.pipeline, spot, flag),),
    )


def _message(ctx: PipelineContext, consumer: Build, producer: Build, reference: str) -> str:
    known = consumer.buildkit is BuildKit.ON
    where = (
        f"BuildKit ({consumer.buildkit_reason})"
        if known
        else "BuildKit, the default since Docker Engine 23 (this job does not say which Docker "
        "it runs)"
    )
    return (
        f"`{reference}` is the `--cache-from` of {jobs_named(ctx, consumer)}, but "
        f"{jobs_named(ctx, producer)} build it without inline cache metadata "
        f"(`BUILDKIT_INLINE_CACHE=1`): under {where} the cache is never used and every layer "
        "is rebuilt."
    )


def check(ctx: PipelineContext) -> Iterator[Finding]:
    index = ctx.pipeline.build_index
    # Per cache image, the consumer that makes it matter most (known BuildKit first).
    consumers: dict[str, tuple[Build, str]] = {}
    for consumer in ctx.pipeline.builds:
        if consumer.tool not in (Tool.DOCKER, Tool.BUILDX) or consumer.buildkit is BuildKit.OFF:
            continue
        for reference in cache_references(consumer.cache_from):
            key = parse_image(reference).key
            if key in index.exports:
                continue
            known = consumers.get(key)
            if known is None or (
                consumer.buildkit is BuildKit.ON and known[0].buildkit is not BuildKit.ON
            ):
                consumers[key] = (consumer, reference)

    def found() -> Iterator[Finding]:
        ranked = sorted(consumers.items(), key=lambda item: item[1][0].buildkit is not BuildKit.ON)
        for key, (consumer, reference) in ranked:
            severity = Severity.MAJOR if consumer.buildkit is BuildKit.ON else Severity.MINOR
            for producer in index.by_tag.get(key, []):
                if producer.tool not in (Tool.DOCKER, Tool.BUILDX) or producer.inline_cache:
                    continue
                yield build_finding(
                    ctx,
                    NAME,
                    severity,
                    producer,
                    _message(ctx, consumer, producer, reference),
                    impact=rebuild_impact(ctx, producer),
                    fix=_fix(ctx, producer),
                )

    yield from once_per_line(found())
