"""Package ecosystems: their manifests, dependency steps, caches and build outputs.

One table answers the questions several rules ask: which files a dependency install reads
(so a fix copies exactly those first), how to recognise the install in a ``RUN``, the
dependency-only command when the install is hidden inside a build (``go build``), where the
download cache lives (for BuildKit cache mounts) and what a ``.dockerignore`` should keep out.

Manifest names follow each tool's documentation: Go modules (go.mod, go.sum), npm
(package.json, package-lock.json, npm-shrinkwrap.json, .npmrc), Yarn (yarn.lock, .yarnrc.yml
and .yarn/releases for Yarn 2+), pnpm (pnpm-lock.yaml, pnpm-workspace.yaml), pip
(requirements files), Poetry (pyproject.toml, poetry.lock), uv (pyproject.toml, uv.lock),
Pipenv (Pipfile, Pipfile.lock), Maven (pom.xml, .mvn/, mvnw), Gradle (build and settings
scripts, gradle.properties, gradle/ with the wrapper and version catalog), Cargo
(Cargo.toml, Cargo.lock), Bundler (Gemfile, Gemfile.lock, *.gemspec), Composer
(composer.json, composer.lock) and NuGet/.NET (*.sln, *.csproj, NuGet.config,
Directory.*.props, global.json).
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.runs import cache_mount_targets
from layerbot.analysis.shell import Command, commands


class StepKind(StrEnum):
    """``download``: the command only fetches dependencies; ``build``: it fetches them as a
    side effect of building or installing the project itself, so it needs the sources."""

    DOWNLOAD = "download"
    BUILD = "build"


@dataclass(frozen=True)
class Ecosystem:
    """What layerbot knows about one package manager.

    ``manifests`` are context-relative names or globs, in the order a fix copies them;
    Sub-project manifests (Maven modules, Gradle projects, Cargo workspace members, .NET
    projects of a solution) are found by reading the root manifest, not by listing folders.
    ``manifest_dirs`` are folders the install reads (.mvn, gradle/, .yarn/releases).
    ``install_dirs`` are folders the install writes inside the project, which a later
    ``COPY . .`` would overwrite with the host's copy unless ``.dockerignore`` keeps it out.
    ``store_is_cache`` marks ecosystems whose download cache is also where builds read the
    dependencies from (Go's module cache, ~/.m2, Gradle's caches, Cargo's registry, NuGet's
    packages): a cache mount must then be on every step that uses them.
    ``moves_safely`` says whether the install itself can run before the sources arrive
    (Composer's runs scripts and builds the autoloader, so its fix inserts a
    dependency-only install instead of moving the original).
    """

    name: str
    label: str
    markers: tuple[str, ...]
    manifests: tuple[str, ...]
    command: str
    cache_dirs: tuple[str, ...]
    dockerignore: tuple[str, ...]
    manifest_dirs: tuple[str, ...] = ()
    install_dirs: tuple[str, ...] = ()
    moves_safely: bool = True
    store_is_cache: bool = False


@dataclass(frozen=True)
class DependencyStep:
    """A dependency command found in a RUN."""

    ecosystem: Ecosystem
    kind: StepKind
    command: Command


_PYTHON_IGNORES = (
    "**/__pycache__",
    "**/*.py[cod]",
    ".venv",
    "venv",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    "*.egg-info",
    "dist",
    "build",
)
_NODE_IGNORES = ("**/node_modules", "npm-debug.log*", "yarn-error.log*", "coverage", "dist")

GO = Ecosystem(
    name="go",
    label="Go",
    markers=("go.mod",),
    manifests=("go.mod", "go.sum"),
    command="go mod download",
    cache_dirs=("/go/pkg/mod", "/root/.cache/go-build"),
    dockerignore=("*.test", "*.out"),
    store_is_cache=True,
)
NPM = Ecosystem(
    name="npm",
    label="npm",
    markers=("package-lock.json", "npm-shrinkwrap.json", "package.json"),
    manifests=("package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"),
    command="npm ci",
    cache_dirs=("/root/.npm",),
    dockerignore=_NODE_IGNORES,
    install_dirs=("node_modules",),
)
YARN = Ecosystem(
    name="yarn",
    label="Yarn",
    markers=("yarn.lock",),
    manifests=("package.json", "yarn.lock", ".yarnrc.yml", ".yarnrc", ".npmrc"),
    manifest_dirs=(".yarn/releases", ".yarn/plugins", ".yarn/patches"),
    command="yarn install --frozen-lockfile",
    cache_dirs=("/usr/local/share/.cache/yarn",),
    dockerignore=(*_NODE_IGNORES, ".yarn/cache", ".yarn/install-state.gz"),
    install_dirs=("node_modules",),
)
PNPM = Ecosystem(
    name="pnpm",
    label="pnpm",
    markers=("pnpm-lock.yaml",),
    manifests=("package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc"),
    command="pnpm install --frozen-lockfile",
    cache_dirs=("/root/.local/share/pnpm/store",),
    dockerignore=(*_NODE_IGNORES, ".pnpm-store"),
    install_dirs=("node_modules",),
)
PIP = Ecosystem(
    name="pip",
    label="pip",
    markers=("requirements*.txt",),
    manifests=("requirements*.txt", "requirements/*.txt", "constraints*.txt"),
    command="pip install -r requirements.txt",
    cache_dirs=("/root/.cache/pip",),
    dockerignore=_PYTHON_IGNORES,
)
POETRY = Ecosystem(
    name="poetry",
    label="Poetry",
    markers=("poetry.lock",),
    manifests=("pyproject.toml", "poetry.lock", "poetry.toml"),
    command="poetry install --no-root",
    # not the whole cache dir: Poetry keeps its virtualenvs in {cache-dir}/virtualenvs
    cache_dirs=("/root/.cache/pypoetry/cache", "/root/.cache/pypoetry/artifacts"),
    dockerignore=_PYTHON_IGNORES,
)
UV = Ecosystem(
    name="uv",
    label="uv",
    markers=("uv.lock",),
    manifests=("pyproject.toml", "uv.lock", ".python-version"),
    command="uv sync --frozen --no-install-project",
    cache_dirs=("/root/.cache/uv",),
    dockerignore=_PYTHON_IGNORES,
    install_dirs=(".venv",),
)
PIPENV = Ecosystem(
    name="pipenv",
    label="Pipenv",
    markers=("Pipfile",),
    manifests=("Pipfile", "Pipfile.lock"),
    command="pipenv install --deploy",
    cache_dirs=("/root/.cache/pipenv", "/root/.cache/pip"),
    dockerignore=_PYTHON_IGNORES,
)
MAVEN = Ecosystem(
    name="maven",
    label="Maven",
    markers=("pom.xml",),
    manifests=("pom.xml", "mvnw"),
    manifest_dirs=(".mvn",),
    command="mvn -B dependency:go-offline",
    cache_dirs=("/root/.m2",),
    dockerignore=("target", "**/target"),
    store_is_cache=True,
)
GRADLE = Ecosystem(
    name="gradle",
    label="Gradle",
    markers=("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"),
    manifests=(
        "settings.gradle",
        "settings.gradle.kts",
        "build.gradle",
        "build.gradle.kts",
        "gradle.properties",
        "gradlew",
    ),
    manifest_dirs=("gradle", "buildSrc"),
    command="gradle dependencies --no-daemon",
    cache_dirs=("/root/.gradle/caches",),
    dockerignore=(".gradle", "build", "**/build"),
    store_is_cache=True,
)
CARGO = Ecosystem(
    name="cargo",
    label="Cargo",
    markers=("Cargo.toml",),
    manifests=("Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "rust-toolchain"),
    manifest_dirs=(".cargo",),
    command="cargo fetch",
    cache_dirs=("/usr/local/cargo/registry", "/usr/local/cargo/git"),
    dockerignore=("target", "**/*.rs.bk"),
    store_is_cache=True,
)
BUNDLER = Ecosystem(
    name="bundler",
    label="Bundler",
    markers=("Gemfile",),
    manifests=("Gemfile", "Gemfile.lock", "*.gemspec", ".ruby-version"),
    command="bundle install",
    cache_dirs=("/usr/local/bundle/cache",),
    dockerignore=("vendor/bundle", ".bundle", "log", "tmp", "coverage"),
)
MIX = Ecosystem(
    name="mix",
    label="Mix (Hex)",
    markers=("mix.exs",),
    manifests=("mix.exs", "mix.lock"),
    command="mix deps.get",
    cache_dirs=("/root/.hex", "/root/.cache/hex"),
    dockerignore=("_build", "deps", "cover"),
    install_dirs=("deps",),
)
COMPOSER = Ecosystem(
    name="composer",
    label="Composer",
    markers=("composer.json",),
    manifests=("composer.json", "composer.lock"),
    command="composer install --no-scripts --no-autoloader",
    cache_dirs=("/root/.composer/cache",),
    dockerignore=("vendor", "var/cache", "var/log"),
    install_dirs=("vendor",),
    moves_safely=False,
)
DOTNET = Ecosystem(
    name="dotnet",
    label=".NET (NuGet)",
    markers=("*.sln", "*.csproj", "*.fsproj", "*.vbproj"),
    manifests=(
        "*.sln",
        "*.slnx",
        "global.json",
        "NuGet.config",
        "nuget.config",
        "Directory.Build.props",
        "Directory.Packages.props",
        "*.csproj",
        "*.fsproj",
        "*.vbproj",
        "packages.lock.json",
    ),
    command="dotnet restore",
    cache_dirs=("/root/.nuget/packages",),
    dockerignore=("**/bin", "**/obj", "*.user"),
    install_dirs=("obj",),
    store_is_cache=True,
)

ECOSYSTEMS: tuple[Ecosystem, ...] = (
    GO,
    NPM,
    YARN,
    PNPM,
    PIP,
    POETRY,
    UV,
    PIPENV,
    MAVEN,
    GRADLE,
    CARGO,
    BUNDLER,
    MIX,
    COMPOSER,
    DOTNET,
)

COMMON_DOCKERIGNORE = (
    ".git",
    ".gitlab-ci.yml",
    ".idea",
    ".vscode",
    "**/.DS_Store",
    "*.log",
    ".env",
    ".env.*",
    "!.env.example",
)

_MAX_NESTING = 3


def by_name(name: str) -> Ecosystem:
    for ecosystem in ECOSYSTEMS:
        if ecosystem.name == name:
            return ecosystem
    raise KeyError(name)


# --- recognising dependency steps -------------------------------------------------------------


def run_commands(instruction: Instruction) -> list[Command]:
    """The simple commands a RUN executes (exec form is one command)."""
    args = instruction.exec_args()
    if args is not None:
        if len(args) >= 3 and args[0].rsplit("/", 1)[-1] in {"sh", "bash"} and args[1] == "-c":
            return commands(args[2])
        return [Command(tuple(args), shlex.join(args))] if args else []
    return commands(instruction.script)


# Options whose value is the next argument, so it is not a subcommand, goal or task.
_NODE_VALUE_FLAGS = frozenset({"--prefix", "--cwd", "-C", "--dir", "--filter", "-F", "-w"})
_MAVEN_VALUE_FLAGS = frozenset(
    {"-s", "--settings", "-gs", "-f", "--file", "-P", "-pl", "--projects", "-T", "-rf", "-l"}
)
_GRADLE_VALUE_FLAGS = frozenset(
    {"-p", "--project-dir", "-x", "--exclude-task", "-I", "--init-script", "-g", "-c"}
)


def _words(command: Command, value_flags: frozenset[str] = frozenset()) -> list[str]:
    """Arguments after the program that are neither flags nor the values of ``value_flags``."""
    words = []
    skip = False
    for arg in command.argv[1:]:
        if skip:
            skip = False
        elif arg in value_flags:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


_GO_BUILDS = frozenset({"build", "install", "test", "run", "vet", "get", "list", "generate"})


def _go(command: Command) -> StepKind | None:
    """``go install tool@v1`` and ``go run tool@v1`` fetch a module of their own, not the
    project's: they are not dependency steps."""
    words = _words(command, frozenset({"-o", "-C", "-tags", "-ldflags", "-gcflags", "-mod"}))
    if words[:2] == ["mod", "download"]:
        return StepKind.DOWNLOAD
    if words[:1] in (["install"], ["run"]) and any("@" in word for word in words[1:]):
        return None
    if (words and words[0] in _GO_BUILDS) or words[:2] == ["mod", "tidy"]:
        return StepKind.BUILD
    return None


