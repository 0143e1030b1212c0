"""Dependency downloads without a BuildKit cache mount.

## What it does
Flags a `RUN` that downloads dependencies (`go mod download`/`go build`, `npm ci`, `yarn`,
`pnpm install`, `pip install -r`, `poetry`/`uv`/`pdm`/`pipenv` installs, `mvn`, `gradle`,
`cargo build`/`cargo fetch`, `bundle install`, `composer install`, `dotnet restore`, `stack
build`, `sbt update`/`sbt compile`, `dart pub get`, `swift package resolve`/`swift build`,
`shards install`) without a `--mount=type=cache` on the package manager's download cache.
Severity `info`: advice that is fine to ignore.

Package managers with no download cache apart from what the build or the application reads
later raise nothing: renv (its cache is linked into the project library), Cabal (the index a
separate `cabal update` wrote would be hidden), Julia's depot, opam's root, Nimble's package
folder and Conan's cache hold what the build links against or the application loads.

It stays quiet when the install disables or deletes its own cache (`pip --no-cache-dir`,
`PIP_NO_CACHE_DIR`, `uv --no-cache`, `npm cache clean`, `yarn cache clean`, `composer clear-
cache`, or an `rm` of the folder a `--cache-dir`/`--cache-folder` moved it to, in the same
`RUN`): that is the image-size advice of `package-cache`, and a cache mount would be emptied by
it. Conversely, once the mount is there, `package-cache` does not ask for `--no-cache-dir`
either: the cache lives in the mount, not in the layer. A tool asked about itself (`yarn
--version`) downloads nothing and raises nothing.

## Why it matters
When the dependency layer is invalidated (a manifest changed, or the install sits after
`COPY . .`), the step starts from an empty cache and downloads every package again. A cache
mount keeps the package manager's download cache on the builder between builds, outside the
image, so a re-run fetches only what changed, and the image does not carry the cache.

Cache mounts live in the builder. They are **not** exported by `--cache-to`/`--cache-from`
(registry, inline or `type=gha` caches hold layers, not mounts), so they help local builds and
persistent CI builders (a long-lived BuildKit daemon or docker host), not ephemeral CI
runners that start from an empty builder each time. They need BuildKit, the default builder
since Docker Engine 23.0; the legacy builder and kaniko reject or ignore `RUN --mount`.

## Example
```dockerfile
FROM node:20
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
```

## Use instead
```dockerfile
FROM node:20
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
```

## Fix safety
The fix adds `--mount=type=cache,target=…` after `RUN` for the default cache folders of the
official images when the build runs as root: Go `/go/pkg/mod` and `/root/.cache/go-build`; npm
`/root/.npm`; Yarn 1 `/usr/local/share/.cache/yarn` (not Yarn 2+'s global cache, which
Plug'n'Play reads at run time); pnpm `/root/.local/share/pnpm/store`; pip `/root/.cache/pip`;
Poetry `/root/.cache/pypoetry/cache` and `/root/.cache/pypoetry/artifacts` (not the whole
folder: its `virtualenvs` must stay in the image); uv `/root/.cache/uv` (also for `uv pip`);
PDM `/root/.cache/pdm`; Pipenv `/root/.cache/pipenv`; Maven `/root/.m2`; Gradle
`/root/.gradle/caches` (`/home/gradle/.gradle/caches` in the `gradle` image); Cargo
`/usr/local/cargo/registry` and `/usr/local/cargo/git`; Bundler `/usr/local/bundle/cache`;
Composer `/root/.composer/cache` (`/tmp/cache` in the `composer` image); NuGet
`/root/.nuget/packages`; Stack `/root/.stack` (the Stack root); sbt's Coursier cache
`/root/.cache/coursier`; Dart pub `/root/.pub-cache`; SwiftPM `/root/.cache/org.swift.swiftpm`;
cpanm and Carton `/root/.cpanm`; Deno `/deno-dir` (the `DENO_DIR` of the denoland/deno images).
`python setup.py install` is not flagged: setuptools downloads `install_requires` itself, past
pip's cache. Nor is an install that never uses the network (`bundle install --local`, `npm ci
--offline`, `yarn install --offline`, `pnpm install --offline`, `pip install --no-index` with
local `--find-links`, `uv sync --offline`, `uv pip install --offline`): it installs from local
files, vendor/cache or what is cached or installed already, so a download cache mount would hold
nothing.
Where the cache folder is also the store later steps read (Go, Maven, Gradle, Cargo, NuGet),
the mount is added to every `RUN` of the stage that uses it, so one fix may edit several
`RUN`s; and when the image starts with that tool (`CMD ["go", "run", "."]`, `mvn
spring-boot:run`) the store must ship, so there is no finding. It is marked **review**:
builders without BuildKit fail on the flag, and the cache no longer ends up in the image
(usually the point). Without a fix: when a non-root `USER` runs the install (the stage's or
the image's own: `mambaorg/micromamba`, the Jupyter images), since a cache mount belongs to
root unless told otherwise, or the stage relocates the cache through an environment variable
(`GOMODCACHE`, `PIP_CACHE_DIR`, `CARGO_HOME`…), since the folder is then not known.

The edit replaces the whole `RUN` (only its first line changes), so it never lands in the
same pass as another fix to that `RUN` (such as `package-cache` adding `--no-cache-dir`).

## References
- Docker docs, "Optimize cache usage in builds: Use cache mounts" (examples for apt, Go, npm,
  pip, Bundler, Cargo, NuGet and Composer cache folders).
- Docker docs, "Dockerfile reference: RUN --mount=type=cache" (`uid`, `gid`: the owner of the
  cache directory, root by default).
- micromamba-docker README (the image runs as `mambauser`, packages under `/opt/conda`);
  Jupyter Docker Stacks docs (the images run as `jovyan`).
- Stack docs, "Stack root" (`~/.stack`: the package index, downloaded packages and built
  snapshot packages): <https://docs.haskellstack.org/en/stable/topics/stack_root/>
- Coursier docs, "Cache" (`~/.cache/coursier/v1` on Linux, used by sbt 1.3+):
  <https://get-coursier.io/docs/cache>; Dart docs, "pub get" (the system cache,
  `~/.pub-cache` or `PUB_CACHE`): <https://dart.dev/tools/pub/cmd/pub-get>
- PDM docs, "Configuration" (`cache_dir`, by default the platform's user cache folder,
  `~/.cache/pdm` on Linux): <https://pdm-project.org/latest/reference/configuration/>
- Offline installs: Bundler docs, "bundle install" (`--local`: no connection to the gem
  server, gems from the RubyGems cache or vendor/cache); npm docs, "config" (`offline`); Yarn 1
  docs, "yarn install" (`--offline`); pnpm docs, "pnpm install" (`--offline`: only packages
  already in the store); pip docs, "pip install" (`--no-index`: only the `--find-links`
  locations); uv docs, "CLI reference" (`--offline`).
- Docker docs, "Cache storage backends": cache mounts are not part of exported build cache.
- Docker docs, "BuildKit": the default builder since Docker Engine 23.0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from layerbot.analysis import ecosystems, layer_cache, package_caches, runs, toolchains
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction, Stage
from layerbot.analysis.ecosystems import DependencyStep, Ecosystem
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity

NAME = "cache-mount"
SEVERITY = Severity.INFO
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Add a BuildKit cache mount on the dependency cache"

_RUN_KEYWORD = re.compile(r"^(\s*RUN)(\s+)", re.IGNORECASE)
# Caches the package-cache rule wants deleted; a RUN that deletes one chose image size.
_CLEANED_CACHES = {"pip": "pip", "npm": "npm", "yarn": "yarn", "composer": "composer"}
_DISABLING_FLAGS = {
    "pip": ("--no-cache-dir", "--no-cache"),
    "uv": ("--no-cache",),
    "poetry": ("--no-cache",),
}
# Programs that read the dependency store at start-up only through these subcommands.
_RUN_SUBCOMMAND_NEEDED = {"go", "cargo", "dotnet"}
_ROOT_USERS = {"root", "0", "0:0", "root:root"}


def _image_repository(ctx: DockerfileContext, stage: Stage) -> str:
    while (parent := ctx.doc.base_stage(stage)) is not None:
        stage = parent
    return ctx.doc.resolved_base(stage).repository


class _StageState:
    """What the instructions so far set: variable names and whether a non-root user runs."""

    __slots__ = ("non_root", "variables")

    def __init__(self, non_root: bool) -> None:
        self.variables: set[str] = set()
        self.non_root = non_root

    def read(self, instruction: Instruction) -> None:
        if instruction.keyword in {"ENV", "ARG"}:
            self.variables.update(instruction.assignments)
        elif instruction.keyword == "USER":
            self.non_root = instruction.arguments.strip() not in _ROOT_USERS


def _cache_owner(step: DependencyStep) -> Ecosystem:
    """Whose cache a command fills: ``uv pip install`` uses uv's, not pip's."""
    return ecosystems.UV if step.command.program == "uv" else step.ecosystem


def _cache_disabled(run: Instruction, step: DependencyStep, variables: set[str]) -> bool:
    owner = _cache_owner(step)
    if step.command.has_flag(*_DISABLING_FLAGS.get(owner.name, ())):
        return True
    if owner is ecosystems.PIP and "PIP_NO_CACHE_DIR" in variables:
        return True
    key = _CLEANED_CACHES.get(owner.name)
    if key is None:
        return False
    cache = package_caches.cache_named(key)
    moved = cache.moved_to(step.command, {})
    return any(cache.removed_by(command, moved) for command in runs.run_commands(run))


class _Status(StrEnum):
    COVERED = "covered"
    MISSING = "missing"
    UNKNOWN = "unknown"


class _Group:
    """Steps that share one cache: one finding, one fix adding the mount where it is missing."""

    __slots__ = ("owner", "programs", "runs", "statuses", "texts")

    def __init__(self, owner: Ecosystem) -> None:
        self.owner = owner
        self.runs: list[Instruction] = []
        self.texts: list[str] = []
        self.statuses: list[_Status] = []
        self.programs: set[str] = set()

    def lacking(self) -> list[tuple[Instruction, _Status]]:
        pairs = zip(self.runs, self.statuses, strict=True)
        return [(run, status) for run, status in pairs if status is not _Status.COVERED]


def _status(run: Instruction, step: DependencyStep, image: str, state: _StageState) -> _Status:
    owner = _cache_owner(step)
    disabled = _cache_disabled(run, step, state.variables)
    if disabled or ecosystems.has_cache_mount(run, owner, image):
        return _Status.COVERED
    if state.variables & ecosystems.CACHE_RELOCATING_VARIABLES or state.non_root:
        # the folder is not the default one: trust any cache mount, else we cannot name it
        return _Status.COVERED if runs.cache_mount_targets(run) else _Status.UNKNOWN
    return _Status.MISSING


def _groups(ctx: DockerfileContext, stage: Stage) -> list[_Group]:
    """Dependency steps of the stage grouped by cache: per ecosystem for caches that builds
    read from (the mount must be on all of them, ``dotnet publish --no-restore`` included),
    otherwise per RUN."""
    image = _image_repository(ctx, stage)
    groups: dict[tuple[str, int], _Group] = {}
    store_programs: dict[str, DependencyStep] = {}
    state = _StageState(non_root=not toolchains.runs_as_root(image))
    for run in stage.body:
        state.read(run)
        if run.keyword != "RUN":
            continue  # only a RUN steps or reads a dependency store
        # setuptools downloads past pip's cache, and an offline install (`bundle install
        # --local`, `pip install --no-index`) downloads nothing: a mount would hold nothing
        steps = [
            s
            for s in ecosystems.dependency_steps(run)
            if not ecosystems.runs_setup_py(s.command) and not ecosystems.installs_offline(s)
        ]
        stepped = {_cache_owner(s).name for s in steps}
        commands = runs.run_commands(run)
        readers = [
            store_programs[c.program]
            for c in commands
            if c.program in store_programs
            and _cache_owner(store_programs[c.program]).name not in stepped
        ]
        for step in [*steps, *readers]:
            owner = _cache_owner(step)
            if not owner.cache_dirs:
                continue  # no folder a mount could hold (the ecosystem table says why)
            if owner.store_is_cache:
                store_programs.setdefault(step.command.program, step)
            key = (owner.name, 0 if owner.store_is_cache else run.line)
            group = groups.setdefault(key, _Group(owner))
            if run in group.runs:
                continue
            group.runs.append(run)
            group.texts.append(step.command.text)
            group.programs.add(step.command.program)
            group.statuses.append(_status(run, step, image, state))
    return list(groups.values())


def _mount_edit(ctx: DockerfileContext, run: Instruction, targets: tuple[str, ...]) -> Edit | None:
    """The RUN with cache mounts after its keyword; the whole instruction is the edit's range."""
    first = ctx.doc.line_text(run.line)
    mounts = " ".join(f"--mount=type=cache,target={target}" for target in targets)
    new_first, count = _RUN_KEYWORD.subn(lambda m: f"{m.group(1)} {mounts}{m.group(2)}", first, 1)
    if count == 0:
        return None
    return Edit(run.line, run.end_line, (new_first, *ctx.doc.lines[run.line : run.end_line]))


