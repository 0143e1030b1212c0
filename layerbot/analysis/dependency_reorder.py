"""The fix of ``dependency-layer-order``: copy the manifests and fetch before the sources.

One contiguous edit from the copy that brought the sources through the fetching ``RUN``: the
manifest copies, then the install moved up (with its set-up and cache clean-up) or the
dependency-only command inserted, and the reasons a reviewer should look at it.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex

from layerbot.analysis import ecosystems, layer_cache, package_caches, runs, shell
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dependency_fetches import (
    DependencyFetch,
    context_sources,
    within,
    workdir_before,
)
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.ecosystems import DependencyStep, Ecosystem, StepKind
from layerbot.analysis.model import Edit, Fix, Safety
from layerbot.analysis.shell import Command

# Commands that may run beside the install in a RUN that moves before the sources arrive.
_NEUTRAL = frozenset({"export", "set", "echo", "true", ":", "printf", "umask", "cd", "pushd"})
_OUTPUT_ONLY = frozenset({"echo", "printf", "true", ":"})
# Installing the package manager itself (``pip install poetry``, ``gem install bundler``).
_TOOL_INSTALLERS = frozenset({"pip", "pip3", "gem", "apk", "apt-get"})
# Instructions that may move above the manifest copy: they read no files.
_MOVABLE = frozenset({"ENV", "ARG", "LABEL", "EXPOSE"})
_LIFECYCLE_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
_COPY_FLAGS_KEPT = ("chown", "chmod", "link")


def _copy_flags(copy: Instruction) -> str:
    kept = [
        f"--{name}={value}" if value else f"--{name}"
        for name, value in copy.flags.items()
        if name in _COPY_FLAGS_KEPT
    ]
    return "".join(f"{flag} " for flag in kept)


def _folder_text(fetch: DependencyFetch, directory: str, workdir: str) -> str:
    """How a COPY names image folder ``directory``: in the spelling of the copy that brought
    the sources when it is that folder, else relative to the working directory."""
    copy = fetch.copy
    written = copy.copy_destination() if copy.keyword in {"COPY", "ADD"} else None
    target = posixpath.normpath(posixpath.join(workdir, written or "."))
    if written and within(directory, target):
        base = "./" if written in (".", "./") else written.rstrip("/") + "/"
        relative = posixpath.relpath(directory, target)
        return base if relative == "." else f"{base}{relative}/"
    if within(directory, workdir):
        relative = posixpath.relpath(directory, workdir)
        return "./" if relative == "." else f"./{relative}/"
    return directory.rstrip("/") + "/"


def _landing_dir(fetch: DependencyFetch, manifest: str) -> str:
    """The image folder a manifest (context-relative; folders end in ``/``) is copied into."""
    relative = posixpath.relpath(manifest.rstrip("/"), fetch.project or ".")
    folder = relative if manifest.endswith("/") else posixpath.dirname(relative)
    return posixpath.normpath(posixpath.join(fetch.project_dir, folder or "."))


def already_copied(fetch: DependencyFetch, manifests: list[str]) -> set[str]:
    """Manifests an earlier COPY put where the fix would (``COPY go.mod go.sum ./`` above a
    ``COPY . .``): the fix then only adds the download."""
    done = set()
    for copy, target in fetch.earlier_copies:
        for source in context_sources(copy):
            pattern = posixpath.normpath(source)
            for manifest in manifests:
                name = manifest.rstrip("/")
                landing = _landing_dir(fetch, manifest)
                places = {landing}
                if not manifest.endswith("/"):
                    places.add(posixpath.join(landing, posixpath.basename(name)))
                if fnmatch.fnmatchcase(name, pattern) and target in places:
                    done.add(manifest)
    return done


def _manifest_copies(fetch: DependencyFetch, manifests: list[str], workdir: str) -> list[str]:
    """COPY lines for the manifests, one per destination folder, in manifest order."""
    batches: dict[str, list[str]] = {}
    for manifest in manifests:
        target = _folder_text(fetch, _landing_dir(fetch, manifest), workdir)
        batches.setdefault(target, []).append(manifest)
    flags = _copy_flags(fetch.copy)
    return [
        f"COPY {flags}{' '.join(shlex.quote(m) for m in sources)} {target}"
        for target, sources in batches.items()
    ]


def _run_flags(run: Instruction) -> str:
    """The RUN's flags minus bind mounts of the context (they would read the sources)."""
    kept = [f"--{name}={value}" if value else f"--{name}" for name, value in run.flags.items()]
    kept = [flag for flag in kept if not flag.startswith("--mount=")]
    for mount, options in zip(run.flag_values("mount"), run.mounts, strict=True):
        if options.get("type", "bind") != "bind" or options.get("from"):
            kept.append(f"--mount={mount}")
    return "".join(f"{flag} " for flag in kept)