def _global(command: Command) -> bool:
    return command.has_flag("-g", "--global") or "global" in _words(command)[:1]


def _npm(command: Command) -> StepKind | None:
    words = _words(command, _NODE_VALUE_FLAGS)
    if _global(command) or not words:
        return None
    return StepKind.DOWNLOAD if words[0] in {"ci", "install", "i", "clean-install"} else None


def _yarn(command: Command) -> StepKind | None:
    words = _words(command, _NODE_VALUE_FLAGS)
    if _global(command):
        return None
    return StepKind.DOWNLOAD if not words or words[0] == "install" else None


def _pnpm(command: Command) -> StepKind | None:
    words = _words(command, _NODE_VALUE_FLAGS)
    if _global(command) or not words:
        return None
    return StepKind.DOWNLOAD if words[0] in {"install", "i", "fetch"} else None


def _pip_arguments(command: Command) -> list[str] | None:
    """The arguments after ``install``/``sync`` for pip, ``python -m pip`` and ``uv pip``."""
    argv = list(command.argv)
    program = command.program
    if re.fullmatch(r"python[0-9.]*", program) and argv[1:3] == ["-m", "pip"]:
        argv = argv[2:]
    elif program == "uv" and len(argv) > 1 and argv[1] == "pip":
        argv = argv[1:]
    elif not re.fullmatch(r"pip[0-9.]*", program):
        return None
    words = [arg for arg in argv[1:] if not arg.startswith("-")]
    if not words or words[0] not in {"install", "sync"}:
        return None
    return argv[argv.index(words[0]) + 1 :]


