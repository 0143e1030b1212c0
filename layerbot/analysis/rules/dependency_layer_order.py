"""Dependencies are downloaded after the sources were copied.

## What it does
Flags the first step of a stage that downloads a package manager's dependencies after the
project's sources arrived, when no step of that package manager ran on the manifests alone
before them. Two kinds of step count:

- an explicit install (`go mod download`, `npm ci`/`npm install`, `yarn`, `pnpm install`,
  `pip install -r`, `pipenv install`, `bundle install`, `composer install`, `mix deps.get`,
  `dotnet restore`, `cargo fetch`, `mvn dependency:go-offline`, `gradle dependencies`) after a
  copy of the whole project: `COPY . .`, `COPY . /app`, `ADD . …`, or a folder copied as the
  project (`COPY services/api ./`, `COPY frontend/ ./`);
- a build that downloads as a side effect (`go build|install|run|test|generate|get`,
  `mvn package|install|verify|compile`, `./mvnw …`, `gradle build`, `./gradlew build|assemble|
  bootJar` (the wrapper download counts too), `cargo build|install --path`, `dotnet build|
  publish`, `poetry install`, `uv sync`, `pip install .`) after any copy into the project
  (`COPY src ./src` counts) or with the sources bind-mounted (`RUN --mount=type=bind`).

The message names the command that fetches. The project a command works on is found from
`WORKDIR`, a leading `cd` and the copies that filled that folder; Go, Cargo and Gradle also
look for their manifest in the parent folders, as the tools do. A step of the same package
manager earlier in the stage, in a stage it is built `FROM`, or dependencies copied in with
`COPY --from` (`node_modules`, `/go/pkg/mod`, `/usr/local/bundle`) mean the dependencies are
prepared.

Not flagged:
- builds that cannot download: vendored Go modules (`vendor/modules.txt`, `-mod=vendor`,
  `GOFLAGS=-mod=vendor`), a Go module without `go.sum`, GOPATH mode (no `go.mod`: there is
  no manifest to cache from), `mvn -o`, `gradle --offline`, `cargo --offline|--frozen`,
  `dotnet … --no-restore`, `go install tool@version` (a module of its own);
- the cargo-chef planner: `COPY . .` before `cargo chef prepare` is intended, and
  `cargo chef cook` from the recipe is the dependency build;
- a build whose `RUN` has a cache mount on the package manager's download cache
  (`--mount=type=cache,target=/go/pkg/mod`, `/root/.m2`, `/usr/local/cargo/registry`…): the
  build re-runs on every source change anyway and its downloads then come from the mount.
  An explicit install under a cache mount is still flagged: it would not need to re-run at all;
- a narrower copy before an explicit install (`COPY prisma ./prisma`, a patches folder): it
  is usually something the install needs.

A build command is flagged only when the project declares dependencies (a Go module with a
`go.sum`, a lock file or manifest for the others).

## Why it matters
Docker caches a `COPY` on the checksum of the files it copies, and once a step is invalidated
every later step of the stage runs again. After `COPY . .` any edit to any source file
invalidates the copy, so the dependency download below it runs on every build, although the
dependencies only change when the manifests do. A build command that fetches its own
dependencies (`go build`, `mvn package`, `dotnet publish`) is the same problem: it must re-run
when the code changes, but the download in it should not. Copying the manifest and lock files
first, downloading, and only then copying the rest keeps the slow download in a layer that a
code-only change does not touch. In CI, with `--cache-from` or a registry cache, this is the
difference between reusing the dependency layer and downloading everything each time.

## Example
```dockerfile
FROM golang:1.22
WORKDIR /app
COPY go.mod go.sum ./
COPY . .
RUN go build -o /main .
```

## Use instead
```dockerfile
FROM golang:1.22
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /main .
```

The fix copies the manifests that exist (into the folder the project lands in, from the
sub-folder it comes from) and runs the package manager's dependency-only command before the
copy that brought the sources; manifests an earlier `COPY` already put there are not copied
again, so the half-done shape above only gets the download. An explicit install that reads
nothing but the manifests moves above the copy with its text, flags, set-up commands and
the clean-up of its cache (`npm cache clean --force`); when it is the first command of a
longer `RUN` (`npm ci && npm run build`) it moves out of that `RUN`, which keeps the rest. A
build keeps its place and the fix inserts the dependency-only command: `go mod download`,
`mvn -B dependency:go-offline` (`./mvnw -B …` with the wrapper), `gradle dependencies`
(`./gradlew dependencies`), for Cargo the dummy-main pattern (placeholder `src/main.rs`/
`src/lib.rs`, since a manifest without targets does not parse, the same `cargo build` options,
then `cargo clean -p` of the project's own packages so the real sources are rebuilt and not
taken for up to date; `cargo fetch` for other Cargo commands), `dotnet restore`
of the solution or project, `poetry install --no-root`, `uv sync --no-install-project`,
`npm ci`, `mix deps.get`. Composer always gets `composer install --no-scripts --no-autoloader`
inserted, because its install runs scripts and builds the autoloader from the sources; a
.NET build gets `--no-restore`, the restore being done (unless it names a runtime
identifier, which the restore would need too).

The fix is one contiguous edit from the copy through the dependency `RUN`, so it can be
applied as a single merge-request suggestion. It copies only manifests that exist in the
build context and are not excluded by `.dockerignore`; with no manifest to copy there is a
finding and no fix. There is no fix either when the sources are bind-mounted into the
fetching `RUN`. cargo-chef (`cargo chef cook`) is the sturdier alternative for Cargo.

## Fix safety
The fix is **safe** when the dependency step reads nothing but the manifests and the build
ends with the same files: the manifests are copied again by the sources copy, so the final
filesystem is unchanged, and a moved `RUN` keeps its text, flags and set-up commands
(`export`, `corepack enable`, `pip install poetry`, `<tool> config`). `ENV`, `ARG`, `LABEL`
and `EXPOSE` between the copy and the install move above the manifest copy. The fix is
marked **review** when that cannot be promised:

- the moved install writes into the project (`node_modules`, uv's `.venv`, `obj`, `deps`)
  and no `.dockerignore` keeps the host's copy of that folder out: `COPY . .` would now
  overwrite the freshly installed folder (the `dockerignore` rule proposes the file);
- the moved install may read sources that are not there yet: `package.json` has
  `preinstall`/`install`/`postinstall`/`prepare` scripts, the Gemfile uses `gemspec` or
  local `path:` gems, the Pipfile installs the project itself;
- a `USER` or `RUN`, or a `COPY`/`ADD` of a manifest or from another stage, sits between
  the copy and the install (the inserted download runs before it, as root, without what it
  prepares: `mix local.hex`, `chmod +x gradlew`, a late `.npmrc`); more source folders
  copied there (`COPY cmd ./cmd`, `COPY internal ./internal`) are no hazard;
- a multi-module Maven build (`dependency:go-offline` cannot resolve sibling modules before
  they are built);
- Cargo's placeholder build (a build script, benches or examples the manifest names are not
  there yet).

There is no fix when `go.mod` has a `replace` pointing into the repository (the replaced
module's sources would be needed before the download).

## References
- Docker docs, "Build cache invalidation": `COPY`/`ADD` are invalidated by file checksums,
  `RUN --mount=type=bind` by the mounted files, and all later steps re-run.
- Docker docs, "Optimize cache usage in builds": "Order your layers" (copy `package.json` and
  lock files before the sources) and "Use cache mounts" (a package cache kept across builds).
- Docker docs, "Dockerfile reference: RUN --mount" (`type=bind` mounts context files,
  `type=cache` keeps a directory between builds).
- Docker docs, language guides for Go and Rust: `go mod download` / `cargo build` with
  bind-mounted manifests and cache mounts.
- Go docs, `go help mod download`, "Vendoring" (`-mod=vendor`, used by default when
  `vendor/modules.txt` is present since Go 1.14) and GOPATH mode; `go help install` for
  `pkg@version`.
- Maven Dependency Plugin, `dependency:go-offline` and `dependency:resolve`; Maven's `-o`
  (offline) option.
- Gradle docs, "The Gradle Wrapper" (the wrapper downloads Gradle itself) and
  `--offline`; the `dependencies` task.
- Cargo book, `cargo fetch`, `cargo clean -p` and `cargo build --offline/--frozen`;
  cargo-chef README (`cargo chef prepare` on the whole context, `cargo chef cook` from the
  recipe).
- .NET docs, "Containerize a .NET app" (copy the project file, `dotnet restore`, then the
  rest, `--no-restore`).
- npm docs, `npm ci`; Yarn, pnpm, Poetry (`--no-root`), uv ("Using uv in Docker":
  `--no-install-project`), Bundler, Composer and Mix (`mix deps.get`) documentation.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from layerbot.analysis import dockerfile, ecosystems, layer_cache, runs, shell
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction, Stage
from layerbot.analysis.ecosystems import DependencyStep, Ecosystem, StepKind
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import Edit, Finding, Fix, InputError, Safety, Severity
from layerbot.analysis.shell import Command

NAME = "dependency-layer-order"
SEVERITY = Severity.MAJOR
TARGET = "dockerfile"

# Commands that may run beside the install in a RUN that moves before the sources arrive.
_NEUTRAL = frozenset({"export", "set", "echo", "true", ":", "printf", "umask", "cd", "pushd"})
_OUTPUT_ONLY = frozenset({"echo", "printf", "true", ":"})
# Installing the package manager itself (``pip install poetry``, ``gem install bundler``).
_TOOL_INSTALLERS = frozenset({"pip", "pip3", "gem", "apk", "apt-get"})
# Instructions that may move above the manifest copy: they read no files.
_MOVABLE = frozenset({"ENV", "ARG", "LABEL", "EXPOSE"})
_LIFECYCLE_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
_COPY_FLAGS_KEPT = ("chown", "chmod", "link")


@dataclass(frozen=True)
class _Candidate:
    """A dependency step after the sources arrived, and what the fix needs to know.

    ``copy`` is the first instruction that brought sources into the project (the fix goes
    above it; the RUN itself when the sources are bind-mounted), ``project`` the
    context-relative folder holding the manifests and ``project_dir`` where its files land.
    """

    stage: Stage
    copy: Instruction
    run: Instruction
    step: DependencyStep
    project: str
    project_dir: str
    earlier_copies: tuple[tuple[Instruction, str], ...]


# Ecosystems whose tool looks for its manifest in the parent folders too (go.mod, the Cargo
# workspace root, settings.gradle), so a build in a sub-folder belongs to a project above it.
_SEARCH_UPWARD = frozenset({"go", "cargo", "gradle"})
_VENDOR_FLAG = re.compile(r"-mod[= ]vendor\b")


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _is_folder(ctx: DockerfileContext, source: str) -> bool:
    """A copied folder: the context, a path ending in ``/``, or a path that is neither a file
    of the context nor a glob (a Java ``src`` holds folders only, so listing it finds no file)."""
    if layer_cache.source_kind(source) is layer_cache.SourceKind.WHOLE_CONTEXT:
        return True
    glob = any(ch in source for ch in "*?[")
    return source.endswith("/") or not (glob or ctx.has(source))


def _context_sources(copy: Instruction) -> list[str]:
    """What a COPY/ADD takes from the build context (nothing for ``--from`` or heredocs)."""
    if "from" in copy.flags or copy.heredocs:
        return []
    return [s for s in copy.copy_sources() if "://" not in s and not s.startswith("git@")]


def _brings_sources(
    ctx: DockerfileContext, sources: list[str], target: str, run_dir: str, whole: bool
) -> bool:
    """Whether copying ``sources`` to ``target`` puts non-manifest files of the project that
    runs in ``run_dir`` in place: a folder covering ``run_dir`` (``COPY . .``, ``COPY api/
    ./``) or, unless ``whole`` is asked, anything landing inside it (``COPY src ./src``)."""
    for source in sources:
        if layer_cache.source_kind(source) is layer_cache.SourceKind.MANIFEST:
            continue
        if _is_folder(ctx, source) and _within(run_dir, target):
            return True
        if not whole and _within(target, run_dir):
            return True
    return False


def _bind_sources(run: Instruction, workdir: str) -> list[tuple[str, str]]:
    """``(source, target)`` of the RUN's bind mounts of the build context."""
    found = []
    for mount in run.flag_values("mount"):
        options = ecosystems.mount_options(mount)
        if options.get("type", "bind") != "bind" or options.get("from"):
            continue
        target = posixpath.normpath(posixpath.join(workdir, options.get("target", ".")))
        found.append((options.get("source", options.get("src", ".")) or ".", target))
    return found