def _moves_along(instruction: Instruction, step: DependencyStep) -> bool:
    """Whether an instruction between the sources copy and the install moves up with the
    install: one that only sets metadata or variables, or a RUN of the install's set-up alone
    (``mix local.hex --force``, ``corepack enable``), which reads no sources."""
    if instruction.keyword in _MOVABLE:
        return True
    commands = runs.run_commands(instruction) if instruction.keyword == "RUN" else []
    return bool(commands) and all(_is_setup(command, step) for command in commands)


def _is_setup(command: Command, step: DependencyStep) -> bool:
    """Commands that prepare the install without reading the sources: ``export``, enabling
    corepack, installing the package manager itself, configuring it, or the tool's own set-up
    (``cabal update``, ``conan profile detect``: the table's ``setup_subcommands``)."""
    if command.program in _NEUTRAL or command.program == "corepack":
        return True
    if command.program in _TOOL_INSTALLERS:
        return ecosystems.classify(command) is None
    if command.program in {"npm", "yarn", "pnpm"} and command.has_flag("-g", "--global"):
        return True
    own = command.program == step.command.program
    return own and command.subcommand in {"config", *step.ecosystem.setup_subcommands}


def _leading_commands(run: Instruction, step: DependencyStep) -> list[Command]:
    """Set-up commands before the dependency command, which it may rely on."""
    leading = []
    for command in runs.run_commands(run):
        if command == step.command:
            break
        if _is_setup(command, step) and command.program not in _OUTPUT_ONLY:
            leading.append(command)
    return leading


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
    if cache_verb or (command.program == "rm" and removes_caches):
        return True
    # A package manager's own clean-up, as the cache table knows them (`conda clean --all`).
    return any(cache.cleans(command) for cache in package_caches.CACHES)


def _moves_whole(run: Instruction, step: DependencyStep) -> bool:
    """Whether the RUN is only dependency downloads, harmless setup and the clean-up of the
    downloads, so it can move."""
    if not step.ecosystem.moves_safely or step.kind is not StepKind.DOWNLOAD:
        return False
    for command in runs.run_commands(run):
        found = ecosystems.classify(command)
        if found is not None and found.kind is StepKind.DOWNLOAD:
            continue
        if not (_is_setup(command, step) or _is_cleanup(command)):
            return False
    return True


def _without_download(ctx: DockerfileContext, fetch: DependencyFetch) -> list[str] | None:
    """The RUN's lines without the install the fix now runs before the sources, when the
    install is its first command after set-up and ``&&`` follows it (``npm ci && npm run
    build`` keeps ``npm run build``: a second ``npm ci`` would reinstall everything). A cache
    clean-up after it stays, and the inserted RUN cleans the same way (:func:`_inserted_run`)."""
    run, step = fetch.run, fetch.step
    if step.kind is not StepKind.DOWNLOAD or not step.ecosystem.moves_safely:
        return None
    commands = runs.run_commands(run)
    index = commands.index(step.command) if step.command in commands else -1
    if index < 0 or index == len(commands) - 1:
        return None
    if not all(_is_setup(c, step) and c.program not in _OUTPUT_ONLY for c in commands[:index]):
        return None
    text = "\n".join(ctx.doc.lines[run.line - 1 : run.end_line])
    pattern = re.compile(re.escape(step.command.text))
    if len(pattern.findall(text)) != 1:
        return None
    shorter = runs.remove_command(text, pattern)
    if shorter == text:
        return None
    return shorter.split("\n")