def _pip(command: Command) -> StepKind | None:
    arguments = _pip_arguments(command)
    if arguments is None:
        return None
    if any(arg.startswith(("-r", "--requirement", "-c", "--constraint")) for arg in arguments):
        local = [arg for arg in arguments if arg in {".", "./"} or arg.startswith(("./", "-e"))]
        return StepKind.BUILD if local else StepKind.DOWNLOAD
    if "sync" in command.argv[:3]:  # pip-sync style: ``uv pip sync requirements.txt``
        return StepKind.DOWNLOAD if arguments and arguments[0].endswith(".txt") else None
    local = [arg for arg in arguments if arg in {".", "./", "-e", "--editable"}]
    return StepKind.BUILD if local else None


def pip_requirement_files(command: Command) -> list[str]:
    """The files a pip command installs from (``-r FILE``, ``--requirement=FILE``, ``-c``)."""
    arguments = _pip_arguments(command) or []
    files: list[str] = []
    take_next = False
    for arg in arguments:
        if take_next:
            files.append(arg)
            take_next = False
        elif arg in {"-r", "--requirement", "-c", "--constraint"}:
            take_next = True
        elif arg.startswith(("--requirement=", "--constraint=")):
            files.append(arg.split("=", 1)[1])
        elif arg.startswith(("-r", "-c")) and len(arg) > 2:
            files.append(arg[2:])
        elif arg.endswith(".txt") and "sync" in command.argv:
            files.append(arg)
    return files