def _project_folder(
    ctx: DockerfileContext, copies: list[tuple[Instruction, str]], run_dir: str
) -> str:
    """The context folder whose files are in ``run_dir``, from the latest copy that says so
    (the context root when none does)."""
    for copy, target in reversed(copies):
        for source in _context_sources(copy):
            normal = posixpath.normpath(source)
            whole = layer_cache.source_kind(source) is layer_cache.SourceKind.WHOLE_CONTEXT
            if (whole or _is_folder(ctx, source)) and _within(run_dir, target):
                base = "" if whole else normal
                found = posixpath.normpath(posixpath.join(base, posixpath.relpath(run_dir, target)))
                return "" if found == "." else found
            if layer_cache.source_kind(source) is layer_cache.SourceKind.MANIFEST and (
                target == run_dir or target == posixpath.join(run_dir, posixpath.basename(normal))
            ):
                folder = posixpath.dirname(normal)
                return folder
    return ""


def _project_root(ctx: DockerfileContext, ecosystem: Ecosystem, folder: str) -> str | None:
    """The folder holding the ecosystem's marker: ``folder`` itself, or for tools that search
    upward the nearest parent inside the context; ``None`` when there is none."""
    current = folder
    while True:
        sub = DockerfileContext(ctx.doc, ctx.repo, ctx.context_file(current))
        if any(ecosystems.matching(sub, marker) for marker in ecosystem.markers):
            return current
        if not current or ecosystem.name not in _SEARCH_UPWARD:
            return None
        current = posixpath.dirname(current)