def _without_restore(ctx: DockerfileContext, fetch: DependencyFetch) -> list[str] | None:
    """The RUN's lines with ``--no-restore`` on its .NET build, which the inserted ``dotnet
    restore`` made redundant (.NET docs, "Containerize a .NET app"); left as it is when the
    build names a runtime identifier, which the restore would have to name too."""
    step = fetch.step
    if step.ecosystem is not ecosystems.DOTNET or step.kind is not StepKind.BUILD:
        return None
    runtime = ("-r", "--runtime", "-a", "--arch", "--os", "--ucr", "--use-current-runtime")
    if any(arg.split("=", 1)[0] in runtime for arg in step.command.argv):
        return None
    text = "\n".join(ctx.doc.lines[fetch.run.line - 1 : fetch.run.end_line])
    builds = runs.command_pattern("dotnet", "build|publish|test|pack|run")
    changed = runs.add_flag(text, builds, "--no-restore", ("--no-restore",))
    return changed.split("\n") if changed != text else None


def _keeps_text(step: DependencyStep) -> bool:
    """Whether the fix runs the install as written (an explicit download that may move) rather
    than the ecosystem's dependency-only command."""
    return step.kind is StepKind.DOWNLOAD and step.ecosystem.moves_safely


def _inserted_run(
    project: DockerfileContext, fetch: DependencyFetch, change_dir: str | None
) -> str:
    """The dependency-only RUN placed before the sources, with the original's set-up and the
    cache clean-ups that follow its install (``&& npm cache clean --force``): the cache belongs
    to the layer that fills it, and the original RUN kept none."""
    step = fetch.step
    command = (
        step.command.text
        if _keeps_text(step)
        else ecosystems.canonical_command(project, step.ecosystem, step)
    )
    leading = _leading_commands(fetch.run, step)
    parts = [c.text for c in leading]
    if change_dir is not None and not any(c.program in {"cd", "pushd"} for c in leading):
        parts.append(f"cd {shlex.quote(change_dir)}")
    commands = runs.run_commands(fetch.run)
    after = commands[commands.index(step.command) + 1 :] if step.command in commands else []
    cleanups = [c.text for c in after if _is_cleanup(c)]
    return f"RUN {_run_flags(fetch.run)}" + " && ".join([*parts, command, *cleanups])


def _hazards(
    ctx: DockerfileContext,
    project: DockerfileContext,
    fetch: DependencyFetch,
    moved: bool,
    between: list[Instruction],
) -> list[str]:
    """Reasons the reordered build might not end with the same image."""
    reasons = []
    ecosystem = fetch.step.ecosystem
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
        reasons.extend(_install_reads_sources(project, ecosystem, fetch.step))
    if ecosystem is ecosystems.CARGO and "cargo clean" in _inserted_run(project, fetch, None):
        reasons.append(
            "the placeholder build compiles the dependencies without the crate's build script, "
            "benches or examples, which some manifests require"
        )
    if ecosystem is ecosystems.DOTNET and _references_outside(project):
        reasons.append(
            "the project references projects outside its folder, whose project files the "
            "restore needs too"
        )
    if ecosystem is ecosystems.PIP and fetch.step.kind is StepKind.BUILD:
        reasons.extend(_requirements_not_the_metadata(project, fetch.step))
    if ecosystem is ecosystems.CONAN:
        reasons.extend(_conan_hazards(ctx, project, fetch))
    if ecosystem is ecosystems.JULIA and "uuid" in project.toml_table("Project.toml"):
        reasons.append(
            "the project is a package (Project.toml has a `uuid`): Pkg may precompile it "
            "with its dependencies, and its sources are not there yet"
        )
    if ecosystem is ecosystems.MAVEN and "<module>" in (project.read("pom.xml") or ""):
        reasons.append(
            "`dependency:go-offline` cannot resolve sibling modules before they are built"
        )
    return reasons