def _poetry(command: Command) -> StepKind | None:
    words = _words(command)
    if not words or words[0] not in {"install", "sync"}:
        return None
    return StepKind.DOWNLOAD if command.has_flag("--no-root") else StepKind.BUILD


def _uv(command: Command) -> StepKind | None:
    words = _words(command)
    if not words or words[0] != "sync":
        return None
    dependency_only = command.has_flag("--no-install-project", "--no-install-workspace")
    return StepKind.DOWNLOAD if dependency_only else StepKind.BUILD


def _pipenv(command: Command) -> StepKind | None:
    words = _words(command)
    return StepKind.DOWNLOAD if words[:1] in (["install"], ["sync"]) else None


def _maven(command: Command) -> StepKind | None:
    goals = _words(command, _MAVEN_VALUE_FLAGS)
    if not goals or command.has_flag("-o", "--offline"):
        return None
    if all(goal.startswith("dependency:") for goal in goals):
        return StepKind.DOWNLOAD
    return StepKind.BUILD


def _gradle(command: Command) -> StepKind | None:
    tasks = _words(command, _GRADLE_VALUE_FLAGS)
    if not tasks or command.has_flag("--offline"):
        return None
    if all(task in {"dependencies", "androidDependencies"} for task in tasks):
        return StepKind.DOWNLOAD
    return StepKind.BUILD