def _fix(ctx: DockerfileContext, stage: Stage, group: _Group) -> Fix | None:
    lacking = group.lacking()
    if any(status is _Status.UNKNOWN for _, status in lacking):
        return None
    targets = ecosystems.cache_dirs(group.owner, _image_repository(ctx, stage))
    edits = [_mount_edit(ctx, run, targets) for run, _ in lacking]
    if any(edit is None for edit in edits):
        return None
    return Fix(
        description=f"Add a BuildKit cache mount on {', '.join(targets)}",
        safety=Safety.REVIEW,
        edits=tuple(edit for edit in edits if edit is not None),
    )


def _message(group: _Group, first_text: str, count: int) -> str:
    message = (
        f"`{first_text}` downloads {group.owner.label} dependencies without a BuildKit cache "
        "mount, so every re-run of this step downloads them all again; "
        "`RUN --mount=type=cache,target=<cache folder>` keeps them on the builder between "
        "builds (local and persistent builders: `--cache-to` does not export cache mounts)."
    )
    if group.owner.store_is_cache and count > 1:
        message += (
            f" The mount belongs on each of the {count} steps that use the {group.owner.label} "
            "dependencies: the cache folder is also where the build reads them from."
        )
    return message


def _runtime_programs(ctx: DockerfileContext) -> set[str]:
    """Package managers the shipped image starts with (``go run``, ``mvn spring-boot:run``):
    their dependency store must stay in the image, so it cannot be a cache mount."""
    programs = set()
    for instruction in ctx.doc.final_stage.instructions:
        if instruction.keyword not in {"CMD", "ENTRYPOINT"}:
            continue
        for command in instruction.commands[:1]:
            program = command.program
            if program not in _RUN_SUBCOMMAND_NEEDED or command.subcommand in {"run", "watch"}:
                programs.add(program)
    return programs


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    code_reruns_by_stage = layer_cache.all_steps_rerun(ctx.doc)
    shipped = {stage.index for stage in runs.shipped_stages(ctx.doc)}
    at_runtime = _runtime_programs(ctx)
    for stage in ctx.doc.stages:
        code_reruns = code_reruns_by_stage[stage.index]
        for group in _groups(ctx, stage):
            lacking = group.lacking()
            if not lacking:
                continue
            uses_store_at_runtime = group.programs & at_runtime and stage.index in shipped
            if group.owner.store_is_cache and uses_store_at_runtime:
                continue
            run = lacking[0][0]
            when = (
                "on every code change (it runs after the sources are copied)"
                if code_reruns.reruns(run)
                else "when a dependency manifest changes"
            )
            yield ctx.finding(
                NAME,
                SEVERITY,
                run,
                _message(group, group.texts[group.runs.index(run)], len(lacking)),
                impact=f"this step re-runs {when}; with the mount, re-runs reuse the downloads",
                fix=_fix(ctx, stage, group),
            )
