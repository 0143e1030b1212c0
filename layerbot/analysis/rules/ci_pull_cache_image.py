"""The classic builder is given `--cache-from IMAGE`, but IMAGE is never pulled first.

## What it does
Flags a `docker build` that runs on the classic (pre-BuildKit) builder, because the job sets
`DOCKER_BUILDKIT=0` or uses a Docker image older than Engine 23 (`docker:20.10`,
`docker:19.03-dind`, ...) with no Docker-in-Docker service of Engine 23 or later (whose daemon
makes even an old CLI build with BuildKit), and names a `--cache-from` image that no earlier
`docker pull` of the job fetched. Not on a daemon that outlives the job (a shell runner's,
or another host's the job names in `DOCKER_HOST`; see `ci-cache-from`): its image store
still holds what the previous pipeline built. A
`--cache-from` of a tag made from this very commit, or beside `--no-cache`, reads nothing
however it is pulled: that is `ci-cache-from`'s. Nor is a build whose Dockerfile runs no
`RUN` step (see `ci-cache-from`).

## Why it matters
The classic builder only considers images that are already in the local image store as cache
sources. On a CI runner the store starts empty, so an image that was not pulled is ignored
without a warning and every layer is rebuilt, even though the pipeline looks as if it caches.
GitLab's Docker layer caching example pulls the image first for exactly this reason, with
`|| true` so the very first pipeline (when no image exists yet) does not fail.

## Example
```yaml
build:
  image: docker:20.10
  services: [docker:20.10-dind]
  script:
    - docker build --cache-from $CI_REGISTRY_IMAGE:latest -t $CI_REGISTRY_IMAGE:latest .
    - docker push $CI_REGISTRY_IMAGE:latest
```

## Use instead
```yaml
  script:
    - docker pull $CI_REGISTRY_IMAGE:latest || true
    - docker build --cache-from $CI_REGISTRY_IMAGE:latest -t $CI_REGISTRY_IMAGE:latest .
    - docker push $CI_REGISTRY_IMAGE:latest
```

## Fix safety
The fix inserts `docker pull IMAGE || true` (one per missing image, spelled as the build spells
it) just before the build: as a new script entry, or as a new line of a literal (`|`) block.
The build's result is the same and a missing image does not fail the job, so the fix is
**safe**. When the build is in the middle of a one-line command chain there is no fix.
BuildKit pulls cache sources itself, so BuildKit builds are `ci-inline-cache`'s concern.

## References
- GitLab docs, "Make Docker-in-Docker builds faster with Docker layer caching": "Any image
  that's used with the `--cache-from` argument must be pulled (using `docker pull`) before it
  can be used as a cache source."
- Docker docs, "docker build --cache-from" (legacy builder): images to consider as cache
  sources must be available locally.
- Docker docs, "Docker Engine 23.0 release notes": BuildKit replaced the classic builder as
  the default, so only older engines or `DOCKER_BUILDKIT=0` need the pull.
- docker/cli pull requests #1275 and #5178: a docker CLI since 18.09 builds with BuildKit when
  the daemon advertises it, which a Linux daemon of Docker v23.0 or later does.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis.ci_builds import Build, BuildKit, Tool, cache_references
from layerbot.analysis.ci_fixes import (
    build_finding,
    build_spot,
    combine,
    insert_before,
    jobs_named,
    nothing_to_cache,
    once_per_line,
    rebuild_impact,
)
from layerbot.analysis.gitlab_ci import PipelineContext
from layerbot.analysis.model import Finding, Fix, FixAvailability, Safety, Severity

NAME = "ci-pull-cache-image"
SEVERITY = Severity.MAJOR
TARGET = "gitlab-ci"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Pull the cache image before the build"


def check(ctx: PipelineContext) -> Iterator[Finding]:
    def found() -> Iterator[tuple[Build, Finding]]:
        for build in ctx.pipeline.builds:
            if build.tool is not Tool.DOCKER or build.buildkit is not BuildKit.OFF:
                continue
            if build.no_cache or ctx.pipeline.keeps_layer_cache(build):
                continue  # nothing read from any cache, or the daemon keeps the images itself
            if nothing_to_cache(ctx, build):
                continue  # its Dockerfile only copies files in: no cache would spare work
            written = build.written.values("--cache-from")
            resolved = build.resolved.values("--cache-from")
            sources = set(ctx.pipeline.build_index.cache_sources(build))
            missing = [
                (spelled, reference)
                for spelled, reference in zip(written, resolved, strict=True)
                if reference in sources
                and cache_references([reference])
                and not build.pulled_before(reference)
            ]
            if not missing:
                continue
            names = ", ".join(f"`{spelled}`" for spelled, _ in missing)
            message = (
                f"The build in {jobs_named(ctx, build)} uses the classic builder "
                f"({build.buildkit_reason}), which only uses cache images present locally, "
                f"but {names} {'is' if len(missing) == 1 else 'are'} never pulled: the cache is "
                "ignored and every layer is rebuilt."
            )
            spot = build_spot(ctx.pipeline, build)
            pulls = [
                insert_before(ctx.pipeline, build.step, spot, f"docker pull {spelled} || true")
                for spelled, _ in missing
                if spot is not None
            ]
            edits = [edit for edit in pulls if edit is not None]
            fix = None
            if edits and len(edits) == len(missing):
                fix = Fix(
                    description=f"Pull {names} before the build (`|| true`: the first "
                    "pipeline has none yet)",
                    safety=Safety.SAFE,
                    edits=combine(ctx.pipeline, edits),
                )
            impact = rebuild_impact(ctx, build)
            yield build, build_finding(ctx, NAME, SEVERITY, build, message, impact=impact, fix=fix)

    yield from once_per_line(found())