def _cargo(command: Command) -> StepKind | None:
    """``cargo chef cook`` builds the dependencies from a recipe (cargo-chef's README);
    ``cargo chef prepare`` reads the sources on purpose and fetches nothing; ``--offline`` and
    ``--frozen`` (which implies it, per ``cargo help build``) never touch the network."""
    words = _words(command, frozenset({"--recipe-path", "--target", "--bin", "-p", "--package"}))
    if not words or command.has_flag("--offline", "--frozen"):
        return None
    if words[0] == "fetch" or words[:2] == ["chef", "cook"]:
        return StepKind.DOWNLOAD
    if words[0] == "install":
        return StepKind.BUILD if command.has_flag("--path") else None
    return StepKind.BUILD if words[0] in {"build", "test", "run", "check", "vendor"} else None


def _bundler(command: Command) -> StepKind | None:
    words = _words(command)
    return StepKind.DOWNLOAD if not words or words[0] == "install" else None


def _mix(command: Command) -> StepKind | None:
    return StepKind.DOWNLOAD if _words(command)[:1] == ["deps.get"] else None


def _composer(command: Command) -> StepKind | None:
    words = _words(command)
    return StepKind.DOWNLOAD if words[:1] == ["install"] else None


def _dotnet(command: Command) -> StepKind | None:
    words = _words(command)
    if not words or command.has_flag("--no-restore"):
        return None
    if words[0] == "restore":
        return StepKind.DOWNLOAD
    return StepKind.BUILD if words[0] in {"build", "publish", "test", "pack", "run"} else None


def _program_is(*names: str) -> Callable[[Command], bool]:
    return lambda command: command.program in names


def _is_pip(command: Command) -> bool:
    return _pip_arguments(command) is not None


def _is_uv_project(command: Command) -> bool:
    return command.program == "uv" and command.argv[1:2] != ("pip",)


_Classifier = tuple[Callable[[Command], bool], Ecosystem, Callable[[Command], StepKind | None]]
_CLASSIFIERS: tuple[_Classifier, ...] = (
    (_program_is("go"), GO, _go),
    (_program_is("npm"), NPM, _npm),
    (_program_is("yarn", "yarnpkg"), YARN, _yarn),
    (_program_is("pnpm"), PNPM, _pnpm),
    (_is_pip, PIP, _pip),
    (_program_is("poetry"), POETRY, _poetry),
    (_is_uv_project, UV, _uv),
    (_program_is("pipenv"), PIPENV, _pipenv),
    (_program_is("mvn", "mvnw"), MAVEN, _maven),
    (_program_is("gradle", "gradlew"), GRADLE, _gradle),
    (_program_is("cargo"), CARGO, _cargo),
    (_program_is("bundle", "bundler"), BUNDLER, _bundler),
    (_program_is("mix"), MIX, _mix),
    (_program_is("composer", "composer.phar"), COMPOSER, _composer),
    (_program_is("dotnet"), DOTNET, _dotnet),
)


@functools.lru_cache(maxsize=4096)
def classify(command: Command) -> DependencyStep | None:
    """The dependency step ``command`` is, if it is one."""
    for matches, ecosystem, kind_of in _CLASSIFIERS:
        if matches(command):
            kind = kind_of(command)
            return DependencyStep(ecosystem, kind, command) if kind else None
    return None


