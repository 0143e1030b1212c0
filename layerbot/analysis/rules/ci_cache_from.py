"""A CI job builds an image with no cache source, so every pipeline rebuilds every layer.

## What it does
Flags an image build in a `.gitlab-ci.yml` job script (`docker build`, `docker image build`,
`docker buildx build`, `buildah bud`/`build`, `docker compose build`, BuildKit's own
`buildctl build` and `buildctl-daemonless.sh build`) that has no cache source: no
`--cache-from` (nor `--cache-to`), for buildctl no `--import-cache` (an `--export-cache`
alone writes a cache that no build reads), for buildah no `--layers` (or
`BUILDAH_LAYERS=true`) with `--cache-from`, for compose no `cache_from:` in the compose file.
A cache source that holds nothing in practice counts as none: a `--cache-from` naming only a
tag made from this very commit (`:$CI_COMMIT_SHA`, `:$CI_PIPELINE_ID`...) that no earlier job
of the pipeline builds, or a `--cache-from` beside `--no-cache` (which turns every cache off).
A plain `--no-cache` build is a choice and is left alone; kaniko is `ci-kaniko-cache`'s. So is a
build whose Dockerfile (read through the repository) runs no `RUN` step, nor an `ADD` of a URL,
in the stages it builds: it only copies files in (a jar an earlier job built), which a layer
cache cannot spare, since a copy of changed files runs again whatever the cache holds.

Not a fresh runner, no finding: a job tagged for a shell runner (`tags: [shell]`) with no
`docker:dind` service and no `DOCKER_HOST` on TCP builds with the host's daemon, whose layer
cache outlives the job; so does a job with no `docker:dind` service that builds on a host of
its own (`DOCKER_HOST=ssh://deploy@build01`, a `tcp://` address other than the service names
`docker` and `localhost`, `docker -H ...`), and a daemon that a later job pushes or retags the
built image from without pulling it (`docker push` and `docker tag` never pull: the jobs share
one daemon, even where the file names a `docker:dind` service, which a runner that mounts the
host's socket leaves unused; not with `DOCKER_HOST` on TCP to the job's own service); a job
that `docker load`s, before the build, an archive its `cache:` keeps (the previous pipeline's
`docker save`) has that image's layers. A build that repeats an earlier build of its job
under another tag (the same Dockerfile, context, target, build arguments and platforms:
`docker build -t app:$CI_COMMIT_SHA .` then `docker build -t app:latest .`) finds every layer
in the job's daemon, made a moment before: only the first build is reported.

## Why it matters
A CI runner starts from a clean machine (a fresh Docker-in-Docker service every job), so the
layer cache a developer relies on locally is empty: every pipeline re-runs every step,
downloading dependencies and compiling from scratch. Pointing the build at the image the
previous pipeline pushed gives it that cache back; the design article this tool follows
reports builds two to three times faster.

On the classic builder an image is only a cache source once it has been pulled
(`docker pull $IMAGE || true`). BuildKit, the default builder since Docker Engine 23, pulls
what it needs itself but only uses an image that carries inline cache metadata, which the
build writes when given `--build-arg BUILDKIT_INLINE_CACHE=1`. The fix does both, as GitLab's
own example does, so it works on either builder.

BuildKit cache mounts (`RUN --mount=type=cache,...`) are no substitute on CI: they live in the
builder's local storage, which is new on every job, and `--cache-to` does not export them. The
message says so when the Dockerfile uses them.

## Example
```yaml
build:
  image: docker:24.0.5
  services: [docker:24.0.5-dind]
  script:
    - docker build --tag $CI_REGISTRY_IMAGE:latest .
    - docker push $CI_REGISTRY_IMAGE:latest
```

## Use instead
```yaml
build:
  image: docker:24.0.5
  services: [docker:24.0.5-dind]
  script:
    - docker build
      --cache-from $CI_REGISTRY_IMAGE:latest
      --build-arg BUILDKIT_INLINE_CACHE=1
      --tag $CI_REGISTRY_IMAGE:latest .
    - docker push $CI_REGISTRY_IMAGE:latest
```

## Fix safety
The fix edits the build's own script line: it adds `--cache-from IMAGE` and `--build-arg
BUILDKIT_INLINE_CACHE=1` after the build command, and, unless the job is known to run
BuildKit, a `docker pull IMAGE || true` entry before it. IMAGE is a stable tag the job already
pushes (`latest`, `$CI_COMMIT_REF_SLUG`, its own tag variable), spelled as the job spells it,
or one another job pushes for the same Dockerfile, or a tag the job pushes after a `docker tag`
of the built image (`docker build -t app:ci .`, `docker tag app:ci $CI_REGISTRY_IMAGE:main`,
`docker push $CI_REGISTRY_IMAGE:main`). A job that runs only in tag pipelines (`rules: - if:
$CI_COMMIT_TAG`, `only: [tags]`) never finds a tag named after the ref (`$CI_COMMIT_REF_SLUG`
is the new tag's name every time): such a `--cache-from` is no source, and the fix takes a tag
that does not depend on the ref (`latest` its retag pushes), else it tags and pushes
`IMAGE:buildcache` (**review**). When the job builds that tag again in a
repeat of the build, the repeat gets `--build-arg BUILDKIT_INLINE_CACHE=1` too, since the
image it makes is the one pushed. The built image is the same, so this is **safe**. When the
job only pushes a per-commit tag (`$CI_COMMIT_SHA`), no later pipeline would ever find it, so
the fix also tags and pushes `IMAGE:$CI_COMMIT_REF_SLUG`; that adds a tag to the registry and
is marked **review**. With `docker buildx build` the fix uses `--cache-to type=inline` (or a
registry cache with `mode=max` when the job creates a `docker-container` builder, which can
export one); for buildah it adds `--layers` with a `--cache-from`/`--cache-to` repository
(**review**: a new repository in the registry). For `buildctl build` that already exports a
registry cache the fix imports that same cache (**safe**: nothing new is written); otherwise,
when the build pushes its image (`--output type=image,...,push=true`), it adds
`--import-cache type=registry,ref=IMAGE:buildcache` and
`--export-cache type=registry,ref=IMAGE:buildcache,mode=max`, as GitLab's BuildKit page does
(**review**: a new tag in the registry). A build whose image is never pushed, and compose
builds, get the finding without a fix.

## References
- BuildKit README (https://github.com/moby/buildkit#readme), "Building a Dockerfile with
  `buildctl`": `--local context=DIR` is the build context and `--local dockerfile=DIR` the
  folder of the Dockerfile, `--opt filename=NAME` its name in that folder (default
  `Dockerfile`), `--opt target=STAGE` the stage, `--opt build-arg:NAME=VALUE` a build
  argument; "Output", "Image/Registry": `--output type=image,name=REF[,REF2],push=true`
  (the names quoted as one CSV field when several) pushes the image; "Cache", "Registry
  (push image and cache separately)": `--export-cache type=registry,ref=REF[,mode=max]` and
  `--import-cache type=registry,ref=REF`, "Inline (push image and cache together)":
  `--export-cache type=inline` with `--import-cache type=registry,ref=IMAGE`; "Daemonless":
  `buildctl-daemonless.sh` starts a buildkitd for the one command, so it starts with no cache.
- GitLab docs, "Build Docker images with BuildKit"
  (https://docs.gitlab.com/ci/docker/using_buildkit/): the rootless `buildctl-daemonless.sh
  build` job, with `--import-cache`/`--export-cache type=registry,ref=...` for caching.
- GitLab docs, "Use the shell executor"
  (https://docs.gitlab.com/ci/docker/using_docker_build/#use-the-shell-executor): the job
  runs `docker` against the host's daemon; and "Caching in GitLab CI/CD"
  (https://docs.gitlab.com/ci/caching/): `cache: paths:` are restored at the next job's start.
- Docker docs, "Protect the Docker daemon socket" and "docker (base command)": `DOCKER_HOST`
  or `-H`/`--host` points the CLI at another daemon (`ssh://user@host`, `tcp://host:2376`),
  which builds with its own image store and build cache; GitLab docs, "Use Docker-in-Docker":
  the job reaches the `docker:dind` service as `tcp://docker:2376` (`localhost` on
  Kubernetes runners).
- Docker docs, "docker image save" and "docker image load": an image saved to a tar archive
  and loaded again keeps its layers; "docker image push" and "docker image tag": both act on
  an image the daemon already holds.
- Docker docs, "docker buildx build", `--no-cache`: do not use cache when building the image.
- GitLab docs, "Predefined CI/CD variables"
  (https://docs.gitlab.com/ci/variables/predefined_variables/): `CI_COMMIT_SHA` is the
  revision the pipeline builds, so an image tagged with it does not exist before this pipeline
  pushes it.
  `CI_COMMIT_TAG` is set only in tag pipelines, and `CI_COMMIT_REF_NAME`/`CI_COMMIT_REF_SLUG`
  there are the tag's name: a new name each release.
- GitLab docs, "CI/CD YAML syntax reference", `rules` (https://docs.gitlab.com/ci/yaml/#rules):
  the first matching rule adds the job unless its `when` is `never`, and a job no rule matches
  is not added; `only`/`except` (https://docs.gitlab.com/ci/yaml/#only--except): `tags` and
  `branches` select tag and branch pipelines, `/regex/` matches ref names.
- GitLab docs, "Make Docker-in-Docker builds faster with Docker layer caching": pull the
  previous image with `docker pull ... || true`, build with `--cache-from` and
  `--build-arg BUILDKIT_INLINE_CACHE=1`, push it again; the registry-cache variant uses
  `docker buildx build --cache-to type=registry,ref=...,mode=max`.
- Docker docs, "Docker Engine 23.0 release notes": BuildKit is the default builder on Linux.
- Docker docs, "Inline cache": the image only carries cache metadata when built with
  `--cache-to type=inline` or `BUILDKIT_INLINE_CACHE=1`.
- Docker docs, "Cache storage backends": the default `docker` driver cannot export registry
  caches; a `docker-container` builder can.
- Buildah docs, "buildah-build(1)": `--cache-from`/`--cache-to` take a repository and are
  ignored unless `--layers` is given; with no context directory the build uses the current
  working directory.
- Docker docs, "Docker build cache" ("How the build cache works"): `COPY` and `ADD` are cached
  by the checksums of the files they copy, so a copy of files that changed (a jar built in an
  earlier job) runs again whatever the cache holds; only `RUN` steps do work a cache spares.
- Docker docs, "Docker build cache": a builder reuses the result of each instruction from
  its earlier builds while the instruction and the files it uses are unchanged; a second
  build of the same Dockerfile and context on the same daemon re-runs nothing.
- Docker docs, "Optimize cache usage in builds: use cache mounts": cache mounts are local to
  the builder and are not included in the exported build cache.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis.ci_builds import (
    Build,
    BuildKit,
    Tool,
    cache_references,
)
from layerbot.analysis.ci_fixes import (
    PUSH_PATTERN,
    add_flags,
    build_finding,
    build_spot,
    combine,
    dockerfile_of,
    image_repository,
    insert_after,
    insert_before,
    jobs_named,
    locate,
    nothing_to_cache,
    once_per_line,
    rebuild_impact,
    spelled_image,
    stable_pushed_tag,
)
from layerbot.analysis.gitlab_ci import PipelineContext
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity

NAME = "ci-cache-from"
SEVERITY = Severity.MAJOR
TARGET = "gitlab-ci"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Build with the previous pipeline's image as cache source"

INLINE_CACHE_ARG = "--build-arg BUILDKIT_INLINE_CACHE=1"
BRANCH_TAG = "$CI_COMMIT_REF_SLUG"
CACHE_TAG = "buildcache"


def has_cache_source(ctx: PipelineContext, build: Build) -> bool:
    flags = build.resolved
    if build.tool is Tool.BUILDAH:
        return _buildah_layers(build) and bool(flags.values("--cache-from"))
    if build.tool is Tool.COMPOSE:
        return any("cache_from" in (ctx.repo.read(name) or "") for name in _compose_files(build))
    if build.no_cache:
        return False
    if build.cache_from:
        return bool(ctx.pipeline.build_index.cache_sources(build))
    # buildctl reads no cache it exports unless told to (`--import-cache`)
    return bool(build.cache_to) and build.tool is not Tool.BUILDCTL


def _buildah_layers(build: Build) -> bool:
    """``--layers``, or the ``BUILDAH_LAYERS`` variable that turns it on by default."""
    setting = build.variables.get("BUILDAH_LAYERS", "").lower()
    return build.resolved.on("--layers") or setting in ("true", "1")


def _compose_files(build: Build) -> list[str]:
    named = [
        build.step.resolved[i + 1]
        for i, word in enumerate(build.step.resolved[:-1])
        if word in ("-f", "--file")
    ]
    return named or ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"]


def _uses_cache_mounts(ctx: PipelineContext, build: Build) -> bool:
    doc = dockerfile_of(ctx, build)
    return doc is not None and any(
        "type=cache" in mount
        for instruction in doc.instructions
        for mount in instruction.flag_values("mount")
    )


def _message(ctx: PipelineContext, build: Build) -> str:
    tool = f"`{build.tool.value}`"
    jobs = jobs_named(ctx, build)
    if build.no_cache:
        return (
            f"{tool} in {jobs} has `--cache-from` but also `--no-cache`, which turns the layer "
            "cache off: the cache image is never read, so every pipeline re-runs every step of "
            "the Dockerfile."
        )
    if build.cache_from and build.tool in (Tool.DOCKER, Tool.BUILDX):
        named = ", ".join(f"`{value}`" for value in build.written.values("--cache-from"))
        made = (
            "a tag named after the pipeline's ref, in a job that runs only in tag pipelines, "
            "where each pipeline's ref is a new tag"
            if build.job.tag_pipelines_only
            else "a tag made from this very commit"
        )
        return (
            f"{tool} in {jobs} caches only from {named}, {made}: no "
            "earlier pipeline pushed it, so the build has no cache source in practice and every "
            "pipeline re-runs every step of the Dockerfile."
        )
    return (
        f"{tool} in {jobs} has no cache source: CI runners start with an "
        "empty layer cache, so every pipeline re-runs every step of the Dockerfile."
    )


def _docker_fix(ctx: PipelineContext, build: Build) -> Fix | None:
    spot = build_spot(ctx.pipeline, build)
    if spot is None:
        return None
    chosen = stable_pushed_tag(ctx, build)
    inline = "" if INLINE_CACHE_ARG in " ".join(build.step.command.argv) else f" {INLINE_CACHE_ARG}"
    edits: list[Edit] = []
    safety = Safety.SAFE
    if chosen is not None:
        image = chosen[0]
        edits.append(add_flags(ctx.pipeline, spot, f"--cache-from {image}{inline}"))
        for repeat in _repeats_tagging(ctx, build, chosen[1]):
            # the job builds the cache image a second time: that is the image pushed, so it
            # is the one that must carry the metadata
            repeat_spot = build_spot(ctx.pipeline, repeat)
            if repeat_spot is None:
                return None
            edits.append(add_flags(ctx.pipeline, repeat_spot, INLINE_CACHE_ARG))
    else:
        per_commit = next(((w, r) for w, r in build.tags if build.pushed(r)), None)
        if per_commit is None:
            return None
        written, resolved = per_commit
        base = parse_image(spelled_image(written, resolved)).name
        # a job of tag pipelines only has a new ref every pipeline: a fixed cache tag instead
        image = f"{base}:{CACHE_TAG if build.job.tag_pipelines_only else BRANCH_TAG}"
        pushed_by = build.push_after(resolved)
        push_spot = pushed_by and locate(ctx.pipeline, pushed_by, build.steps, PUSH_PATTERN)
        if pushed_by is None or not push_spot:
            return None
        push = insert_after(ctx.pipeline, pushed_by, push_spot, f"docker push {image}")
        if push is None:
            return None
        edits += [
            add_flags(ctx.pipeline, spot, f"--cache-from {image}{inline} --tag {image}"),
            push,
        ]
        safety = Safety.REVIEW
    if build.buildkit is not BuildKit.ON and not build.pulled_before(image):
        pull = insert_before(ctx.pipeline, build.step, spot, f"docker pull {image} || true")
        if pull is None:
            return None
        edits.append(pull)
    reuse = (
        f"Cache from `{image}`, the image the previous pipeline pushed,"
        if safety is Safety.SAFE
        else f"Also tag and push `{image}` (a tag the next pipeline finds) and cache from it,"
    )
    return Fix(
        description=f"{reuse} with inline cache metadata so BuildKit can use it too",
        safety=safety,
        edits=combine(ctx.pipeline, edits),
    )


def _repeats_tagging(ctx: PipelineContext, build: Build, resolved: str) -> list[Build]:
    """Later builds of the job that repeat ``build`` and tag ``resolved`` without writing inline
    cache metadata."""
    key = parse_image(resolved).key
    return [
        repeat
        for repeat in ctx.pipeline.repeats_of(build)
        if not repeat.inline_cache and any(parse_image(r).key == key for _, r in repeat.tags)
    ]


def _buildx_fix(ctx: PipelineContext, build: Build) -> Fix | None:
    spot = build_spot(ctx.pipeline, build)
    if spot is None:
        return None
    if build.after_container_builder:
        base = image_repository(build)
        cache = f"{base}:buildcache"
        flags = (
            f"--cache-from type=registry,ref={cache} --cache-to type=registry,ref={cache},mode=max"
        )
        return Fix(
            description=f"Keep a registry cache of every stage in `{cache}` (mode=max)",
            safety=Safety.REVIEW,
            edits=(add_flags(ctx.pipeline, spot, flags),),
        )
    chosen = stable_pushed_tag(ctx, build)
    if chosen is None:
        return None
    return Fix(
        description=f"Cache from `{chosen[0]}` and write inline cache metadata into it",
        safety=Safety.SAFE,
        edits=(add_flags(ctx.pipeline, spot, f"--cache-from {chosen[0]} --cache-to type=inline"),),
    )


def _buildah_fix(ctx: PipelineContext, build: Build) -> Fix | None:
    spot = build_spot(ctx.pipeline, build)
    if spot is None:
        return None
    base = image_repository(build)
    cache = f"{base}/cache"
    wanted = []
    if not _buildah_layers(build):
        wanted.append("--layers")
    if not build.resolved.values("--cache-from"):
        wanted.append(f"--cache-from {cache}")
    if not build.resolved.values("--cache-to"):
        wanted.append(f"--cache-to {cache}")
    return Fix(
        description=f"Reuse layers through the `{cache}` repository (`--layers` turns it on)",
        safety=Safety.REVIEW,
        edits=(add_flags(ctx.pipeline, spot, " ".join(wanted)),),
    )


def _buildctl_fix(ctx: PipelineContext, build: Build) -> Fix | None:
    """Read back the registry cache the build exports; or, for a build that pushes its image,
    import and export a registry cache of every stage beside it."""
    spot = build_spot(ctx.pipeline, build)
    if spot is None:
        return None
    exported = cache_references(build.written.values("--export-cache"))
    if exported:
        cache = exported[0]
        return Fix(
            description=f"Import the registry cache `{cache}` the build already exports",
            safety=Safety.SAFE,
            edits=(add_flags(ctx.pipeline, spot, f"--import-cache type=registry,ref={cache}"),),
        )
    if not build.pushes_itself:
        return None
    cache = f"{image_repository(build)}:buildcache"
    flags = (
        f"--import-cache type=registry,ref={cache} "
        f"--export-cache type=registry,ref={cache},mode=max"
    )
    return Fix(
        description=f"Import and export a registry cache of every stage in `{cache}` (mode=max)",
        safety=Safety.REVIEW,
        edits=(add_flags(ctx.pipeline, spot, flags),),
    )


FIXERS = {
    Tool.DOCKER: _docker_fix,
    Tool.BUILDX: _buildx_fix,
    Tool.BUILDAH: _buildah_fix,
    Tool.BUILDCTL: _buildctl_fix,
}


def check(ctx: PipelineContext) -> Iterator[Finding]:
    def found() -> Iterator[tuple[Build, Finding]]:
        for build in ctx.pipeline.builds:
            if build.tool is Tool.KANIKO or (build.no_cache and not build.cache_from):
                continue  # kaniko is ci-kaniko-cache's; a plain --no-cache build is a choice
            if ctx.pipeline.keeps_layer_cache(build) or build.loads_cached_image:
                continue  # not a fresh runner, or the previous image loaded from the job cache
            if ctx.pipeline.repeats_earlier_build(build):
                continue  # the job's first build of it made every layer this one needs
            if has_cache_source(ctx, build) or nothing_to_cache(ctx, build):
                continue  # cached, or nothing a cache would spare
            fixer = None if build.no_cache else FIXERS.get(build.tool)
            fix = fixer(ctx, build) if fixer else None
            message = _message(ctx, build)
            if build.tool is Tool.BUILDAH and build.resolved.values("--cache-from"):
                message += " Buildah ignores `--cache-from` without `--layers`."
            if build.tool is Tool.COMPOSE:
                message += " Add `cache_from:` to the services in the compose file."
            if _uses_cache_mounts(ctx, build):
                message += (
                    " The Dockerfile's `RUN --mount=type=cache` mounts do not help here: they "
                    "stay in the runner's builder, which is new every job, and `--cache-to` "
                    "does not export them."
                )
            impact = rebuild_impact(ctx, build)
            yield build, build_finding(ctx, NAME, SEVERITY, build, message, impact=impact, fix=fix)

    yield from once_per_line(found())