def _stage_env(stage: Stage, name: str) -> str:
    values = [
        i.arguments for i in stage.body if i.keyword in {"ENV", "ARG"} and name in i.arguments
    ]
    return " ".join(values)


def _fetches(ctx: DockerfileContext, candidate: _Candidate) -> bool:
    """Whether the step downloads anything. An explicit download always does; a build does
    when the project declares dependencies and does not build from vendored copies: a Go module
    needs a go.sum, and ``vendor/modules.txt``, ``-mod=vendor`` or ``GOFLAGS=-mod=vendor``
    mean the modules are in the repository (Go docs, "Vendoring")."""
    step = candidate.step
    if step.kind is StepKind.DOWNLOAD:
        return True
    root = _project_root(ctx, step.ecosystem, candidate.project)
    if root is None:
        named = ecosystems.dotnet_project(step.command)
        return named is not None and ctx.has(posixpath.join(candidate.project, named))
    if step.ecosystem is ecosystems.GO:
        vendored = ctx.has(posixpath.join(root, "vendor/modules.txt")) or any(
            _VENDOR_FLAG.search(text)
            for text in (step.command.text, _stage_env(candidate.stage, "GOFLAGS"))
        )
        return ctx.has(posixpath.join(root, "go.sum")) and not vendored
    return True