def dependency_steps(instruction: Instruction) -> list[DependencyStep]:
    """Every dependency command in a RUN, in order (nothing for other instructions)."""
    return list(_dependency_steps(instruction))


@functools.lru_cache(maxsize=4096)
def _dependency_steps(instruction: Instruction) -> tuple[DependencyStep, ...]:
    """Several rules ask about the same RUN: classify its commands once."""
    if instruction.keyword != "RUN":
        return ()
    return tuple(step for step in map(classify, run_commands(instruction)) if step is not None)


def step_ecosystem(instruction: Instruction) -> Ecosystem | None:
    """The ecosystem of the first dependency command in a RUN."""
    steps = dependency_steps(instruction)
    return steps[0].ecosystem if steps else None


# --- the build context ------------------------------------------------------------------------


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


_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


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
            for project in _QUOTED.findall(line):
                folder = _inside_context(project.strip(":").replace(":", "/"))
                for script in ("build.gradle", "build.gradle.kts"):
                    path = f"{folder}/{script}"
                    if folder and ctx.has(path) and path not in found:
                        found.append(path)
    return found


def _cargo_members(ctx: DockerfileContext) -> list[str]:
    """Workspace members and path dependencies named literally in the root Cargo.toml."""
    text = ctx.read("Cargo.toml") or ""
    candidates: list[str] = []
    members = re.search(r"members\s*=\s*\[([^\]]*)\]", text)
    if members:
        candidates.extend(_QUOTED.findall(members.group(1)))
    candidates.extend(re.findall(r"\bpath\s*=\s*\"([^\"]+)\"", text))
    found: list[str] = []
    for candidate in candidates:
        folder = _inside_context(candidate)
        path = f"{folder}/Cargo.toml" if folder and "*" not in folder else None
        if path and path != "./Cargo.toml" and ctx.has(path) and path not in found:
            found.append(path)
    return found


_PROJECT_REFERENCE = re.compile(r"[\"']([^\"']+\.(?:cs|fs|vb)proj)[\"']")


def _dotnet_projects(ctx: DockerfileContext) -> list[str]:
    """Projects a top-level solution or project file references, transitively one level."""
    found: list[str] = []
    pending = [*matching(ctx, "*.sln"), *matching(ctx, "*.*proj")]
    for index, source in enumerate(pending):
        folder = posixpath.dirname(source)
        for reference in re.findall(
            r"[\"']([^\"']+\.(?:cs|fs|vb)proj)[\"']", ctx.read(source) or ""
        ):
            path = _inside_context(posixpath.join(folder, reference.replace("\\", "/")))
            if path and ctx.has(path) and path not in found and path not in pending[:index]:
                found.append(path)
                if index < _MAX_NESTING * 8:
                    pending.append(path)
    return [path for path in found if "/" in path]


_NESTED: dict[str, Callable[[DockerfileContext], list[str]]] = {
    "maven": lambda ctx: _maven_modules(ctx, "pom.xml", 1),
    "gradle": _gradle_projects,
    "cargo": _cargo_members,
    "dotnet": _dotnet_projects,
}


def detect(ctx: DockerfileContext) -> list[Ecosystem]:
    """Ecosystems whose marker files are in the build context, in table order.

    npm is reported only when no Yarn or pnpm lockfile claims the package.json.
    """
    found = [e for e in ECOSYSTEMS if any(matching(ctx, m) for m in e.markers)]
    if NPM in found and (YARN in found or PNPM in found):
        found.remove(NPM)
    return found


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
            return named
    found: list[str] = []
    for pattern in ecosystem.manifests:
        found.extend(name for name in matching(ctx, pattern) if name not in found)
    nested = _NESTED.get(ecosystem.name)
    if nested is not None:
        found.extend(name for name in nested(ctx) if name not in found)
    found.extend(f"{d}/" for d in ecosystem.manifest_dirs if has_dir(ctx, d))
    return found