_CONAN_OUTPUT = ("-of", "--output-folder", "-if", "--install-folder")


def _conan_hazards(
    ctx: DockerfileContext, project: DockerfileContext, fetch: DependencyFetch
) -> list[str]:
    """``conan install`` runs a conanfile.py's Python (``requirements()``, ``layout()``,
    ``generate()``), which may read other project files; and it writes its generated files
    into the output folder (or where it runs), which the later sources copy overwrites when
    the build context has that folder and ``.dockerignore`` does not keep it out (Conan 2
    docs, "conan install": ``--output-folder``)."""
    reasons = []
    if project.has("conanfile.py"):
        reasons.append("conanfile.py is Python and may read other project files")
    output = fetch.step.command.option(*_CONAN_OUTPUT) or "."
    folder = posixpath.normpath(posixpath.join(fetch.command_dir, output))
    if within(folder, fetch.project_dir):
        relative = posixpath.relpath(folder, fetch.project_dir)
        written = posixpath.normpath(posixpath.join(fetch.project or ".", relative))
        if written == "." or not ecosystems.is_ignored(ecosystems.ignore_patterns(ctx), written):
            place = "the project folder" if written == "." else f"`{written}`"
            reasons.append(
                f"it writes its generated files into {place}, which the sources copy replaces "
                "when the build context holds them (a local build): keep it out with "
                ".dockerignore"
            )
    return reasons


def _requirements_not_the_metadata(project: DockerfileContext, step: DependencyStep) -> list[str]:
    """``pip install .`` installs what the project's metadata declares (pip docs, "Local
    project installs"), which a requirements file installed first may not match (dev tools,
    other pins): the image would get more, unless the metadata reads that file (setuptools'
    ``dynamic`` dependencies from a file, a setup.py that opens it)."""
    files = ecosystems.existing_manifests(project, ecosystems.PIP, step)
    metadata = " ".join(project.read(n) or "" for n in ("pyproject.toml", "setup.cfg", "setup.py"))
    unread = [f for f in files if posixpath.basename(f) not in metadata]
    if not unread:
        return []
    return [
        f"the project's metadata, not `{unread[0]}`, is what the install of the project "
        "installs: packages the file lists and the metadata does not would be added to the image"
    ]


def _may_prepare(instruction: Instruction) -> bool:
    """Whether a step between the sources copy and the install may be something the install
    needs: any RUN, and a copy that is not only more sources (a manifest such as ``.npmrc``,
    or files from another stage)."""
    if instruction.keyword == "RUN":
        return True
    if instruction.keyword not in {"COPY", "ADD"}:
        return False
    sources = context_sources(instruction)
    manifest = layer_cache.SourceKind.MANIFEST
    return not sources or any(layer_cache.source_kind(s) is manifest for s in sources)


def _install_reads_sources(
    ctx: DockerfileContext, ecosystem: Ecosystem, step: DependencyStep
) -> list[str]:
    # `--ignore-scripts`: no lifecycle script of package.json runs (npm docs, "ignore-scripts";
    # Yarn and pnpm take the same flag).
    quiet = step.command.has_flag("--ignore-scripts")
    if ecosystem in (ecosystems.NPM, ecosystems.YARN, ecosystems.PNPM) and not quiet:
        package = ctx.json_object("package.json")
        if package is None:
            return ["package.json could not be read"]
        scripts = package.get("scripts")
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


def _references_outside(project: DockerfileContext) -> bool:
    """Whether a .NET project file of the folder has a ``ProjectReference`` above it."""
    files = ecosystems.matching(project, "*.*proj")
    return any(re.search(r"Include=\"\.\.[/\\]", project.read(name) or "") for name in files)