def _run_dir(workdir: str, run: Instruction, step: DependencyStep) -> str:
    """Where the step finds its project: the working directory (after a leading ``cd``), or
    the folder of a requirements file named by absolute path (``pip install -r
    /app/requirements.txt`` run from ``/``)."""
    named = [f for f in ecosystems.pip_requirement_files(step.command) if f.startswith("/")]
    if step.ecosystem is ecosystems.PIP and named:
        return posixpath.dirname(posixpath.normpath(named[0]))
    changed = _working_dir_change(run, step)
    if changed is None:
        return workdir
    return posixpath.normpath(posixpath.join(workdir, changed))


def _initial_workdir(ctx: DockerfileContext, stage: Stage) -> str:
    """The working directory a stage starts in: its parent stage's last one, else ``/``."""
    parent = ctx.doc.base_stage(stage)
    return _workdir_before(parent, 10**9, _initial_workdir(ctx, parent)) if parent else "/"


def _candidates(ctx: DockerfileContext) -> Iterator[_Candidate]:
    for stage in ctx.doc.stages:
        prepared = _prepared_by_parents(ctx, stage)
        workdir = _initial_workdir(ctx, stage)
        image = ctx.doc.resolved_base(stage).repository
        copies: list[tuple[Instruction, str]] = []
        for instruction in stage.body:
            if instruction.keyword == "WORKDIR":
                workdir = posixpath.normpath(posixpath.join(workdir, instruction.arguments.strip()))
            elif instruction.keyword in {"COPY", "ADD"}:
                if "from" in instruction.flags:
                    prepared.update(_held_by(instruction, workdir))
                target = instruction.copy_destination() or "."
                copies.append((instruction, posixpath.normpath(posixpath.join(workdir, target))))
            for step in ecosystems.dependency_steps(instruction):
                if step.ecosystem.name in prepared:
                    continue
                prepared.add(step.ecosystem.name)
                found = _candidate(ctx, stage, copies, instruction, step, workdir, image)
                if found is not None:
                    yield found


def _candidate(
    ctx: DockerfileContext,
    stage: Stage,
    copies: list[tuple[Instruction, str]],
    run: Instruction,
    step: DependencyStep,
    workdir: str,
    image: str,
) -> _Candidate | None:
    """The finding's facts, when ``step`` fetches dependencies after the sources arrived.

    An explicit download counts only after a copy of the whole project: a narrower copy
    before it is usually something the install needs (a patches folder, a schema). A build
    that fetches as a side effect counts after any copy into the project, unless a cache
    mount holds the download cache: the build re-runs on a source change anyway and its
    downloads then come from the mount (Docker docs, "Optimize cache usage in builds").
    """
    run_dir = _run_dir(workdir, run, step)
    whole = step.kind is StepKind.DOWNLOAD
    if not whole and ecosystems.has_cache_mount(run, step.ecosystem, image):
        return None
    anchor: Instruction | None = None
    for index, (copy, target) in enumerate(copies):
        if _brings_sources(ctx, _context_sources(copy), target, run_dir, whole):
            anchor, before = copy, copies[:index]
            break
    else:
        before = copies
        binds = _bind_sources(run, workdir)
        if any(_brings_sources(ctx, [s], t, run_dir, whole) for s, t in binds):
            anchor = run
    if anchor is None:
        return None
    project = _project_folder(ctx, copies, run_dir)
    root = _project_root(ctx, step.ecosystem, project)
    project_dir = run_dir
    if root is not None and root != project:
        project_dir = posixpath.normpath(
            posixpath.join(run_dir, posixpath.relpath(root or ".", project or "."))
        )
    candidate = _Candidate(
        stage, anchor, run, step, root if root is not None else project, project_dir, tuple(before)
    )
    return candidate if _fetches(ctx, candidate) else None


def _prepared_by_parents(ctx: DockerfileContext, stage: Stage) -> set[str]:
    """Ecosystems whose dependencies a stage this one is built ``FROM`` installed."""
    prepared: set[str] = set()
    parent = ctx.doc.base_stage(stage)
    while parent is not None:
        for instruction in parent.body:
            prepared.update(s.ecosystem.name for s in ecosystems.dependency_steps(instruction))
            if instruction.keyword == "COPY" and "from" in instruction.flags:
                prepared.update(_held_by(instruction, "/"))
        parent = ctx.doc.base_stage(parent)
    return prepared


def _held_by(copy: Instruction, workdir: str) -> set[str]:
    """Ecosystems whose installed dependencies a ``COPY --from`` brings (``node_modules``,
    ``/go/pkg/mod``, ``/usr/local/bundle``)."""
    destination = posixpath.normpath(posixpath.join(workdir, copy.copy_destination() or "."))
    relative = posixpath.normpath(copy.copy_destination() or ".")
    return {e.name for e in ecosystems.ECOSYSTEMS if _holds(e, relative) or _holds(e, destination)}