def canonical_command(
    ctx: DockerfileContext, ecosystem: Ecosystem, step: DependencyStep | None = None
) -> str:
    """The dependency-only command for this project, in the flavour the Dockerfile uses.

    Wrapper scripts stay wrappers (``./mvnw``, ``./gradlew``), Yarn 2+ (``.yarnrc.yml``)
    gets ``--immutable``, pip installs the requirement files that exist, ``dotnet restore``
    names the project or solution when there is a choice, Composer keeps the original's
    ``--no-dev``-style flags, and Cargo gets placeholder targets (a manifest without
    ``src/main.rs`` or ``src/lib.rs`` does not parse) that the later ``COPY . .`` overwrites.
    """
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
        return f"dotnet restore {shlex.quote(target)}" if target else ecosystem.command
    if ecosystem is COMPOSER and step is not None:
        kept = [arg for arg in step.command.argv if arg in _COMPOSER_KEPT_FLAGS]
        return " ".join([ecosystem.command, *kept])
    if ecosystem is CARGO:
        return " && ".join([*_cargo_placeholders(ctx), ecosystem.command])
    return ecosystem.command


_COMPOSER_KEPT_FLAGS = frozenset(
    {"--no-dev", "--prefer-dist", "--no-interaction", "-n", "--ignore-platform-reqs"}
)


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
    if step is not None:
        named = [a for a in step.command.argv[2:] if a.endswith(("proj", ".sln", ".slnx"))]
        if named:
            return named[0]
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


# --- BuildKit cache mounts --------------------------------------------------------------------


def mount_options(mount: str) -> dict[str, str]:
    """``type=cache,target=/root/.npm`` as a dict (``dst``/``destination`` read as target)."""
    options: dict[str, str] = {}
    for part in mount.split(","):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        options["target" if key in {"dst", "destination"} else key] = value.strip()
    return options


# Official images that move a cache: gradle sets GRADLE_USER_HOME=/home/gradle/.gradle and
# composer sets COMPOSER_HOME=/tmp (so its cache is /tmp/cache).
_IMAGE_CACHE_DIRS = {
    ("gradle", "gradle"): ("/home/gradle/.gradle/caches",),
    ("composer", "composer"): ("/tmp/cache",),
}

# Environment variables that relocate a package cache: with one set, we cannot name the folder.
CACHE_RELOCATING_VARIABLES = frozenset(
    {
        "HOME",
        "XDG_CACHE_HOME",
        "GOPATH",
        "GOMODCACHE",
        "GOCACHE",
        "npm_config_cache",
        "NPM_CONFIG_CACHE",
        "YARN_CACHE_FOLDER",
        "PNPM_HOME",
        "PIP_CACHE_DIR",
        "POETRY_CACHE_DIR",
        "UV_CACHE_DIR",
        "PIPENV_CACHE_DIR",
        "MAVEN_OPTS",
        "GRADLE_USER_HOME",
        "CARGO_HOME",
        "GEM_HOME",
        "BUNDLE_PATH",
        "COMPOSER_HOME",
        "COMPOSER_CACHE_DIR",
        "NUGET_PACKAGES",
    }
)


def cache_dirs(ecosystem: Ecosystem, image_repository: str = "") -> tuple[str, ...]:
    """Where the ecosystem keeps downloads, for a build running as root in this base image."""
    return _IMAGE_CACHE_DIRS.get((ecosystem.name, image_repository), ecosystem.cache_dirs)


def has_cache_mount(
    instruction: Instruction, ecosystem: Ecosystem, image_repository: str = ""
) -> bool:
    """Whether a cache mount covers one of the ecosystem's cache folders (or one inside it)."""
    wanted = [posixpath.normpath(d) for d in cache_dirs(ecosystem, image_repository)]
    for target in map(posixpath.normpath, cache_mount_targets(instruction)):
        for cache in wanted:
            if target == cache or target.startswith(cache + "/") or cache.startswith(target + "/"):
                return True
    return False


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
        plain_folder = re.fullmatch(r"[\w.-]+", entry) and not entry.startswith(".")
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
