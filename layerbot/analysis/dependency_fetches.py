"""Dependency fetches that run after a stage received the sources, and the project each works
on: the facts ``dependency-layer-order`` reports and fixes.

A fetch is an explicit install after a copy of the whole project, or a build that downloads as
a side effect after any copy into the project (or with the sources bind-mounted), with no step
of the same package manager before. The project folder comes from ``WORKDIR``, a leading
``cd`` and the copies that filled it.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
from collections.abc import Iterator

from layerbot.analysis import ecosystems, layer_cache, runs
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction, Stage
from layerbot.analysis.ecosystems import DependencyStep, Ecosystem, StepKind, make
from layerbot.analysis.record import Record
from layerbot.analysis.shell import Command
from layerbot.analysis.toolchains import image_workdir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class DependencyFetch(Record):
    """A dependency step after the sources arrived, and what the fix needs to know.

    ``copy`` is the first instruction that brought sources into the project (the fix goes
    above it; the RUN itself when the sources are bind-mounted), ``project`` the
    context-relative folder holding the manifests, ``project_dir`` where its files land and
    ``command_dir`` where the command runs (the folder above a project it names).
    """

    __slots__ = (
        "command_dir",
        "copy",
        "earlier_copies",
        "project",
        "project_dir",
        "run",
        "stage",
        "step",
    )

    def __init__(
        self,
        stage: Stage,
        copy: Instruction,
        run: Instruction,
        step: DependencyStep,
        project: str,
        project_dir: str,
        earlier_copies: tuple[tuple[Instruction, str], ...],
        command_dir: str = "",
    ) -> None:
        self.stage: Final = stage
        self.copy: Final = copy
        self.run: Final = run
        self.step: Final = step
        self.project: Final = project
        self.project_dir: Final = project_dir
        self.earlier_copies: Final = earlier_copies
        self.command_dir: Final = command_dir


# Ecosystems whose tool looks for its manifest in the parent folders too (go.mod, the Cargo
# workspace root, settings.gradle, cabal.project: Cabal docs, "cabal.project files" are looked
# for in the current folder and its parents), so a build in a sub-folder belongs to a project
# above it.
_SEARCH_UPWARD = frozenset({"go", "cargo", "gradle", "cabal"})
_PYTHON_PROJECT = ("pyproject.toml", "setup.py", "setup.cfg")


def within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _is_folder(ctx: DockerfileContext, source: str) -> bool:
    """A copied folder: the context, a path ending in ``/``, or a path that is neither a file
    of the context nor a glob (a Java ``src`` holds folders only, so listing it finds no file)."""
    if layer_cache.source_kind(source) is layer_cache.SourceKind.WHOLE_CONTEXT:
        return True
    glob = any(ch in source for ch in "*?[")
    return source.endswith("/") or not (glob or ctx.has(source))


def context_sources(copy: Instruction) -> list[str]:
    """What a COPY/ADD takes from the build context (nothing for ``--from`` or heredocs)."""
    if "from" in copy.flags or copy.heredocs:
        return []
    return [s for s in copy.copy_sources() if "://" not in s and not s.startswith("git@")]


def copied_sources(ctx: DockerfileContext, copy: Instruction) -> list[str]:
    """What a COPY/ADD takes from the build context, each wildcard source resolved as BuildKit
    does: the files it matches, and each folder it matches as that folder (``M/``), whose
    contents (not the folder) land in the destination (Docker docs, "Dockerfile reference",
    COPY: "each <src> may contain wildcards", and "if <src> is a directory, the entire
    contents of the directory are copied"). Matched files come first, then matched folders,
    those holding a manifest first (the project a command in the destination works on), and
    for ``F/*`` last the folder ``F/`` itself: every file of it lands in the destination, as
    with ``COPY F/ ./``. A manifest glob (``*.csproj``, ``requirements*.txt``), a glob across
    folders and a glob matching nothing listed stay as written."""
    resolved: list[str] = []
    for source in context_sources(copy):
        matches = _wildcard_matches(ctx, source)
        resolved.extend(matches if matches else [source])
    return resolved


def _wildcard_matches(ctx: DockerfileContext, source: str) -> list[str]:
    if not any(ch in source for ch in "*?[") or (
        layer_cache.source_kind(source) is layer_cache.SourceKind.MANIFEST
    ):
        return []
    folder, _, name_glob = posixpath.normpath(source).rpartition("/")
    if any(ch in folder for ch in "*?["):
        return []
    prefix = f"{folder}/" if folder else ""
    names = (posixpath.basename(p) for p in ctx.repo.folders_in(ctx.context_file(folder or ".")))
    folders = [f"{prefix}{n}/" for n in names if fnmatch.fnmatchcase(n, name_glob)]
    folders.sort(key=lambda f: not _holds_a_manifest(ctx, f))
    files = ecosystems.matching(ctx, source)
    whole = [f"{prefix or './'}"] if name_glob == "*" and files else []
    return [*files, *folders, *whole]


def _holds_a_manifest(ctx: DockerfileContext, folder: str) -> bool:
    files = ctx.repo.in_dir(ctx.context_file(folder))
    manifest = layer_cache.SourceKind.MANIFEST
    return any(layer_cache.source_kind(posixpath.basename(f)) is manifest for f in files)


def _brings_sources(
    ctx: DockerfileContext, sources: list[str], target: str, run_dir: str, whole: bool
) -> bool:
    """Whether copying ``sources`` (:func:`copied_sources`) to ``target`` puts non-manifest
    files of the project that runs in ``run_dir`` in place: a folder covering ``run_dir``
    (``COPY . .``, ``COPY api/ ./``, ``COPY App/* ./`` matching a folder) or, unless ``whole``
    is asked, anything landing inside it (``COPY src ./src``)."""
    for source in sources:
        if layer_cache.source_kind(source) is layer_cache.SourceKind.MANIFEST:
            continue
        if _holds_manifests_only(ctx, source):
            continue  # `ADD conan /src/conan` of a folder kept for the recipe alone
        if _is_folder(ctx, source) and within(run_dir, target):
            return True
        if not whole and within(target, run_dir):
            return True
    return False


def _holds_manifests_only(ctx: DockerfileContext, source: str) -> bool:
    """A folder of the context (not the context itself) whose files are all dependency
    manifests and which holds no folder: copying it brings no sources."""
    if layer_cache.source_kind(source) is layer_cache.SourceKind.WHOLE_CONTEXT:
        return False
    folder = ctx.context_file(posixpath.normpath(source))
    files = ctx.repo.in_dir(folder)
    manifest = layer_cache.SourceKind.MANIFEST
    return (
        bool(files)
        and not ctx.repo.folders_in(folder)
        and all(layer_cache.source_kind(posixpath.basename(f)) is manifest for f in files)
    )


def _bind_sources(run: Instruction, workdir: str) -> list[tuple[str, str]]:
    """``(source, target)`` of the RUN's bind mounts of the build context."""
    found = []
    for options in run.mounts:
        if options.get("type", "bind") != "bind" or options.get("from"):
            continue
        target = posixpath.normpath(posixpath.join(workdir, options.get("target", ".")))
        found.append((options.get("source", ".") or ".", target))
    return found


def _project_folder(
    ctx: DockerfileContext, copies: list[tuple[Instruction, str]], run_dir: str
) -> str:
    """The context folder whose files are in ``run_dir``, from the latest copy that says so
    (the context root when none does)."""
    for copy, target in reversed(copies):
        for source in copied_sources(ctx, copy):
            normal = posixpath.normpath(source)
            whole = layer_cache.source_kind(source) is layer_cache.SourceKind.WHOLE_CONTEXT
            if (whole or _is_folder(ctx, source)) and within(run_dir, target):
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
            return _gradle_build_root(ctx, current) if ecosystem is ecosystems.GRADLE else current
        if not current or ecosystem.name not in _SEARCH_UPWARD:
            return None
        current = posixpath.dirname(current)


_GRADLE_SETTINGS = ("settings.gradle", "settings.gradle.kts")


def _gradle_build_root(ctx: DockerfileContext, project: str) -> str:
    """The folder of the build a Gradle project belongs to: the nearest one up from it with a
    settings file, which Gradle looks for in the project's folder and then its parents
    (Gradle docs, "Build Lifecycle": initialization); the project's own folder without one."""
    current = project
    while True:
        if any(ctx.has(posixpath.join(current, name)) for name in _GRADLE_SETTINGS):
            return current
        if not current:
            return project
        current = posixpath.dirname(current)


def _stage_env(stage: Stage, name: str) -> str:
    """The values the stage's ENV and ARG give ``name``, joined."""
    return " ".join(i.assignments[name] for i in stage.body if name in i.assignments)


def _fetches(ctx: DockerfileContext, fetch: DependencyFetch, root: str | None) -> bool:
    """Whether the step downloads anything. An explicit download always does; a build does
    when the project declares dependencies and does not build from vendored copies: a Go module
    needs a go.sum, and ``vendor/modules.txt``, ``-mod=vendor`` or ``GOFLAGS=-mod=vendor``
    mean the modules are in the repository (Go docs, "Vendoring"). A Deno project without
    deno.json, deno.jsonc or deno.lock imports its modules by URL in the sources alone, so
    nothing could be installed before them. ``root`` is the :func:`_project_root` of the
    fetch's project, found already."""
    step = fetch.step
    if step.ecosystem is ecosystems.DENO and root is None:
        return False  # modules imported by URL in the sources only: no manifest to start from
    if step.kind is StepKind.DOWNLOAD:
        return True
    if step.ecosystem is ecosystems.PIP and not ecosystems.pip_requirement_files(step.command):
        # `pip install .` installs what the project's own metadata requires (pip docs,
        # "Local project installs"): pyproject.toml, setup.py or setup.cfg, whatever
        # requirement files lie beside it.
        project = DockerfileContext(ctx.doc, ctx.repo, ctx.context_file(fetch.project or "."))
        return ecosystems.declares_python_dependencies(project)
    if root is None and step.ecosystem is ecosystems.PIP:  # `-r` files elsewhere and `-e .`
        return any(ctx.has(posixpath.join(fetch.project, name)) for name in _PYTHON_PROJECT)
    if root is None:
        named = ecosystems.dotnet_project(step.command)  # a glob too: `dotnet publish src/*.sln`
        return named is not None and bool(
            ecosystems.matching(ctx, posixpath.join(fetch.project, named))
        )
    if step.ecosystem is ecosystems.GO:
        vendored = ctx.has(posixpath.join(root, "vendor/modules.txt")) or any(
            re.search(make.GO_VENDOR_FLAG, text)
            for text in (step.command.text, _stage_env(fetch.stage, "GOFLAGS"))
        )
        return ctx.has(posixpath.join(root, "go.sum")) and not vendored
    return True


def _run_dir(
    ctx: DockerfileContext, stage: Stage, workdir: str, run: Instruction, step: DependencyStep
) -> str:
    """Where the step finds its project: the working directory (after a leading ``cd``,
    ``make -C``), or the folder of a requirements file named by absolute path (``pip install
    -r /app/requirements.txt`` run from ``/``, or ``-r $APP_HOME/requirements.txt`` with the
    stage's ENV)."""
    files = ecosystems.pip_requirement_files(step.command)
    named = [p for p in (ctx.doc.expanded(stage, f, run.line) for f in files) if p[:1] == "/"]
    if step.ecosystem is ecosystems.PIP and named:
        return posixpath.dirname(posixpath.normpath(named[0]))
    changed = working_dir_change(run, step.command)
    if changed is not None:
        changed = ctx.doc.expanded(stage, changed, run.line)
    folder = workdir if changed is None else posixpath.join(workdir, changed)
    if step.command.program in make.MAKE_PROGRAMS:
        folder = posixpath.join(folder, make.makefile_dir(step.command) or ".")
    return posixpath.normpath(folder)


_LOCAL_REQUIREMENT = re.compile(r"^\s*(-e|--editable|-r|--requirement|-c|--constraint|\.|/)|file:")


def _reads_requirements_only(
    ctx: DockerfileContext,
    copies: list[tuple[Instruction, str]],
    run_dir: str,
    step: DependencyStep,
) -> bool:
    """Whether a ``pip install -r`` reads nothing but its requirement files: every file can
    be read and names packages only (no ``-e``, local path, ``file:`` URL or nested file,
    pip docs "Requirements File Format")."""
    files = ecosystems.pip_requirement_files(step.command)
    if step.ecosystem is not ecosystems.PIP or not files:
        return False
    folder = _project_folder(ctx, copies, run_dir)
    for name in files:
        text = None if name.startswith("/") else ctx.read(posixpath.join(folder, name))
        if text is None or any(_LOCAL_REQUIREMENT.search(line) for line in text.splitlines()):
            return False
    return True


def _brings_folder(
    ctx: DockerfileContext, sources: list[str], target: str, run_dir: str, step: DependencyStep
) -> bool:
    """A folder of the context copied into ``run_dir`` (``COPY src ./src``), other than one
    the install reads (``COPY wheels ./wheels`` for ``--find-links=./wheels``)."""
    if not within(target, run_dir):
        return False
    read = {posixpath.normpath(p) for p in ecosystems.local_inputs(ctx, step.ecosystem, step)}
    return any(
        _is_folder(ctx, s)
        and layer_cache.source_kind(s) is not layer_cache.SourceKind.MANIFEST
        and posixpath.normpath(s) not in read
        for s in sources
    )


def _named_project_dir(run_dir: str, step: DependencyStep) -> str:
    """The folder of the project the command names: a folder option's (``mvn -f
    service/pom.xml`` run from ``/src``: ``/src/service``), or a .NET restore's project
    (``dotnet restore Api/Api.csproj``: ``/src/Api``), where copying the folder whole brings
    its sources; ``run_dir`` for other steps (a build counts any copy into its folder
    already)."""
    folder = ecosystems.named_folder(step)
    if folder is not None:
        return posixpath.normpath(posixpath.join(run_dir, folder))
    named = ecosystems.dotnet_project(step.command)
    if named is None or step.kind is not StepKind.DOWNLOAD:
        return run_dir
    return posixpath.normpath(posixpath.join(run_dir, posixpath.dirname(named)))


def initial_workdir(ctx: DockerfileContext, stage: Stage) -> str:
    """The working directory a stage starts in: its parent stage's last one, else the one its
    image sets (``/var/www/html`` in ``php:8.3-apache``) or ``/``."""
    parent = ctx.doc.base_stage(stage)
    if parent is None:
        return image_workdir(ctx.doc.resolved_base(stage))
    return workdir_before(ctx, parent, 10**9)


def _stage_copies(ctx: DockerfileContext, stage: Stage) -> Iterator[tuple[Instruction, str, str]]:
    """Each COPY/ADD of a stage with its resolved target, and each instruction's working
    directory: ``(instruction, target, workdir)``, the target empty for other instructions."""
    workdir = initial_workdir(ctx, stage)
    for instruction in stage.body:
        if instruction.keyword == "WORKDIR":
            folder = ctx.doc.expanded(stage, instruction.workdir_path(), instruction.line)
            workdir = posixpath.normpath(posixpath.join(workdir, folder))
        target = ""
        if instruction.keyword in {"COPY", "ADD"}:
            destination = instruction.copy_destination() or "."
            destination = ctx.doc.expanded(stage, destination, instruction.line)
            target = posixpath.normpath(posixpath.join(workdir, destination))
        yield instruction, target, workdir


def _inherited_copies(ctx: DockerfileContext, stage: Stage) -> list[tuple[Instruction, str]]:
    """The copies of the stages this one is built ``FROM`` (oldest first): their files are in
    this stage's file system, and their layers under its steps (``FROM base AS build`` after
    ``COPY . .`` in ``base``)."""
    parent = ctx.doc.base_stage(stage)
    if parent is None:
        return []
    own = [(i, target) for i, target, _ in _stage_copies(ctx, parent) if target]
    return [*_inherited_copies(ctx, parent), *own]


def fetches_after_sources(ctx: DockerfileContext) -> Iterator[DependencyFetch]:
    reported: set[tuple[int, str]] = set()  # a parent's copy, once per package manager
    for stage in ctx.doc.stages:
        prepared = _prepared_by_parents(ctx, stage)
        image = ctx.doc.resolved_base(stage).repository
        copies = _inherited_copies(ctx, stage)
        inherited = len(copies)
        for instruction, target, workdir in _stage_copies(ctx, stage):
            if target:
                if "from" in instruction.flags:
                    prepared.update(_held_by(instruction, workdir))
                copies.append((instruction, target))
            if instruction.keyword != "RUN":
                continue  # only a RUN runs dependency steps
            steps = [
                *ecosystems.dependency_steps(instruction),
                *_make_steps(ctx, stage, instruction, copies, workdir),
            ]
            for step in steps:
                if step.ecosystem.name in prepared:
                    continue
                prepared.add(step.ecosystem.name)
                found = _fetch_after_sources(ctx, stage, copies, instruction, step, workdir, image)
                if found is None:
                    continue
                if any(found.copy is copy for copy, _ in copies[:inherited]):
                    key = (found.copy.line, step.ecosystem.name)
                    if key in reported:
                        continue  # `FROM base AS test` and `AS build`: one finding
                    reported.add(key)
                yield found


def _make_steps(
    ctx: DockerfileContext,
    stage: Stage,
    run: Instruction,
    copies: list[tuple[Instruction, str]],
    workdir: str,
) -> list[DependencyStep]:
    """Builds a ``make`` command runs through the Makefile of the folder it runs in (the
    context folder the copies put there)."""
    found = []
    for command in runs.run_commands(run) if run.keyword == "RUN" else []:
        if command.program not in make.MAKE_PROGRAMS:
            continue
        probe = DependencyStep(ecosystems.GO, StepKind.BUILD, command)
        folder = _project_folder(ctx, copies, _run_dir(ctx, stage, workdir, run, probe))
        texts = (ctx.read(posixpath.join(folder, name)) for name in make.MAKEFILE_NAMES)
        text = next((t for t in texts if t is not None), None)
        step = make.make_step(command, text) if text is not None else None
        if step is not None:
            found.append(step)
    return found


def _fetch_after_sources(
    ctx: DockerfileContext,
    stage: Stage,
    copies: list[tuple[Instruction, str]],
    run: Instruction,
    step: DependencyStep,
    workdir: str,
    image: str,
) -> DependencyFetch | None:
    """The finding's facts, when ``step`` fetches dependencies after the sources arrived.

    An explicit download counts only after a copy of the whole project: a narrower copy
    before it is usually something the install needs (a patches folder, a schema), except
    for ``pip install -r`` of requirement files that name only packages, which reads nothing
    else (a folder copied into the project before it is sources). A build
    that fetches as a side effect counts after any copy into the project, unless a cache
    mount holds the download cache: the build re-runs on a source change anyway and its
    downloads then come from the mount (Docker docs, "Optimize cache usage in builds").
    """
    run_dir = _run_dir(ctx, stage, workdir, run, step)
    whole = step.kind is StepKind.DOWNLOAD
    sources_dir = _named_project_dir(run_dir, step)
    if not whole and (
        ecosystems.has_cache_mount(run, step.ecosystem, image)
        or _mounts_a_moved_cache(ctx, stage, run)
    ):
        return None
    folders_too = whole and _reads_requirements_only(ctx, copies, run_dir, step)
    anchor: Instruction | None = None
    for index, (copy, target) in enumerate(copies):
        sources = copied_sources(ctx, copy)
        if _brings_sources(ctx, sources, target, sources_dir, whole) or (
            folders_too and _brings_folder(ctx, sources, target, run_dir, step)
        ):
            anchor, before = copy, copies[:index]
            break
    else:
        before = copies
        binds = _bind_sources(run, workdir)
        if any(_brings_sources(ctx, [s], t, sources_dir, whole) for s, t in binds):
            anchor = run
    if anchor is None:
        return None
    project = _project_folder(ctx, copies, sources_dir)
    root = _project_root(ctx, step.ecosystem, project)
    project_dir = sources_dir
    if root is not None and root != project:
        project_dir = posixpath.normpath(
            posixpath.join(sources_dir, posixpath.relpath(root or ".", project or "."))
        )
    fetch = DependencyFetch(
        stage,
        anchor,
        run,
        step,
        root if root is not None else project,
        project_dir,
        tuple(before),
        run_dir,
    )
    return fetch if _fetches(ctx, fetch, root) else None


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


def _mounts_a_moved_cache(ctx: DockerfileContext, stage: Stage, run: Instruction) -> bool:
    """Whether a cache mount of ``run`` holds a package cache the stage moved there with a
    variable (``ENV GOMODCACHE=/gomod-cache`` and ``--mount=type=cache,target=/gomod-cache``):
    the table cannot name that folder, but the author did."""
    targets = [posixpath.normpath(t) for t in runs.cache_mount_targets(run)]
    for name in sorted(ecosystems.CACHE_RELOCATING_VARIABLES) if targets else ():
        value = ctx.doc.expanded(stage, "${" + name + "}", run.line)
        if "$" in value or not value.startswith("/"):
            continue  # not set in the Dockerfile
        moved = posixpath.normpath(value)
        if any(t == moved or t.startswith(moved + "/") for t in targets):
            return True
    return False


def _held_by(copy: Instruction, workdir: str) -> set[str]:
    """Ecosystems whose installed dependencies a ``COPY --from`` brings (``node_modules``,
    ``/go/pkg/mod``, ``/usr/local/bundle``)."""
    destination = posixpath.normpath(posixpath.join(workdir, copy.copy_destination() or "."))
    relative = posixpath.normpath(copy.copy_destination() or ".")
    return {*_holding(relative), *_holding(destination)}


@functools.lru_cache(maxsize=1024)
def _holding(destination: str) -> frozenset[str]:
    """The ecosystems :func:`_holds` says a copy to ``destination`` brings: asked for every
    ``COPY --from`` of every stage, of a few distinct destinations."""
    return frozenset(e.name for e in ecosystems.ECOSYSTEMS if _holds(e, destination))


def _holds(ecosystem: Ecosystem, destination: str) -> bool:
    """Whether a copy to ``destination`` brings the ecosystem's installed dependencies."""
    folders = [*ecosystem.install_dirs, *ecosystem.cache_dirs]
    inside = destination != "/" and any(f.startswith(destination + "/") for f in folders)
    return inside or any(destination == f or destination.endswith("/" + f) for f in folders)


def working_dir_change(run: Instruction, until: Command) -> str | None:
    """The folder a leading ``cd``/``pushd`` moves to before ``until`` runs."""
    for command in runs.run_commands(run):
        if command == until:
            return None
        if command.program in {"cd", "pushd"}:
            return command.argv[1] if len(command.argv) > 1 else "~"
    return None


def workdir_before(ctx: DockerfileContext, stage: Stage, line: int) -> str:
    """The working directory the instruction at ``line`` of ``stage`` runs in."""
    found = None
    for instruction, _, workdir in _stage_copies(ctx, stage):
        if instruction.line >= line:
            break
        found = workdir
    return found if found is not None else initial_workdir(ctx, stage)


def project_context(ctx: DockerfileContext, fetch: DependencyFetch) -> DockerfileContext:
    """The build context seen from the project folder, for the ecosystem helpers."""
    if not fetch.project:
        return ctx
    return DockerfileContext(ctx.doc, ctx.repo, ctx.context_file(fetch.project))