def _holds(ecosystem: Ecosystem, destination: str) -> bool:
    """Whether a copy to ``destination`` brings the ecosystem's installed dependencies."""
    folders = [*ecosystem.install_dirs, *ecosystem.cache_dirs]
    inside = destination != "/" and any(f.startswith(destination + "/") for f in folders)
    return inside or any(destination == f or destination.endswith("/" + f) for f in folders)


# --- building the fix -------------------------------------------------------------------------


def _copy_flags(copy: Instruction) -> str:
    kept = [
        f"--{name}={value}" if value else f"--{name}"
        for name, value in copy.flags.items()
        if name in _COPY_FLAGS_KEPT
    ]
    return "".join(f"{flag} " for flag in kept)


def _folder_text(candidate: _Candidate, directory: str, workdir: str) -> str:
    """How a COPY names image folder ``directory``: in the spelling of the copy that brought
    the sources when it is that folder, else relative to the working directory."""
    copy = candidate.copy
    written = copy.copy_destination() if copy.keyword in {"COPY", "ADD"} else None
    target = posixpath.normpath(posixpath.join(workdir, written or "."))
    if written and _within(directory, target):
        base = "./" if written in (".", "./") else written.rstrip("/") + "/"
        relative = posixpath.relpath(directory, target)
        return base if relative == "." else f"{base}{relative}/"
    if _within(directory, workdir):
        relative = posixpath.relpath(directory, workdir)
        return "./" if relative == "." else f"./{relative}/"
    return directory.rstrip("/") + "/"


def _landing_dir(candidate: _Candidate, manifest: str) -> str:
    """The image folder a manifest (context-relative; folders end in ``/``) is copied into."""
    relative = posixpath.relpath(manifest.rstrip("/"), candidate.project or ".")
    folder = relative if manifest.endswith("/") else posixpath.dirname(relative)
    return posixpath.normpath(posixpath.join(candidate.project_dir, folder or "."))


def _already_copied(candidate: _Candidate, manifests: list[str]) -> set[str]:
    """Manifests an earlier COPY put where the fix would (``COPY go.mod go.sum ./`` above a
    ``COPY . .``): the fix then only adds the download."""
    done = set()
    for copy, target in candidate.earlier_copies:
        for source in _context_sources(copy):
            pattern = posixpath.normpath(source)
            for manifest in manifests:
                name = manifest.rstrip("/")
                landing = _landing_dir(candidate, manifest)
                places = {landing}
                if not manifest.endswith("/"):
                    places.add(posixpath.join(landing, posixpath.basename(name)))
                if fnmatch.fnmatchcase(name, pattern) and target in places:
                    done.add(manifest)
    return done


def _manifest_copies(candidate: _Candidate, manifests: list[str], workdir: str) -> list[str]:
    """COPY lines for the manifests, one per destination folder, in manifest order."""
    batches: dict[str, list[str]] = {}
    for manifest in manifests:
        target = _folder_text(candidate, _landing_dir(candidate, manifest), workdir)
        batches.setdefault(target, []).append(manifest)
    flags = _copy_flags(candidate.copy)
    return [
        f"COPY {flags}{' '.join(shlex.quote(m) for m in sources)} {target}"
        for target, sources in batches.items()
    ]


def _run_flags(run: Instruction) -> str:
    """The RUN's flags minus bind mounts of the context (they would read the sources)."""
    kept = [f"--{name}={value}" if value else f"--{name}" for name, value in run.flags.items()]
    kept = [flag for flag in kept if not flag.startswith("--mount=")]
    for mount in run.flag_values("mount"):
        options = ecosystems.mount_options(mount)
        if options.get("type", "bind") != "bind" or options.get("from"):
            kept.append(f"--mount={mount}")
    return "".join(f"{flag} " for flag in kept)


def _is_setup(command: Command, step: DependencyStep) -> bool:
    """Commands that prepare the install without reading the sources: ``export``, enabling
    corepack, installing the package manager itself, or configuring it."""
    if command.program in _NEUTRAL or command.program == "corepack":
        return True
    if command.program in _TOOL_INSTALLERS:
        return ecosystems.classify(command) is None
    if command.program in {"npm", "yarn", "pnpm"} and command.has_flag("-g", "--global"):
        return True
    return command.program == step.command.program and command.subcommand == "config"


def _leading_commands(run: Instruction, step: DependencyStep) -> list[str]:
    """Set-up commands before the dependency command, which it may rely on."""
    leading = []
    for command in ecosystems.run_commands(run):
        if command == step.command:
            break
        if _is_setup(command, step) and command.program not in _OUTPUT_ONLY:
            leading.append(command.text)
    return leading


def _working_dir_change(run: Instruction, step: DependencyStep) -> str | None:
    for command in ecosystems.run_commands(run):
        if command == step.command:
            return None
        if command.program in {"cd", "pushd"}:
            return command.argv[1] if len(command.argv) > 1 else "~"
    return None


