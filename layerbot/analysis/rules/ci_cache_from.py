"""A CI job builds an image with no cache source, so every pipeline rebuilds every layer.

## What it does
Flags an image build in a `.gitlab-ci.yml` job script (`docker build`, `docker image build`,
`docker buildx build`, `buildah bud`/`build`, `docker compose build`, BuildKit's own
`buildctl build` and `buildctl-daemonless.sh build`) that has no cache source: no
`--cache-from`, for buildctl no `--import-cache` (a `--cache-to` or an `--export-cache`
alone writes a cache that no build reads: the message says so), for buildah no `--layers` (or
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
in the job's daemon, made a moment before: only the first build is reported. A template's
build line that several jobs run is reported once, naming the jobs; when they build different
Dockerfiles (`services/$SERVICE`), the impact says how many Dockerfiles in how many jobs, its
step count being the first job's.

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
the fix also tags and pushes `IMAGE:cache-$CI_COMMIT_REF_SLUG` and caches from it; that adds
a tag to the registry and is marked **review**. A per-commit tag pushed after a `docker tag`
of the built image, or by a `docker push --all-tags` of its repository (which pushes the new
tag with no new command), is handled alike. The added tag is
`IMAGE:cache-$CI_COMMIT_REF_SLUG`, a tag of the branch's own that holds only the cache: no
other branch writes it, and no tag a deploy or release job reads (`:main`,
`:$CI_COMMIT_REF_SLUG`) is overwritten by an image no test has passed yet. With
`docker buildx build` the fix uses `--cache-to type=inline` (or a registry cache with
`mode=max` when the job creates a `docker-container` builder, which can export one); a buildx
build that pushes only per-commit tags (`--push -t IMAGE:$CI_COMMIT_SHA`) also gets
`--tag IMAGE:cache-$CI_COMMIT_REF_SLUG`, which `--push` sends with the others (**review**). A
build that exports a cache it never imports (`--cache-to type=registry,ref=R`, buildctl's
`--export-cache`) gets the import of that same ref (`--cache-from type=registry,ref=R`,
`--import-cache type=registry,ref=R`); an inline export (`--cache-to type=inline`) gets
`--cache-from` of the stable tag the job pushes: **safe**, nothing new is written. For
buildah it adds `--layers` with a `--cache-from`/`--cache-to` repository
(**review**: a new repository in the registry). For `buildctl build` that exports no cache,
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
- Docker docs, "docker buildx build", `--no-cache`: do not use cache when building the image;
  `--cache-to`: "Export build cache to an external cache destination", `--cache-from`:
  "External cache sources" (https://docs.docker.com/reference/cli/docker/buildx/build/): an
  export alone is read by no build; `--push` is shorthand for `--output=type=registry`, which
  pushes the image under every `--tag`.
- Docker docs, "Cache storage backends" (https://docs.docker.com/build/cache/backends/):
  a cache is written with `--cache-to` and used with `--cache-from` of the same location
  ("Command syntax"); BuildKit README "Export cache": `--export-cache` and `--import-cache`
  are separate, and a build imports only what `--import-cache` names.
- Docker docs, "docker image push", `--all-tags`: push every tag of the named repository.
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
    cache_options,
    cache_references,
    is_stable,
)
from layerbot.analysis.ci_fixes import (
    PUSH_PATTERN,
    Spot,
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
BRANCH_CACHE_TAG = "cache-$CI_COMMIT_REF_SLUG"
_IMPORT_FLAG = {Tool.BUILDCTL: "--import-cache"}
CACHE_TAG = "buildcache"


def has_cache_source(ctx: PipelineContext, build: Build) -> bool:
    flags = build.resolved
    if build.tool is Tool.BUILDAH:
        return _buildah_layers(build) and bool(flags.values("--cache-from"))
    if build.tool is Tool.COMPOSE:
        return any("cache_from" in (ctx.repo.read(name) or "") for name in _compose_files(build))
    if build.no_cache:
        return False
    # `--cache-to` (buildctl's `--export-cache`) only writes a cache: a build reads none it is
    # not told to import (`--cache-from`, `--import-cache`)
    return bool(ctx.pipeline.build_index.cache_sources(build))


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
    if build.cache_to and not build.cache_from:
        flag = "--export-cache" if build.tool is Tool.BUILDCTL else "--cache-to"
        exported = ", ".join(f"`{flag} {value}`" for value in build.written.values(flag))
        return (
            f"{tool} in {jobs} exports a cache ({exported}) but imports none: "
            f"`{flag}` only writes the cache, and no build reads it without "
            f"`{_IMPORT_FLAG.get(build.tool, '--cache-from')}`, so every pipeline re-runs "
            "every step of the Dockerfile."
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
    pushed = _pushed_tags(build)
    named = ", ".join(
        f"`{written}`" if written == resolved else f"`{written}` (`{resolved}`)"
        for written, resolved in pushed
    )
    # a template's line may push a stable tag in another job: said only of a job's own line
    alone = len(ctx.pipeline.build_index.jobs_running(build).names) == 1
    only = (
        f" It pushes only {named}, a tag of this pipeline alone: no later pipeline finds it "
        "to cache from."
        if pushed and alone and not any(is_stable(r, build.job) for _, r in pushed)
        else ""
    )
    return (
        f"{tool} in {jobs} has no cache source: CI runners start with an "
        f"empty layer cache, so every pipeline re-runs every step of the Dockerfile.{only}"
    )


def _pushed_tags(build: Build) -> list[tuple[str, str]]:
    """``(as written, resolved)`` of each image name the build's image reaches the registry
    under: its own tags pushed (by itself, a ``docker push``, a ``docker push --all-tags``),
    then the targets of a ``docker tag`` of it that a later ``docker push`` sends."""
    return [(w, r) for w, r in build.tags if build.pushed(r)] + build.retagged


def _branch_cache(
    ctx: PipelineContext, build: Build, spot: Spot, flags: str
) -> tuple[str, list[Edit]] | None:
    """For a build that pushes only per-commit tags: ``IMAGE:cache-$CI_COMMIT_REF_SLUG`` beside
    the pushed image (``IMAGE:buildcache`` in a job of tag pipelines only, whose ref is a new
    tag each time), tagged by the build with ``flags`` (the cache source and metadata) and
    pushed where the job pushes. A tag of its own, so no other branch's image, nor a tag a
    deploy job reads (``:main``), is overwritten."""
    pushed = _pushed_tags(build)
    if not pushed:
        return None
    written, resolved = pushed[0]
    base = parse_image(spelled_image(written, resolved)).name
    image = f"{base}:{CACHE_TAG if build.job.tag_pipelines_only else BRANCH_CACHE_TAG}"
    edits = [add_flags(ctx.pipeline, spot, f"{flags.format(image=image)} --tag {image}")]
    if build.pushes_itself and any(r == resolved for _, r in build.tags):
        return image, edits  # `--push` pushes every `--tag`
    pushed_by = build.push_after(resolved)
    if pushed_by is None:
        every = build.scan.pushes_every_tag.get(parse_image(resolved).canonical_name, [])
        if any(index > build.step.index for index in every):
            return image, edits  # `docker push --all-tags` pushes the new tag too
        return None
    push_spot = locate(ctx.pipeline, pushed_by, build.steps, PUSH_PATTERN)
    push = push_spot and insert_after(ctx.pipeline, pushed_by, push_spot, f"docker push {image}")
    if not push:
        return None
    return image, [*edits, push]


def _import_exported(ctx: PipelineContext, build: Build, spot: Spot) -> Fix | None:
    """For a build that exports a cache and imports none: import that same cache (a registry
    cache's ref; for an inline export, a stable tag the job pushes). Nothing new is written."""
    flag = "--export-cache" if build.tool is Tool.BUILDCTL else "--cache-to"
    importing = _IMPORT_FLAG.get(build.tool, "--cache-from")
    exported = cache_references(build.written.values(flag))
    if exported:
        cache = exported[0]
        return Fix(
            description=f"Import the registry cache `{cache}` the build already exports",
            safety=Safety.SAFE,
            edits=(add_flags(ctx.pipeline, spot, f"{importing} type=registry,ref={cache}"),),
        )
    inline = any(cache_options(value)["type"] == "inline" for value in build.cache_to)
    chosen = stable_pushed_tag(ctx, build) if inline else None
    if chosen is None:
        return None
    reference = f"type=registry,ref={chosen[0]}" if build.tool is Tool.BUILDCTL else chosen[0]
    return Fix(
        description=f"Cache from `{chosen[0]}`, the image the previous pipeline pushed with the "
        "inline cache this build already writes",
        safety=Safety.SAFE,
        edits=(add_flags(ctx.pipeline, spot, f"{importing} {reference}"),),
    )


def _docker_fix(ctx: PipelineContext, build: Build) -> Fix | None:
    spot = build_spot(ctx.pipeline, build)
    if spot is None:
        return None
    if build.cache_to:
        return _import_exported(ctx, build, spot)
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
        branch_cache = _branch_cache(ctx, build, spot, "--cache-from {image}" + inline)
        if branch_cache is None:
            return None
        image, added = branch_cache
        edits += added
        safety = Safety.REVIEW
    if build.buildkit is not BuildKit.ON and not build.pulled_before(image):
        pull = insert_before(ctx.pipeline, build.step, spot, f"docker pull {image} || true")
        if pull is None:
            return None
        edits.append(pull)
    reuse = (
        f"Cache from `{image}`, the image the previous pipeline pushed,"
        if safety is Safety.SAFE
        else f"Also tag and push `{image}` ({_cache_tag_kind(build)}) and cache from it,"
    )
    return Fix(
        description=f"{reuse} with inline cache metadata so BuildKit can use it too",
        safety=safety,
        edits=combine(ctx.pipeline, edits),
    )


def _cache_tag_kind(build: Build) -> str:
    if build.job.tag_pipelines_only:
        return "a cache tag every tag pipeline finds"
    return "a cache tag of this branch, which the next pipeline finds and no other branch writes"


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
    if build.cache_to:
        return _import_exported(ctx, build, spot)
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
        branch_cache = _branch_cache(
            ctx, build, spot, "--cache-from {image} --cache-to type=inline"
        )
        if branch_cache is None:
            return None
        image, edits = branch_cache
        return Fix(
            description=f"Also tag and push `{image}` ({_cache_tag_kind(build)}) with inline "
            "cache metadata, and cache from it",
            safety=Safety.REVIEW,
            edits=combine(ctx.pipeline, edits),
        )
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
    if build.cache_to:
        return _import_exported(ctx, build, spot)
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