def _comment_block_above(ctx: DockerfileContext, line: int, floor: int) -> range:
    """Comment lines directly above ``line`` (down to ``floor``), which belong to it."""
    start = line
    while start - 1 > floor and ctx.doc.line_text(start - 1).lstrip().startswith("#"):
        start -= 1
    return range(start, line)


_DENO_1_TAG = re.compile(r"(^|-)1\.")


def _deno_install_helps(
    ctx: DockerfileContext, project: DockerfileContext, fetch: DependencyFetch
) -> bool:
    """Whether the inserted ``deno install`` can run and fetches something: the command
    without arguments exists since Deno 2.0 and installs what the configuration file's
    ``imports`` and package.json list (Deno docs, "deno install"), so not with a Deno 1 image
    (``denoland/deno:1.46.3``, ``alpine-1.40.0``), nor for dependencies imported by URL in
    the sources alone."""
    image = ctx.doc.resolved_base(fetch.stage)
    if image.name.endswith("denoland/deno") and _DENO_1_TAG.search(image.tag or ""):
        return False
    configs = (project.read(name) or "" for name in ("deno.json", "deno.jsonc"))
    return project.has("package.json") or any('"imports"' in text for text in configs)


def reorder_fix(
    ctx: DockerfileContext,
    project: DockerfileContext,
    fetch: DependencyFetch,
    manifests: list[str],
) -> Fix | None:
    copy, run, step = fetch.copy, fetch.run, fetch.step
    if copy is run:
        return None  # sources bind-mounted into the fetching RUN: nothing to reorder
    if step.ecosystem is ecosystems.DENO and not _deno_install_helps(ctx, project, fetch):
        return None
    workdir = workdir_before(ctx, fetch.stage, copy.line)
    already = already_copied(fetch, manifests)
    between = [i for i in fetch.stage.body if copy.line < i.line < run.line]
    moving = [i for i in between if _moves_along(i, step)]
    movable = {n for i in moving for n in range(i.line, i.end_line + 1)}
    staying = [i for i in between if i not in moving]
    moved = _moves_whole(run, step) and not staying
    lines = ctx.doc.lines
    copies = _manifest_copies(fetch, [m for m in manifests if m not in already], workdir)
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
        named = fetch.command_dir != fetch.project_dir and fetch.command_dir == workdir
        change_dir = fetch.project_dir if fetch.project_dir != workdir and not named else None
        elsewhere = change_dir is not None or fetch.command_dir != workdir
        if _keeps_text(step) and step.ecosystem.folder_operand and elsewhere:
            # `conan install ..` names its folder and writes its files relative to where it
            # runs: inserted before the sources, it must run in the same folder, unmoved
            return None
        rest_of_run = _without_download(ctx, fetch) or _without_restore(ctx, fetch)
        new_lines = [
            *head,
            _inserted_run(project, fetch, change_dir),
            *(lines[n - 1] for n in kept),
            *(rest_of_run or lines[run.line - 1 : run.end_line]),
        ]
        moved = rest_of_run is not None and fetch.step.kind is StepKind.DOWNLOAD
        description = "Copy the dependency manifests and download dependencies before the sources"
        if not copies:
            description = "Download the dependencies from the manifests before copying the sources"
    hazards = _hazards(ctx, project, fetch, moved, staying)
    if hazards:
        description += " (review: " + "; ".join(hazards) + ")"
    return Fix(
        description=description,
        safety=Safety.REVIEW if hazards else Safety.SAFE,
        edits=(Edit(copy.line, run.end_line, tuple(new_lines)),),
    )


def cached_step(project: DockerfileContext, fetch: DependencyFetch) -> str:
    """The dependency command the fixed file runs before the sources (for the impact)."""
    step = fetch.step
    if _keeps_text(step):
        return step.command.text
    parts = ecosystems.canonical_command(project, step.ecosystem, step).split(" && ")
    return next((p for p in reversed(parts) if _is_dependency_command(p)), parts[-1])


def _is_dependency_command(text: str) -> bool:
    return any(ecosystems.classify(command) for command in shell.commands(text))