def _is_cleanup(command: Command) -> bool:
    """Clearing a package cache in the install's own layer (``npm cache clean --force``,
    ``yarn cache clean``, ``rm -rf ~/.cache/pip``): it belongs with the install."""
    words = command.argv[1:3]
    cache_verb = command.program in {"npm", "yarn", "pnpm", "composer", "pip", "pip3"} and (
        words[:1] in (("cache",), ("clear-cache",), ("clearcache",))
        or words[:2] == ("store", "prune")
    )
    targets = [arg for arg in command.argv[1:] if not arg.startswith("-")]
    removes_caches = bool(targets) and all("cache" in t or t.startswith("/tmp/") for t in targets)
    return cache_verb or (command.program == "rm" and removes_caches)


def _moves_whole(run: Instruction, step: DependencyStep) -> bool:
    """Whether the RUN is only dependency downloads, harmless setup and the clean-up of the
    downloads, so it can move."""
    if not step.ecosystem.moves_safely or step.kind is not StepKind.DOWNLOAD:
        return False
    for command in ecosystems.run_commands(run):
        found = ecosystems.classify(command)
        if found is not None and found.kind is StepKind.DOWNLOAD:
            continue
        if not (_is_setup(command, step) or _is_cleanup(command)):
            return False
    return True


def _without_download(ctx: DockerfileContext, candidate: _Candidate) -> list[str] | None:
    """The RUN's lines without the install the fix now runs before the sources, when the
    install is its first command after set-up and ``&&`` follows it (``npm ci && npm run
    build`` keeps ``npm run build``: a second ``npm ci`` would reinstall everything)."""
    run, step = candidate.run, candidate.step
    if step.kind is not StepKind.DOWNLOAD or not step.ecosystem.moves_safely:
        return None
    commands = ecosystems.run_commands(run)
    index = commands.index(step.command) if step.command in commands else -1
    if index < 0 or index == len(commands) - 1:
        return None
    if not all(_is_setup(c, step) and c.program not in _OUTPUT_ONLY for c in commands[:index]):
        return None
    if any(_is_cleanup(c) for c in commands[index + 1 :]):
        return None  # the clean-up must stay in the layer that fills the cache
    text = "\n".join(ctx.doc.lines[run.line - 1 : run.end_line])
    pattern = re.compile(re.escape(step.command.text))
    if len(pattern.findall(text)) != 1:
        return None
    shorter = runs.remove_command(text, pattern)
    if shorter == text:
        return None
    return shorter.split("\n")


_DOTNET_BUILDS = runs.command_pattern("dotnet", "build|publish|test|pack|run")


def _without_restore(ctx: DockerfileContext, candidate: _Candidate) -> list[str] | None:
    """The RUN's lines with ``--no-restore`` on its .NET build, which the inserted ``dotnet
    restore`` made redundant (.NET docs, "Containerize a .NET app"); left as it is when the
    build names a runtime identifier, which the restore would have to name too."""
    step = candidate.step
    if step.ecosystem is not ecosystems.DOTNET or step.kind is not StepKind.BUILD:
        return None
    runtime = ("-r", "--runtime", "-a", "--arch", "--os", "--ucr", "--use-current-runtime")
    if any(arg.split("=", 1)[0] in runtime for arg in step.command.argv):
        return None
    text = "\n".join(ctx.doc.lines[candidate.run.line - 1 : candidate.run.end_line])
    changed = runs.add_flag(text, _DOTNET_BUILDS, "--no-restore", ("--no-restore",))
    return changed.split("\n") if changed != text else None


def _inserted_run(project: DockerfileContext, candidate: _Candidate, change_dir: str | None) -> str:
    """The dependency-only RUN placed before the sources, with the original's set-up."""
    step = candidate.step
    keeps_text = step.kind is StepKind.DOWNLOAD and step.ecosystem.moves_safely
    command = (
        step.command.text
        if keeps_text
        else ecosystems.canonical_command(project, step.ecosystem, step)
    )
    parts = _leading_commands(candidate.run, step)
    if change_dir is not None and not any(part.split()[0] in {"cd", "pushd"} for part in parts):
        parts.append(f"cd {shlex.quote(change_dir)}")
    return f"RUN {_run_flags(candidate.run)}" + " && ".join([*parts, command])


def _hazards(
    ctx: DockerfileContext,
    project: DockerfileContext,
    candidate: _Candidate,
    moved: bool,
    between: list[Instruction],
) -> list[str]:
    """Reasons the reordered build might not end with the same image."""
    reasons = []
    ecosystem = candidate.step.ecosystem
    if any(i.keyword == "USER" for i in between):
        reasons.append("a USER set between the copy and the install would not apply to it")
    earlier_steps = sorted({i.keyword for i in between if _may_prepare(i)})
    if earlier_steps:
        reasons.append(
            f"{', '.join(earlier_steps)} between the copy and the install may prepare it"
        )
    if moved:
        patterns = ecosystems.ignore_patterns(ctx)
        unignored = [d for d in ecosystem.install_dirs if not ecosystems.is_ignored(patterns, d)]
        if unignored:
            reasons.append(
                f"without a .dockerignore entry for {', '.join(unignored)}, `COPY . .` would "
                "overwrite what the install wrote with the host's copy"
            )
        reasons.extend(_install_reads_sources(project, ecosystem))
    if ecosystem is ecosystems.CARGO and "cargo clean" in _inserted_run(project, candidate, None):
        reasons.append(
            "the placeholder build compiles the dependencies without the crate's build script, "
            "benches or examples, which some manifests require"
        )
    if ecosystem is ecosystems.MAVEN and "<module>" in (project.read("pom.xml") or ""):
        reasons.append(
            "`dependency:go-offline` cannot resolve sibling modules before they are built"
        )
    return reasons


