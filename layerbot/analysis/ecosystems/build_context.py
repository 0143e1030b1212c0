"""The build context seen by an ecosystem: which manifests it holds (sub-projects found by
reading the root manifest), the dependency-only command for it, and ``.dockerignore``
matching (which ignore file BuildKit uses, and whether a path is excluded).
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable

from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.ecosystems.steps import (
    DependencyStep,
    StepKind,
    conda_file,
    dotnet_project,
    kept_arguments,
    pip_requirement_files,
)
from layerbot.analysis.ecosystems.table import (
    BUN,
    BUNDLER,
    CABAL,
    CARGO,
    COMMON_DOCKERIGNORE,
    COMPOSER,
    CONAN,
    CONDA,
    CPANM,
    DOTNET,
    ECOSYSTEMS,
    GO,
    GRADLE,
    MAVEN,
    NPM,
    PIP,
    PNPM,
    POETRY,
    UV,
    YARN,
    Ecosystem,
)

_MAX_NESTING = 3


def has_dir(ctx: DockerfileContext, directory: str) -> bool:
    """Whether the context holds files in ``directory`` (or its ``wrapper/`` folder, which is
    all ``.mvn`` and ``gradle`` often contain)."""
    return any(ctx.repo.in_dir(ctx.context_file(d)) for d in (directory, f"{directory}/wrapper"))


def matching(ctx: DockerfileContext, pattern: str) -> list[str]:
    """Context-relative files matching ``pattern`` (a name, or a glob in one folder)."""
    if not any(ch in pattern for ch in "*?["):
        return [pattern] if ctx.has(pattern) else []
    folder, _, name_glob = pattern.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    names = (posixpath.basename(p) for p in ctx.repo.in_dir(ctx.context_file(folder or ".")))
    return [prefix + name for name in names if fnmatch.fnmatchcase(name, name_glob)]


# Gradle settings and Cargo workspaces only: kept as text, ``re`` compiles it when first used.
_QUOTED = r"[\"']([^\"']+)[\"']"


def _inside_context(path: str) -> str | None:
    normal = posixpath.normpath(path.replace("\\", "/"))
    return None if normal.startswith("..") or normal.startswith("/") else normal


def _maven_modules(ctx: DockerfileContext, pom: str, depth: int) -> list[str]:
    found: list[str] = []
    folder = posixpath.dirname(pom)
    for module in re.findall(r"<module>\s*([^<\s]+)\s*</module>", ctx.read(pom) or ""):
        path = _inside_context(posixpath.join(folder, module, "pom.xml"))
        if path and ctx.has(path) and path not in found:
            found.append(path)
            if depth < _MAX_NESTING:
                found.extend(_maven_modules(ctx, path, depth + 1))
    return found


def _gradle_projects(ctx: DockerfileContext) -> list[str]:
    found: list[str] = []
    for settings in ("settings.gradle", "settings.gradle.kts"):
        for line in (ctx.read(settings) or "").splitlines():
            if not line.strip().startswith("include"):
                continue
            for project in re.findall(_QUOTED, line):
                folder = _inside_context(project.strip(":").replace(":", "/"))
                for script in ("build.gradle", "build.gradle.kts"):
                    path = f"{folder}/{script}"
                    if folder and ctx.has(path) and path not in found:
                        found.append(path)
    return found


def _cargo_members(ctx: DockerfileContext) -> list[str]:
    """Workspace members and path dependencies named literally in the root Cargo.toml."""
    text = ctx.read("Cargo.toml") or ""
    candidates = _cargo_workspace_members(ctx)
    candidates.extend(re.findall(r"\bpath\s*=\s*\"([^\"]+)\"", text))
    found: list[str] = []
    for candidate in candidates:
        folder = _inside_context(candidate)
        path = f"{folder}/Cargo.toml" if folder and "*" not in folder else None
        if path and path != "./Cargo.toml" and ctx.has(path) and path not in found:
            found.append(path)
    return found


# .NET projects only: kept as text, ``re`` compiles it when first used.
_PROJECT_REFERENCE = r"[\"']([^\"']+\.(?:cs|fs|vb)proj)[\"']"


def _dotnet_projects(ctx: DockerfileContext, named: tuple[str, ...] = ()) -> list[str]:
    """Projects a top-level solution or project file (or the ``named`` one) references,
    transitively."""
    found: list[str] = []
    pending = [*matching(ctx, "*.sln"), *matching(ctx, "*.*proj"), *named]
    for index, source in enumerate(pending):
        folder = posixpath.dirname(source)
        for reference in re.findall(_PROJECT_REFERENCE, ctx.read(source) or ""):
            path = _inside_context(posixpath.join(folder, reference.replace("\\", "/")))
            if path and ctx.has(path) and path not in found and path not in pending[:index]:
                found.append(path)
                if index < _MAX_NESTING * 8:
                    pending.append(path)
    return [path for path in found if "/" in path]


def _workspace_patterns(ctx: DockerfileContext, ecosystem: Ecosystem) -> list[str]:
    """The workspaces a Node project declares: ``workspaces`` in package.json (npm, Yarn,
    Bun; an array, or Yarn's ``{"packages": [...]}``) or ``packages`` in pnpm-workspace.yaml
    (npm docs, "workspaces"; pnpm docs, "pnpm-workspace.yaml"). ``["*"]`` when the file cannot
    be read: its workspaces are then unknown."""
    if ecosystem is PNPM:
        return _pnpm_workspaces(ctx.read("pnpm-workspace.yaml"))
    manifest = ctx.json_object("package.json")
    if manifest is None:
        return ["*"]
    declared = manifest.get("workspaces")
    if isinstance(declared, dict):
        declared = declared.get("packages")
    if declared is None:
        return []
    if not isinstance(declared, list):
        return ["*"]
    return [str(entry) for entry in declared]


def declares_node_workspaces(ctx: DockerfileContext) -> bool:
    """Whether the Node project is a monorepo of workspaces (``packages`` in
    pnpm-workspace.yaml, which may hold settings alone, or ``workspaces`` in package.json):
    each workspace has its own dependencies."""
    return bool(_workspace_patterns(ctx, PNPM) or _workspace_patterns(ctx, NPM))


def _pnpm_workspaces(text: str | None) -> list[str]:
    return list(_pnpm_packages(text)) if text is not None else []


@functools.lru_cache(maxsize=64)
def _pnpm_packages(text: str) -> tuple[str, ...]:
    """``packages`` of a pnpm-workspace.yaml, read once per text (the manifests and the
    fix's check both ask)."""
    from layerbot.analysis.ci_yaml import CiYamlError, load_documents  # pnpm workspaces only

    try:
        documents = load_documents(text, "pnpm-workspace.yaml")
    except CiYamlError:
        return ("*",)
    settings = documents[0] if documents else None
    declared = settings.get("packages") if isinstance(settings, dict) else None
    if declared is None:
        return ()
    return tuple(str(entry) for entry in declared) if isinstance(declared, list) else ("*",)


def _literal(pattern: str) -> bool:
    return not any(ch in pattern for ch in "*?[!{")


def _node_workspaces(ecosystem: Ecosystem) -> Callable[[DockerfileContext], list[str]]:
    def members(ctx: DockerfileContext) -> list[str]:
        """package.json of each workspace the project names by its folder."""
        found: list[str] = []
        for pattern in filter(_literal, _workspace_patterns(ctx, ecosystem)):
            folder = _inside_context(pattern)
            path = f"{folder}/package.json" if folder and folder != "." else None
            if path and ctx.has(path) and path not in found:
                found.append(path)
        return found

    return members


_NODE = (NPM, YARN, PNPM, BUN)
_NODE_LOCAL_PROTOCOLS = ("file:", "link:", "portal:")
_DEPENDENCY_TABLES = ("dependencies", "devDependencies", "optionalDependencies")


def local_inputs(
    ctx: DockerfileContext, ecosystem: Ecosystem, step: DependencyStep | None = None
) -> list[str]:
    """The project's own files, beyond its manifests, that its dependency install reads (paths
    relative to the project, patterns where the project gives one): local packages
    (``file:../shared`` in package.json, ``path =`` in pyproject.toml, Composer ``path``
    repositories, a ``replace`` of a Go module by a folder, ``-e ./lib`` in a requirements
    file, a gem's ``path:``), the files a Gemfile's gemspec loads, uv workspace members, and
    the manifests of Node and Cargo workspace members named by a pattern. A fix that copies
    only the manifests before the install would make it fail."""
    if ecosystem in _NODE:
        return _node_local_inputs(ctx, ecosystem)
    if ecosystem in (POETRY, UV):
        return _pyproject_local_inputs(ctx, ecosystem)
    if ecosystem is PIP:
        return _requirements_local_inputs(ctx, step)
    if ecosystem is COMPOSER:
        return _composer_path_repositories(ctx)
    if ecosystem is GO:
        text = ctx.read("go.mod") or ""
        return re.findall(r"=>\s*(\.{1,2}/[^\s]*)", text)
    if ecosystem is CARGO:
        return [f"{glob.rstrip('/')}/Cargo.toml" for glob in _cargo_member_globs(ctx)]
    if ecosystem is BUNDLER:
        return _bundler_local_inputs(ctx)
    if ecosystem is CONDA:
        return _conda_pip_inputs(ctx, conda_file(step.command) if step else "environment.yml")
    if ecosystem is CONAN and step is not None:
        return _conan_profile_files(ctx, step)
    if ecosystem is CABAL:
        return _cabal_project_packages(ctx)
    return []


def _cabal_project_packages(ctx: DockerfileContext) -> list[str]:
    """The packages cabal.project names besides the folder's own (``packages: server/
    client/``, ``packages: */*.cabal``; Cabal docs, "cabal.project files": ``packages``, its
    values on the field's line and the indented lines after it): each needs its .cabal file
    for any build of the project, dependencies alone included."""
    found: list[str] = []
    inside = False
    for line in (ctx.read("cabal.project") or "").splitlines():
        field = re.match(r"packages:(.*)", line)
        if field:
            inside, values = True, field.group(1)
        elif inside and line[:1] in {" ", "\t"}:
            values = line
        else:
            inside = False
            continue
        own = {".", "./", "*.cabal", "./*.cabal"}
        found.extend(v for v in values.split() if v not in own and v not in found)
    return found


# Options naming a profile or lock file (Conan 2 docs, "conan install": `-pr`, `-pr:b`,
# `-pr:h`, `-pr:a`, `-l`; Conan 1: `--profile`, `--lockfile`).
_CONAN_FILE_OPTIONS = frozenset(
    {"-pr", "--profile", "-pr:b", "-pr:h", "-pr:a", "--profile:build", "--profile:host"}
    | {"--profile:all", "-l", "--lockfile"}
)


def _conan_profile_files(ctx: DockerfileContext, step: DependencyStep) -> list[str]:
    """Profiles and lock files of the project a ``conan install`` reads: a path
    (``--profile=../tmp/linux``) or a file of the project's folder (``-pr ci-profile``); a
    plain name otherwise is a profile of the Conan home (``default``)."""
    argv = step.command.argv
    found = []
    for index, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if name not in _CONAN_FILE_OPTIONS:
            continue
        value = value if equals else (argv[index + 1] if index + 1 < len(argv) else "")
        if value and ("/" in value or ctx.has(value)) and value not in found:
            found.append(value)
    return found


def _conda_pip_inputs(ctx: DockerfileContext, name: str) -> list[str]:
    """Files the ``pip:`` part of a conda environment file installs from (``-r
    requirements.txt``, ``-e .``, a local path; conda docs, "Managing environments": the pip
    section), relative to the environment file as conda runs pip."""
    text = ctx.read(name)
    if not text or "pip" not in text:
        return []
    from layerbot.analysis.ci_yaml import CiYamlError, load_documents  # conda projects only

    try:
        documents = load_documents(text, name)
    except CiYamlError:
        return [name]
    settings = documents[0] if documents else None
    dependencies = settings.get("dependencies") if isinstance(settings, dict) else None
    found: list[str] = []
    for entry in dependencies if isinstance(dependencies, list) else []:
        pip = entry.get("pip") if isinstance(entry, dict) else None
        for line in pip if isinstance(pip, list) else []:
            read = requirement_reads(str(line))
            if read is not None:
                found.append(posixpath.join(posixpath.dirname(name), read[1]))
    return found


def _cargo_member_globs(ctx: DockerfileContext) -> list[str]:
    """Workspace members the root Cargo.toml names by a pattern (``crates/*``; Cargo book,
    "Workspaces"): each member's manifest must be there for any build of the workspace."""
    return [member for member in _cargo_workspace_members(ctx) if not _literal(member)]


def _cargo_workspace_members(ctx: DockerfileContext) -> list[str]:
    """The members the root Cargo.toml's ``[workspace]`` names, folders or patterns."""
    members = _table(ctx.toml_table("Cargo.toml").get("workspace")).get("members")
    return [str(member) for member in members] if isinstance(members, list) else []


def _bundler_local_inputs(ctx: DockerfileContext) -> list[str]:
    """Gems the Gemfile takes from a folder (``path: "engines/admin"``), the files its
    ``gemspec`` loads, and ``vendor/cache`` when the project keeps gems there: ``bundle
    install`` installs those in preference to fetching any, and ``--local`` only from there
    or the gems already installed (Bundler docs, "bundle cache" and "bundle install")."""
    gemfile = ctx.read("Gemfile") or ""
    found: list[str] = re.findall(r"(?:\bpath:|:path\s*=>)\s*[\"']([^\"']+)", gemfile)
    if ctx.repo.in_dir(ctx.context_file("vendor/cache")):
        found.append("vendor/cache")
    if re.search(r"^\s*gemspec\b", gemfile, re.MULTILINE):
        found += [
            path for spec in matching(ctx, "*.gemspec") for path in _gemspec_requires(ctx, spec)
        ]
    return found


def _gemspec_requires(ctx: DockerfileContext, gemspec: str) -> list[str]:
    """Files of the project a gemspec loads (``require_relative "lib/app/version"``, or a
    ``require`` after putting ``lib`` on the load path), which ``bundle install`` evaluates
    for a Gemfile's ``gemspec`` (Bundler docs, "gemspec")."""
    text = ctx.read(gemspec) or ""
    folder = posixpath.dirname(gemspec)
    found = [
        posixpath.join(folder, f"{name.removesuffix('.rb')}.rb")
        for name in re.findall(r"^\s*require_relative\s*\(?\s*[\"']([^\"']+)", text, re.MULTILINE)
    ]
    if re.search(r"\$(?:LOAD_PATH|:)\s*(?:\.unshift|<<)", text):
        for name in re.findall(r"^\s*require\s*\(?\s*[\"']([^\"']+)", text, re.MULTILINE):
            path = posixpath.join(folder, "lib", f"{name}.rb")
            if ctx.has(path):
                found.append(path)
    return found


def _node_local_inputs(ctx: DockerfileContext, ecosystem: Ecosystem) -> list[str]:
    found = [
        f"{pattern.rstrip('/')}/package.json"
        for pattern in _workspace_patterns(ctx, ecosystem)
        if not _literal(pattern) and not pattern.startswith("!")
    ]
    manifest = ctx.json_object("package.json") or {}
    for table in _DEPENDENCY_TABLES:
        declared = manifest.get(table)
        for spec in declared.values() if isinstance(declared, dict) else ():
            path = _node_local_path(spec) if isinstance(spec, str) else None
            if path and path not in found:
                found.append(path)
    return found


def _node_local_path(spec: str) -> str | None:
    """The folder a dependency specifier installs from, when it is a local one (npm docs,
    package.json "Local Paths"; Yarn's ``link:`` and ``portal:`` protocols)."""
    for protocol in _NODE_LOCAL_PROTOCOLS:
        if spec.startswith(protocol):
            return spec[len(protocol) :] or "."
    return spec if spec.startswith(("./", "../", "/", "~/")) else None


def _pyproject_local_inputs(ctx: DockerfileContext, ecosystem: Ecosystem) -> list[str]:
    """Poetry's ``path`` dependencies (Poetry docs, "Dependency specification": path
    dependencies), uv's ``path`` sources and workspace members (uv docs, "Workspaces")."""
    tool = _table(ctx.toml_table("pyproject.toml").get("tool"))
    if ecosystem is POETRY:
        poetry = _table(tool.get("poetry"))
        tables = [_table(poetry.get("dependencies")), _table(poetry.get("dev-dependencies"))]
        groups = _table(poetry.get("group")).values()
        tables += [_table(_table(group).get("dependencies")) for group in groups]
        return _paths([spec for table in tables for spec in table.values()])
    uv = _table(tool.get("uv"))
    members = _table(uv.get("workspace")).get("members")
    workspace = (
        [str(m) for m in members if m not in (".", "./")] if isinstance(members, list) else []
    )
    return _paths(list(_table(uv.get("sources")).values())) + workspace


def declares_python_dependencies(ctx: DockerfileContext) -> bool:
    """Whether the Python project in ``ctx`` declares dependencies that installing it
    (``pip install .``, ``python setup.py install``) downloads: ``[project] dependencies``
    or dynamic dependencies in pyproject.toml (PyPA, "pyproject.toml specification"), Poetry's
    dependencies besides ``python``, or ``install_requires`` in setup.cfg or setup.py
    (setuptools docs, "Dependencies Management"). A setup.py is code, so its text is searched."""
    pyproject = ctx.toml_table("pyproject.toml")
    project = _table(pyproject.get("project"))
    dynamic = project.get("dynamic")
    if project.get("dependencies") or (isinstance(dynamic, list) and "dependencies" in dynamic):
        return True
    poetry = _table(_table(pyproject.get("tool")).get("poetry"))
    if set(_table(poetry.get("dependencies"))) - {"python"}:
        return True
    setup_cfg = ctx.read("setup.cfg") or ""
    if re.search(r"^install_requires\s*=\s*(\S|\n[ \t]+\S)", setup_cfg, re.MULTILINE):
        return True
    return "install_requires" in (ctx.read("setup.py") or "")


def _paths(specs: list[object]) -> list[str]:
    """The ``path`` of each dependency given as a table with one."""
    return [str(spec["path"]) for spec in specs if isinstance(spec, dict) and "path" in spec]


def _table(value: object) -> dict[str, object]:
    """``value`` when it is a TOML table, else an empty one (a hand-written file may hold
    anything)."""
    return value if isinstance(value, dict) else {}


def _requirements_local_inputs(ctx: DockerfileContext, step: DependencyStep | None) -> list[str]:
    """Local projects a requirements file installs (``-e ./lib``, ``./pkg``, ``file:``), and
    the folder of the project a ``--find-links`` names (``--no-index --find-links=./wheels``:
    pip docs, "pip install", the archives there are what it installs)."""
    links = step.command.option("-f", "--find-links") if step else None
    found: list[str] = []
    if links and "://" not in links and not links.startswith("/"):
        found.append(posixpath.normpath(links))
    for name in matching(ctx, "requirements*.txt") + matching(ctx, "requirements/*.txt"):
        for line in (ctx.read(name) or "").splitlines():
            read = requirement_reads(line)
            if read is not None and read[0] == "project":
                found.append(read[1])
    return found


_PIP_INCLUDES = ("-r", "--requirement", "-c", "--constraint")
_PIP_EDITABLE = ("-e", "--editable")


def requirement_reads(line: str) -> tuple[str, str] | None:
    """What a requirements-file line reads besides package indexes (pip docs, "Requirements
    File Format"): ``("file", path)`` for another requirements or constraints file it
    includes (``-r base.txt``, ``--constraint=pins.txt``), ``("project", path)`` for a
    project installed from a folder (``-e ./lib``, ``./pkg``, a ``file:`` URL)."""
    words = line.split("#", 1)[0].split()
    if not words:
        return None
    option, equals, attached = words[0].partition("=")
    if option in _PIP_INCLUDES or option in _PIP_EDITABLE:
        value = attached if equals else (words[1] if len(words) > 1 else "")
        if option in _PIP_INCLUDES:
            return ("file", value) if value else None
        words = [value]
    target = words[0]
    if target.startswith("file:"):
        target = target[len("file:") :].removeprefix("//")
    if target.startswith(("./", "../", "/")) or target in (".", ".."):
        return ("project", target)
    return None


def _composer_path_repositories(ctx: DockerfileContext) -> list[str]:
    """Composer ``path`` repositories (Composer docs, "Repositories": path)."""
    manifest = ctx.json_object("composer.json") or {}
    repositories = manifest.get("repositories")
    if isinstance(repositories, dict):
        repositories = list(repositories.values())
    if not isinstance(repositories, list):
        return []
    return [
        str(repository["url"])
        for repository in repositories
        if isinstance(repository, dict) and repository.get("type") == "path" and "url" in repository
    ]


_NESTED: dict[str, Callable[[DockerfileContext], list[str]]] = {
    "npm": _node_workspaces(NPM),
    "yarn": _node_workspaces(YARN),
    "pnpm": _node_workspaces(PNPM),
    "bun": _node_workspaces(BUN),
    "maven": lambda ctx: _maven_modules(ctx, "pom.xml", 1),
    "gradle": _gradle_projects,
    "cargo": _cargo_members,
    "dotnet": _dotnet_projects,
}


def detect(ctx: DockerfileContext) -> list[Ecosystem]:
    """Ecosystems whose marker files are in the build context, in table order.

    npm is reported only when no Yarn, pnpm or Bun lockfile claims the package.json.
    The markers are names (or globs) of files at the context's root: its folder is listed
    once, rather than asked about each of the table's markers.
    """
    names = {posixpath.basename(path) for path in ctx.repo.in_dir(ctx.context_file("."))}
    found = [e for e in ECOSYSTEMS if any(_listed(names, m) for m in e.markers)]
    if NPM in found and (YARN in found or PNPM in found or BUN in found):
        found.remove(NPM)
    return found


def _listed(names: set[str], marker: str) -> bool:
    if "*" in marker or "?" in marker or "[" in marker:
        return any(fnmatch.fnmatchcase(name, marker) for name in names)
    return marker in names


def existing_manifests(
    ctx: DockerfileContext, ecosystem: Ecosystem, step: DependencyStep | None = None
) -> list[str]:
    """Context-relative manifest files and folders that exist, in a stable copy order.

    For pip, the requirement files the command names come first (and alone, when it names
    any that exist). Folders (``.mvn``, ``gradle``) are returned with a trailing ``/``.
    """
    if ecosystem is PIP and step is not None:
        named = [name for name in pip_requirement_files(step.command) if ctx.has(name)]
        if named:
            return _with_nested_requirements(ctx, named)
    if ecosystem is CONDA and step is not None and ctx.has(conda_file(step.command)):
        return [conda_file(step.command)]
    cpanfile = step.command.option("--cpanfile") if ecosystem is CPANM and step else None
    if cpanfile and ctx.has(cpanfile):  # `cpanm --cpanfile cpanfile.prod --installdeps .`
        snapshot = f"{cpanfile}.snapshot"
        return [cpanfile, snapshot] if ctx.has(snapshot) else [cpanfile]
    found: list[str] = []
    for pattern in ecosystem.manifests:
        found.extend(name for name in matching(ctx, pattern) if name not in found)
    nested = _NESTED.get(ecosystem.name)
    if nested is not None:
        found.extend(name for name in nested(ctx) if name not in found)
    project = dotnet_project(step.command) if ecosystem is DOTNET and step else None
    for match in matching(ctx, project) if project else []:  # `src/*.sln` too
        target = posixpath.normpath(match)
        found.extend(p for p in [target, *_dotnet_projects(ctx, (target,))] if p not in found)
    found.extend(f"{d}/" for d in ecosystem.manifest_dirs if has_dir(ctx, d))
    return found


def canonical_command(
    ctx: DockerfileContext, ecosystem: Ecosystem, step: DependencyStep | None = None
) -> str:
    """The dependency-only command for this project, in the flavour the Dockerfile uses.

    Wrapper scripts stay wrappers (``./mvnw``, ``./gradlew``), Yarn 2+ (``.yarnrc.yml``)
    gets ``--immutable``, pip installs the requirement files that exist, ``dotnet restore``
    names the project or solution when there is a choice, and Cargo gets placeholder targets
    (a manifest without ``src/main.rs`` or ``src/lib.rs`` does not parse) that the later
    ``COPY . .`` overwrites. The original's options that choose what it installs, or where
    the project is, come along (``poetry install --without dev``: ``poetry install --no-root
    --without dev``; see :class:`Ecosystem`).
    """
    command = _dependency_only(ctx, ecosystem, step)
    kept = kept_arguments(step) if step is not None else []
    return " ".join([command, *map(shlex.quote, kept)])


def _dependency_only(
    ctx: DockerfileContext, ecosystem: Ecosystem, step: DependencyStep | None
) -> str:
    program = step.command.argv[0] if step else ""
    if ecosystem is MAVEN and program.endswith("mvnw"):
        return f"{program} -B dependency:go-offline"
    if ecosystem is GRADLE and program.endswith("gradlew"):
        return f"{program} dependencies --no-daemon"
    if ecosystem is YARN and ctx.has(".yarnrc.yml"):
        return "yarn install --immutable"
    if ecosystem is PIP:
        return _pip_command(ctx, step) or ecosystem.command
    if ecosystem is DOTNET:
        target = _dotnet_target(ctx, step)
        if target is None:
            return ecosystem.command
        # A glob the build names (`src/*.sln`) stays unquoted: the shell expands it, as there.
        glob = any(ch in target for ch in "*?[") and not any(ch in target for ch in " '\"$")
        return f"dotnet restore {target if glob else shlex.quote(target)}"
    if ecosystem is CARGO:
        return " && ".join([*_cargo_placeholders(ctx), *_cargo_dependency_build(ctx, step)])
    return ecosystem.command


def _with_nested_requirements(ctx: DockerfileContext, files: list[str]) -> list[str]:
    """The requirement files and those they include with ``-r``/``-c`` (relative to the file
    that names them; pip docs, "Requirements File Format"), transitively."""
    found = list(files)
    for name in found:  # grows while it is read
        for line in (ctx.read(name) or "").splitlines():
            read = requirement_reads(line)
            if read is None or read[0] != "file":
                continue
            path = _inside_context(posixpath.join(posixpath.dirname(name), read[1]))
            if path and ctx.has(path) and path not in found and len(found) < 64:
                found.append(path)
    return found


def _pip_command(ctx: DockerfileContext, step: DependencyStep | None) -> str | None:
    files = [m for m in existing_manifests(ctx, PIP, step) if not m.endswith("/")]
    requirements = [f for f in files if "constraints" not in posixpath.basename(f)]
    if step is None and "requirements.txt" in requirements:
        requirements = ["requirements.txt"]
    if not requirements:
        return None
    words = ["pip", "install"]
    if step is not None:
        argv = list(step.command.argv)
        words = [*(argv[: argv.index("pip") + 1] if "pip" in argv[:3] else argv[:1]), "install"]
        if step.command.has_flag("--no-cache-dir"):
            words.append("--no-cache-dir")
    return shlex.join([*words, *(arg for f in requirements for arg in ("-r", f))])


def _dotnet_target(ctx: DockerfileContext, step: DependencyStep | None) -> str | None:
    """What to restore when a bare ``dotnet restore`` would find several candidates."""
    named = dotnet_project(step.command) if step is not None else None
    if named:
        return named
    solutions = matching(ctx, "*.sln")
    if solutions:
        return solutions[0]
    projects = matching(ctx, "*.*proj")
    return projects[0] if len(projects) > 1 else None


def _cargo_placeholders(ctx: DockerfileContext) -> list[str]:
    commands_: list[str] = []
    for manifest in ["Cargo.toml", *_cargo_members(ctx)]:
        folder = posixpath.dirname(manifest)
        src = posixpath.join(folder, "src") if folder else "src"
        targets = [name for name in ("main.rs", "lib.rs") if ctx.has(f"{src}/{name}")]
        if not targets:
            continue
        commands_.append(f"mkdir -p {src}")
        for name in targets:
            body = "fn main() {}" if name == "main.rs" else ""
            commands_.append(f"echo '{body}' > {src}/{name}")
    return commands_


# Options of ``cargo build`` that choose what is compiled, so the placeholder build compiles
# the dependencies the real one needs; the profile options also tell ``cargo clean`` which
# artifacts to drop.
_CARGO_PROFILE_FLAGS = frozenset({"--release", "--profile", "--target"})
_CARGO_BUILD_FLAGS = _CARGO_PROFILE_FLAGS | frozenset(
    {"--locked", "--features", "-F", "--all-features", "--no-default-features"}
)


def _cargo_dependency_build(ctx: DockerfileContext, step: DependencyStep | None) -> list[str]:
    """``cargo fetch``, or for a ``cargo build`` the same build on the placeholders followed
    by ``cargo clean -p`` of the project's own packages: the dependencies stay compiled in
    ``target/``, and the real sources, copied later with their older timestamps, are rebuilt
    rather than taken for up to date (the dummy-main pattern, without its stale-binary trap)."""
    if step is None or step.kind is not StepKind.BUILD or step.command.subcommand != "build":
        return [CARGO.command]
    packages = _cargo_packages(ctx)
    if not packages:
        return [CARGO.command]
    build = _kept_options(step.command.argv, _CARGO_BUILD_FLAGS)
    profile = _kept_options(step.command.argv, _CARGO_PROFILE_FLAGS)
    clean = [word for name in packages for word in ("-p", name)]
    return [
        shlex.join(["cargo", "build", *build]),
        shlex.join(["cargo", "clean", *clean, *profile]),
    ]


def _kept_options(argv: tuple[str, ...], wanted: frozenset[str]) -> list[str]:
    """The options of ``argv`` named in ``wanted``, with their values."""
    kept: list[str] = []
    takes_value = {"--profile", "--target", "--features", "-F"}
    for index, arg in enumerate(argv):
        name = arg.split("=", 1)[0]
        if name in wanted:
            kept.append(arg)
            if name in takes_value and "=" not in arg and index + 1 < len(argv):
                kept.append(argv[index + 1])
    return kept


# Cargo manifests only: kept as text, ``re`` compiles it when first used.
_PACKAGE_NAME = r"(?ms)^\[package\][^\[]*?^name\s*=\s*\"([^\"]+)\""


def _cargo_packages(ctx: DockerfileContext) -> list[str]:
    """Names of the packages of the root manifest and its workspace members."""
    names = []
    for manifest in ["Cargo.toml", *_cargo_members(ctx)]:
        found = re.search(_PACKAGE_NAME, ctx.read(manifest) or "")
        if found and found.group(1) not in names:
            names.append(found.group(1))
    return names


# --- .dockerignore ----------------------------------------------------------------------------


def dockerignore_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, comments and blanks dropped."""
    patterns = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            patterns.append(posixpath.normpath(stripped.lstrip("/")) if stripped != "!" else "!")
    return patterns


@functools.lru_cache(maxsize=1024)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching, closely enough: globs per segment, ``**`` any depth, and a folder
    pattern also excludes everything under it."""
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex + "(?:/.*)?")


def _pattern_matches(pattern: str, path: str) -> bool:
    if "*" not in pattern and "?" not in pattern:  # most entries name a path: no regex to build
        return path == pattern or (
            path.startswith(pattern + "/") and "\n" not in path[len(pattern) :]
        )
    return _pattern_regex(pattern).fullmatch(path) is not None


def is_ignored(patterns: Iterable[str], path: str) -> bool:
    """Whether .dockerignore ``patterns`` keep context-relative ``path`` out of the context;
    later patterns win and ``!pattern`` re-includes, as in Docker."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        if _pattern_matches(body, path.rstrip("/")):
            ignored = not negated
    return ignored


@functools.lru_cache(maxsize=256)
def _is_plain_folder(entry: str) -> bool:
    """A bare name such as ``build`` (not ``.env``, ``*.log`` or ``a/b``): asked of the same
    few table entries for every build context."""
    return re.fullmatch(r"[\w.-]+", entry) is not None and not entry.startswith(".")


def dockerignore_entries(ctx: DockerfileContext, ecosystems: Iterable[Ecosystem]) -> list[str]:
    """A .dockerignore body for these ecosystems: common entries first, then each ecosystem's.

    An output-folder entry (``build``, ``dist``, ``log``) is left out when that folder holds
    files in the repository view, since some projects keep sources there; dependency folders
    the install writes (``node_modules``, ``vendor``) are always listed.
    """
    ecosystems = list(ecosystems)
    install_dirs = {d for eco in ecosystems for d in eco.install_dirs}
    entries: list[str] = []
    for entry in (*COMMON_DOCKERIGNORE, *(e for eco in ecosystems for e in eco.dockerignore)):
        if entry in entries:
            continue
        plain_folder = _is_plain_folder(entry)
        if plain_folder and entry not in install_dirs and ctx.repo.in_dir(ctx.context_file(entry)):
            continue
        entries.append(entry)
    return entries


def dockerignore_path(ctx: DockerfileContext) -> str | None:
    """Repository path of the ignore file BuildKit uses for this build, if any.

    ``<Dockerfile>.dockerignore`` next to the Dockerfile takes precedence over the
    ``.dockerignore`` at the root of the build context (Docker docs, "Build context:
    .dockerignore files").
    """
    for candidate in (f"{ctx.doc.path}.dockerignore", ctx.context_file(".dockerignore")):
        if ctx.repo.exists(candidate):
            return candidate
    return None


def ignore_patterns(ctx: DockerfileContext) -> list[str]:
    """The patterns of the build's effective ignore file ([] without one)."""
    path = dockerignore_path(ctx)
    return dockerignore_patterns(ctx.repo.read(path) or "") if path else []