def _may_prepare(instruction: Instruction) -> bool:
    """Whether a step between the sources copy and the install may be something the install
    needs: any RUN, and a copy that is not only more sources (a manifest such as ``.npmrc``,
    or files from another stage)."""
    if instruction.keyword == "RUN":
        return True
    if instruction.keyword not in {"COPY", "ADD"}:
        return False
    sources = _context_sources(instruction)
    manifest = layer_cache.SourceKind.MANIFEST
    return not sources or any(layer_cache.source_kind(s) is manifest for s in sources)


def _install_reads_sources(ctx: DockerfileContext, ecosystem: Ecosystem) -> list[str]:
    if ecosystem in (ecosystems.NPM, ecosystems.YARN, ecosystems.PNPM):
        try:
            package = json.loads(ctx.read("package.json") or "{}")
        except ValueError:
            return ["package.json could not be read"]
        scripts = package.get("scripts") if isinstance(package, dict) else None
        hooks = [s for s in _LIFECYCLE_SCRIPTS if isinstance(scripts, dict) and s in scripts]
        if hooks:
            return [f"package.json runs `{'`, `'.join(hooks)}` on install, which may need sources"]
    if ecosystem is ecosystems.BUNDLER:
        gemfile = ctx.read("Gemfile") or ""
        if re.search(r"^\s*gemspec\b|\bpath:", gemfile, re.MULTILINE):
            return ["the Gemfile loads a gemspec or local gems, which may read sources"]
    if ecosystem is ecosystems.PIPENV and re.search(r'path\s*=\s*"\."', ctx.read("Pipfile") or ""):
        return ["the Pipfile installs the project itself"]
    return []


def _local_go_replace(ctx: DockerfileContext) -> bool:
    return re.search(r"=>\s*\.{1,2}/", ctx.read("go.mod") or "") is not None


def _workdir_before(stage: Stage, line: int, start: str = "/") -> str:
    """The working directory an instruction at ``line`` runs in (``start`` by default)."""
    current = start
    for instruction in stage.body:
        if instruction.line >= line:
            break
        if instruction.keyword == "WORKDIR":
            current = posixpath.join(current, instruction.arguments.strip())
    return posixpath.normpath(current)


def _comment_block_above(ctx: DockerfileContext, line: int, floor: int) -> range:
    """Comment lines directly above ``line`` (down to ``floor``), which belong to it."""
    start = line
    while start - 1 > floor and ctx.doc.line_text(start - 1).lstrip().startswith("#"):
        start -= 1
    return range(start, line)


def _fix(
    ctx: DockerfileContext,
    project: DockerfileContext,
    candidate: _Candidate,
    manifests: list[str],
) -> Fix | None:
    copy, run, step = candidate.copy, candidate.run, candidate.step
    if copy is run:
        return None  # sources bind-mounted into the fetching RUN: nothing to reorder
    workdir = _workdir_before(candidate.stage, copy.line, _initial_workdir(ctx, candidate.stage))
    already = _already_copied(candidate, manifests)
    between = [i for i in candidate.stage.body if copy.line < i.line < run.line]
    movable = {n for i in between if i.keyword in _MOVABLE for n in range(i.line, i.end_line + 1)}
    staying = [i for i in between if i.keyword not in _MOVABLE]
    moved = _moves_whole(run, step) and not staying
    lines = ctx.doc.lines
    copies = _manifest_copies(candidate, [m for m in manifests if m not in already], workdir)
    head = [*(lines[n - 1] for n in sorted(movable)), *copies]
    if moved:
        comments = _comment_block_above(ctx, run.line, copy.end_line)
        rest = [n for n in range(copy.end_line + 1, run.line) if n not in movable]
        new_lines = [
            *head,
            *(lines[n - 1] for n in comments),
            *lines[run.line - 1 : run.end_line],
            *lines[copy.line - 1 : copy.end_line],
            *(lines[n - 1] for n in rest if n not in comments),
        ]
        description = "Copy the dependency manifests first and install before copying the sources"
    else:
        kept = [n for n in range(copy.line, run.line) if n not in movable]
        change_dir = candidate.project_dir if candidate.project_dir != workdir else None
        rest_of_run = _without_download(ctx, candidate) or _without_restore(ctx, candidate)
        new_lines = [
            *head,
            _inserted_run(project, candidate, change_dir),
            *(lines[n - 1] for n in kept),
            *(rest_of_run or lines[run.line - 1 : run.end_line]),
        ]
        moved = rest_of_run is not None and candidate.step.kind is StepKind.DOWNLOAD
        description = "Copy the dependency manifests and download dependencies before the sources"
        if not copies:
            description = "Download the dependencies from the manifests before copying the sources"
    hazards = _hazards(ctx, project, candidate, moved, staying)
    if hazards:
        description += " (review: " + "; ".join(hazards) + ")"
    return Fix(
        description=description,
        safety=Safety.REVIEW if hazards else Safety.SAFE,
        edits=(Edit(copy.line, run.end_line, tuple(new_lines)),),
    )


def _impact(
    ctx: DockerfileContext, candidate: _Candidate, fix: Fix | None, cached: str | None
) -> tuple[str, Fix | None]:
    """The impact sentence from the cache model before and after the fix, and the fix, or
    ``None`` when the fixed file would not parse (a fix never offers a broken Dockerfile)."""
    before = layer_cache.steps_rerun(ctx.doc, candidate.stage)
    after = None
    if fix is not None:
        try:
            after_doc = dockerfile.parse(apply_fix(ctx.doc.text, fix), ctx.doc.path)
            after = layer_cache.steps_rerun(after_doc, candidate.stage.index)
        except InputError:
            fix = None
    sentence = layer_cache.impact_sentence(
        before, after, slow_step=candidate.step.command.text, cached_step=cached
    )
    return sentence, fix


def _project_context(ctx: DockerfileContext, candidate: _Candidate) -> DockerfileContext:
    """The build context seen from the project folder, for the ecosystem helpers."""
    if not candidate.project:
        return ctx
    return DockerfileContext(ctx.doc, ctx.repo, ctx.context_file(candidate.project))


def _manifests(
    ctx: DockerfileContext, project: DockerfileContext, candidate: _Candidate
) -> list[str]:
    """Context-relative manifests of the project that exist and are not ``.dockerignore``d."""
    patterns = ecosystems.ignore_patterns(ctx)
    found = ecosystems.existing_manifests(project, candidate.step.ecosystem, candidate.step)
    relative = [posixpath.join(candidate.project, m) if candidate.project else m for m in found]
    return [m for m in relative if not ecosystems.is_ignored(patterns, m)]


def _message(candidate: _Candidate, manifests: list[str], command: str) -> str:
    if manifests and set(manifests) <= _already_copied(candidate, manifests):
        copied = ", ".join(f"`{m}`" for m in manifests)
        return (
            f"`{candidate.step.command.text}` downloads the {candidate.step.ecosystem.label} "
            f"dependencies itself after the sources arrived: {copied} are copied alone first, "
            f"but nothing downloads from them, so any source change downloads everything "
            f"again; run `{command}` right after copying them."
        )
    ecosystem, step = candidate.step.ecosystem, candidate.step
    copy_text = " ".join(candidate.copy.original.split())
    brought = (
        "copied the whole build context"
        if layer_cache.is_whole_context_copy(candidate.copy)
        else "brought in the sources"
    )
    if candidate.copy is candidate.run:
        copy_text = "--mount=type=bind"
    wanted = ", ".join(f"`{m}`" for m in manifests) or f"the {ecosystem.label} manifests"
    if step.kind is StepKind.DOWNLOAD:
        return (
            f"`{step.command.text}` runs after `{copy_text}` {brought}, so any "
            f"source change invalidates the layer and {ecosystem.label} dependencies are "
            f"downloaded again on every build; copy {wanted} first and install before "
            "copying the rest."
        )
    return (
        f"`{step.command.text}` downloads the {ecosystem.label} dependencies itself, after "
        f"`{copy_text}` {brought} and with no dependency step on the manifests "
        f"alone before it, so any source change downloads them all again; copy {wanted} "
        f"first and run `{command}` before copying the rest."
    )


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    for candidate in _candidates(ctx):
        project = _project_context(ctx, candidate)
        manifests = _manifests(ctx, project, candidate)
        fix = None
        if manifests and not (
            candidate.step.ecosystem is ecosystems.GO and _local_go_replace(project)
        ):
            fix = _fix(ctx, project, candidate, manifests)
        cached = _cached_step(project, candidate)
        impact, fix = _impact(ctx, candidate, fix, cached if fix else None)
        message = _message(candidate, manifests, cached)
        yield ctx.finding(
            NAME, SEVERITY, candidate.copy, message, impact=impact, fix=fix, end=candidate.run
        )


def _cached_step(project: DockerfileContext, candidate: _Candidate) -> str:
    """The dependency command the fixed file runs before the sources (for the impact)."""
    step = candidate.step
    if step.kind is StepKind.DOWNLOAD and step.ecosystem.moves_safely:
        return step.command.text
    parts = ecosystems.canonical_command(project, step.ecosystem, step).split(" && ")
    return next((p for p in reversed(parts) if _is_dependency_command(p)), parts[-1])


def _is_dependency_command(text: str) -> bool:
    return any(ecosystems.classify(command) for command in shell.commands(text))
