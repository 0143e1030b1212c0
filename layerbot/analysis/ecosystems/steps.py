"""Recognising dependency steps in a ``RUN``: which command installs or fetches what.

A command is a ``download`` when it only fetches dependencies from the manifests (``npm ci``,
``go mod download``) and a ``build`` when it fetches them as a side effect of building or
installing the project itself (``go build``, ``mvn package``), so it needs the sources.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
from collections.abc import Callable
from enum import StrEnum

from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.ecosystems.table import (
    BUN,
    BUNDLER,
    CABAL,
    CARGO,
    COMPOSER,
    CONAN,
    CONDA,
    CPANM,
    DENO,
    DOTNET,
    GO,
    GRADLE,
    JULIA,
    MAVEN,
    MIX,
    NIMBLE,
    NPM,
    OPAM,
    PDM,
    PIP,
    PIPENV,
    PNPM,
    POETRY,
    PUB,
    RENV,
    SBT,
    SHARDS,
    STACK,
    SWIFTPM,
    UV,
    YARN,
    Ecosystem,
    cache_dirs,
)
from layerbot.analysis.record import Record
from layerbot.analysis.runs import cache_mount_targets
from layerbot.analysis.shell import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class StepKind(StrEnum):
    """``download``: the command only fetches dependencies; ``build``: it fetches them as a
    side effect of building or installing the project itself, so it needs the sources."""

    DOWNLOAD = "download"
    BUILD = "build"


class DependencyStep(Record):
    """A dependency command found in a RUN; ``recipe`` is the package manager's command a
    ``make`` target runs for it (``command`` is then the ``make`` command)."""

    __slots__ = ("command", "ecosystem", "kind", "recipe")

    def __init__(
        self, ecosystem: Ecosystem, kind: StepKind, command: Command, recipe: Command | None = None
    ) -> None:
        self.ecosystem: Final = ecosystem
        self.kind: Final = kind
        self.command: Final = command
        self.recipe: Final = recipe


# Options whose value is the next argument, so it is not a subcommand, goal or task.
_NODE_VALUE_FLAGS = frozenset(
    {"--prefix", "--cwd", "-C", "--dir", "--filter", "-F", "-w", "--workspace", "--loglevel"}
    | {"--registry", "--cache", "--userconfig", "--omit", "--include", "--network-timeout"}
    | {"--fetch-timeout", "--store-dir", "--modules-dir", "--reporter", "--cache-folder"}
)


def node_runner_words(command: Command) -> list[str]:
    """The words of an npm, Yarn, pnpm or Bun command after its options and the workspace it
    selects: ``pnpm --filter api run build`` and ``npm run build -w api`` give ``run build``,
    ``yarn workspace api build`` gives ``build`` (pnpm docs, "Filtering": ``--filter``/``-F``;
    npm docs, "workspaces": ``-w``/``--workspace``; Yarn docs, ``yarn workspace <name>
    <command>`` and ``yarn workspaces foreach``)."""
    words = command.arguments(_NODE_VALUE_FLAGS)
    if words[:1] == ["workspace"]:
        return words[2:]
    return words[2:] if words[:2] == ["workspaces", "foreach"] else words


_MAVEN_VALUE_FLAGS = frozenset(
    {"-s", "--settings", "-gs", "-f", "--file", "-P", "-pl", "--projects", "-T", "-rf", "-l"}
)
_GRADLE_VALUE_FLAGS = frozenset(
    {"-p", "--project-dir", "-x", "--exclude-task", "-I", "--init-script", "-g", "-c"}
)


def _valued(ecosystem: Ecosystem) -> frozenset[str]:
    """The table's options of ``ecosystem`` that take a value (``poetry -C app install``)."""
    return frozenset((*ecosystem.kept_options, *ecosystem.folder_options))


_POETRY_VALUE_FLAGS = _valued(POETRY)
_UV_VALUE_FLAGS = _valued(UV)
_COMPOSER_VALUE_FLAGS = _valued(COMPOSER)
_PDM_VALUE_FLAGS = _valued(PDM)


def kept_arguments(step: DependencyStep) -> list[str]:
    """The options of the step's command that its dependency-only command carries, as
    written: the ecosystem's ``kept_flags``, ``offline_flags``, ``kept_options`` and
    ``folder_options`` (``--without dev``, ``--without=dev``, ``-Pprod``, ``--local``)."""
    ecosystem, argv = step.ecosystem, step.command.argv
    valued = _valued(ecosystem)
    attached = tuple(name for name in valued if len(name) == 2 and name[1] != "-")
    kept: list[str] = []
    index = 1
    while index < len(argv):
        arg = argv[index]
        if arg in valued and index + 1 < len(argv):
            kept += argv[index : index + 2]
            index += 2
            continue
        if (
            arg in ecosystem.kept_flags
            or arg in ecosystem.offline_flags
            or ("=" in arg and arg.split("=", 1)[0] in valued)
            or (len(arg) > 2 and arg.startswith(attached))
        ):
            kept.append(arg)
        index += 1
    return kept


def installs_offline(step: DependencyStep) -> bool:
    """Whether the step installs from local files or what is installed or cached already,
    never from the network: one of the ecosystem's ``offline_flags`` (``bundle install
    --local``, ``npm ci --offline``), for pip ``--no-index`` with no ``--find-links`` URL."""
    command = step.command
    if not command.has_flag(*step.ecosystem.offline_flags):
        return False
    links = command.option("-f", "--find-links") or ""
    return step.ecosystem is not PIP or "://" not in links


def named_folder(step: DependencyStep) -> str | None:
    """The project's folder as a folder option names it, from where the command runs
    (``mvn -f service/pom.xml``: ``service``; ``gradle -p backend``: ``backend``)."""
    value = step.command.option(*step.ecosystem.folder_options)
    if not value and step.ecosystem.folder_operand:
        value = next(iter(_local_targets(step)), None)
    if not value:
        return None
    name = posixpath.basename(value.rstrip("/"))
    if any(fnmatch.fnmatchcase(name, manifest) for manifest in step.ecosystem.manifests):
        value = posixpath.dirname(value)
    return posixpath.normpath(value or ".")


_GO_BUILDS = frozenset({"build", "install", "test", "run", "vet", "get", "list", "generate"})


def _go(command: Command) -> StepKind | None:
    """``go install tool@v1`` and ``go run tool@v1`` fetch a module of their own, not the
    project's: they are not dependency steps."""
    words = command.arguments(frozenset({"-o", "-C", "-tags", "-ldflags", "-gcflags", "-mod"}))
    if words[:2] == ["mod", "download"]:
        return StepKind.DOWNLOAD
    if words[:1] in (["install"], ["run"]) and any("@" in word for word in words[1:]):
        return None
    if (words and words[0] in _GO_BUILDS) or words[:2] in (["mod", "tidy"], ["mod", "vendor"]):
        return StepKind.BUILD
    return None


def _global(command: Command) -> bool:
    return command.has_flag("-g", "--global") or "global" in command.arguments()[:1]


def _named_packages(words: list[str]) -> bool:
    """``npm install puppeteer@13`` adds the packages it names (npm docs, ``npm install
    <pkg>``): a tool or one library, not the install of the project's manifests."""
    return any(word not in {".", "./"} for word in words[1:])


def _npm(command: Command) -> StepKind | None:
    words = command.arguments(_NODE_VALUE_FLAGS)
    if _global(command) or not words or _named_packages(words):
        return None
    return StepKind.DOWNLOAD if words[0] in {"ci", "install", "i", "clean-install"} else None


def _yarn(command: Command) -> StepKind | None:
    """``yarn``, ``yarn install`` and Yarn 2+'s ``yarn workspaces focus`` (an install of some
    workspaces, e.g. ``--production``)."""
    words = command.arguments(_NODE_VALUE_FLAGS)
    if _global(command):
        return None
    installs = not words or words[0] == "install" or words[:2] == ["workspaces", "focus"]
    return StepKind.DOWNLOAD if installs else None


def _pnpm(command: Command) -> StepKind | None:
    words = command.arguments(_NODE_VALUE_FLAGS)
    if _global(command) or not words or _named_packages(words):
        return None
    return StepKind.DOWNLOAD if words[0] in {"install", "i", "fetch"} else None


def _bun(command: Command) -> StepKind | None:
    """``bun install``/``bun i`` of the project (``bun add``, named packages and ``-g`` are
    not)."""
    words = command.arguments(_NODE_VALUE_FLAGS)
    if _global(command) or not words or _named_packages(words):
        return None
    return StepKind.DOWNLOAD if words[0] in {"install", "i"} else None


def _named(program: str, name: str) -> bool:
    return program.startswith(name) and not program[len(name) :].strip("0123456789.")


def _pip_arguments(command: Command) -> list[str] | None:
    """The arguments after ``install``/``sync`` for pip, ``python -m pip`` and ``uv pip``."""
    argv = list(command.argv)
    program = command.program
    # ``python3.12``, ``pip3``: a name and version characters only (no regular expression:
    # this is asked of every command).
    if _named(program, "python") and argv[1:3] == ["-m", "pip"]:
        argv = argv[2:]
    elif program == "uv" and len(argv) > 1 and argv[1] == "pip":
        argv = argv[1:]
    elif not _named(program, "pip"):
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
    local = [arg for arg in arguments if arg in {"-e", "--editable"} or _local_project(arg)]
    if command.has_flag("--no-deps"):
        return None  # the project alone: its dependencies were installed before
    return StepKind.BUILD if local else None


def runs_setup_py(command: Command) -> bool:
    """``python setup.py ...`` (``python3 ./setup.py``): setuptools fetches ``install_requires``
    itself (easy_install), not through pip or pip's cache folder."""
    argv = command.argv
    return _named(command.program, "python") and len(argv) > 1 and argv[1].endswith("setup.py")


def _setup_py(command: Command) -> StepKind | None:
    """``python setup.py install`` (or ``develop``) installs the project and, through
    setuptools, the ``install_requires`` it declares (setuptools docs, "Dependencies
    Management"): a build of the project, like ``pip install .``."""
    return StepKind.BUILD if command.argv[2:3] in (("install",), ("develop",)) else None


def _local_project(arg: str) -> bool:
    """``.``, ``./``, ``.[dev]``, ``./pkg``: the project in the build, with its extras."""
    return arg in {".", "./"} or arg.startswith(("./", ".["))


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
    words = command.arguments(_POETRY_VALUE_FLAGS)
    if not words or words[0] not in {"install", "sync"}:
        return None
    return StepKind.DOWNLOAD if command.has_flag("--no-root") else StepKind.BUILD


def _uv(command: Command) -> StepKind | None:
    words = command.arguments(_UV_VALUE_FLAGS)
    if not words or words[0] != "sync":
        return None
    dependency_only = command.has_flag("--no-install-project", "--no-install-workspace")
    return StepKind.DOWNLOAD if dependency_only else StepKind.BUILD


def _pdm(command: Command) -> StepKind | None:
    """``pdm install``/``pdm sync``: the project itself too unless ``--no-self``."""
    words = command.arguments(_PDM_VALUE_FLAGS)
    if not words or words[0] not in {"install", "sync"}:
        return None
    return StepKind.DOWNLOAD if command.has_flag("--no-self") else StepKind.BUILD


# conda's options whose value is the next argument (environment name or prefix, channel, file).
_CONDA_VALUE_FLAGS = frozenset(
    {"-n", "--name", "-p", "--prefix", "-c", "--channel", "-f", "--file"}
)


def _conda(command: Command) -> StepKind | None:
    """An install of the project's environment: ``conda env create|update`` (its file, or
    ``environment.yml`` by default) or ``install|create|update`` from a file (``-f``,
    ``--file``); an install of packages it names is not the project's (conda docs, "Managing
    environments", "conda install")."""
    words = command.arguments(_CONDA_VALUE_FLAGS)
    if words[:1] == ["env"] and words[1:2] in (["create"], ["update"]):
        return StepKind.DOWNLOAD
    named_file = command.option("-f", "--file") is not None
    if words[:1] in (["install"], ["create"], ["update"]) and named_file:
        return StepKind.DOWNLOAD
    return None


def conda_file(command: Command) -> str:
    """The environment or spec file a conda step installs from."""
    return command.option("-f", "--file") or "environment.yml"


def _pipenv(command: Command) -> StepKind | None:
    words = command.arguments()
    return StepKind.DOWNLOAD if words[:1] in (["install"], ["sync"]) else None


# Lifecycle phases that resolve the project's dependencies (Maven docs, "Introduction to the
# Build Lifecycle"), and plugin goals that build or run the project with them. Other goals
# (`install:install-file`, `help:evaluate`, `versions:set`, `clean`) do not.
_MAVEN_RESOLVING = frozenset(
    {"generate-sources", "process-sources", "generate-resources", "process-resources"}
    | {"compile", "process-classes", "test-compile", "process-test-classes", "test"}
    | {"prepare-package", "package", "pre-integration-test", "integration-test"}
    | {"post-integration-test", "verify", "install", "deploy", "site"}
    | {"spring-boot:run", "spring-boot:repackage", "exec:java", "quarkus:build", "quarkus:dev"}
    | {"jib:build", "jib:dockerBuild", "jib:buildTar", "assembly:single", "war:war", "jar:jar"}
)


def _maven(command: Command) -> StepKind | None:
    goals = command.arguments(_MAVEN_VALUE_FLAGS)
    if not goals or command.has("-o", "--offline"):  # exact: -Pprod is no -o
        return None
    if all(goal.startswith("dependency:") for goal in goals):
        return StepKind.DOWNLOAD
    return StepKind.BUILD if any(goal in _MAVEN_RESOLVING for goal in goals) else None


def _gradle(command: Command) -> StepKind | None:
    tasks = command.arguments(_GRADLE_VALUE_FLAGS)
    if not tasks or command.has_flag("--offline"):
        return None
    if all(task in {"dependencies", "androidDependencies"} for task in tasks):
        return StepKind.DOWNLOAD
    return StepKind.BUILD


def _cargo(command: Command) -> StepKind | None:
    """``cargo chef cook`` builds the dependencies from a recipe (cargo-chef's README);
    ``cargo chef prepare`` reads the sources on purpose and fetches nothing; ``--offline`` and
    ``--frozen`` (which implies it, per ``cargo help build``) never touch the network."""
    words = command.arguments(frozenset({"--recipe-path", "--target", "--bin", "-p", "--package"}))
    if not words or command.has_flag("--offline", "--frozen"):
        return None
    if words[0] == "fetch" or words[:2] == ["chef", "cook"]:
        return StepKind.DOWNLOAD
    if words[0] == "install":
        return StepKind.BUILD if command.has_flag("--path") else None
    return StepKind.BUILD if words[0] in {"build", "test", "run", "check", "vendor"} else None


# `stack build --only-dependencies` builds the snapshot and extra dependencies alone (Stack
# docs, "stack build": `--only-dependencies`, `--dependencies-only`, `--only-snapshot`).
_STACK_DEPENDENCIES_ONLY = ("--only-dependencies", "--dependencies-only", "--only-snapshot")


def _stack(command: Command) -> StepKind | None:
    words = command.arguments(frozenset({"--resolver", "--stack-yaml", "--local-bin-path"}))
    if not words or words[0] not in {"build", "install", "test", "bench"}:
        return None
    # `stack install alex happy`: named tools from the snapshot, not the project (a target
    # that is a path, `.` or `./api`, is the project's).
    if any(not target.startswith((".", "/")) for target in words[1:]):
        return None
    only_dependencies = command.has_flag(*_STACK_DEPENDENCIES_ONLY)
    return StepKind.DOWNLOAD if only_dependencies else StepKind.BUILD


# sbt tasks that resolve the libraries: `update` alone, or as part of compiling, testing,
# running or packaging the project (sbt docs, "Library Management"); tasks may be quoted
# together (`sbt "clean assembly"`) or `;`-separated.
_SBT_BUILD_TASKS = frozenset(
    {"compile", "test", "run", "package", "assembly", "stage", "dist", "publishlocal"}
    | {"universal/packagebin", "universal:packagebin", "docker/stage", "docker:stage"}
)


def _sbt(command: Command) -> StepKind | None:
    if command.has_flag("-offline", "--offline"):
        return None
    tasks = {t.lower() for arg in command.argv[1:] for t in re.split(r"[\s;]+", arg) if t}
    if tasks & _SBT_BUILD_TASKS:
        return StepKind.BUILD
    return StepKind.DOWNLOAD if tasks & {"update", "updateclassifiers"} else None


def _pub(command: Command) -> StepKind | None:
    """``dart pub get`` (``flutter pub get``, the old ``pub get``); ``--offline`` resolves from
    the cache alone."""
    words = command.arguments()
    if command.program != "pub":  # `dart pub get`, `flutter pub get`
        if words[:1] != ["pub"]:
            return None
        words = words[1:]
    fetches = words[:1] in (["get"], ["upgrade"]) and not command.has_flag("--offline")
    return StepKind.DOWNLOAD if fetches else None


def _swiftpm(command: Command) -> StepKind | None:
    """``swift package resolve`` fetches the pinned dependencies; ``swift build``/``test``/
    ``run`` resolve them first when needed (Swift Package Manager docs)."""
    words = command.arguments()
    if command.has_flag("--disable-automatic-resolution", "--skip-update") and words[:1] != [
        "package"
    ]:
        return None
    if words[:2] in (["package", "resolve"], ["package", "update"]):
        return StepKind.DOWNLOAD
    return StepKind.BUILD if words[:1] in (["build"], ["test"], ["run"]) else None


def _bundler(command: Command) -> StepKind | None:
    words = command.arguments()
    return StepKind.DOWNLOAD if not words or words[0] == "install" else None


def _mix(command: Command) -> StepKind | None:
    """``mix deps.get`` downloads; ``mix do deps.get, compile`` (``+`` since Elixir 1.14)
    downloads as part of a build of the sources."""
    words = command.argv[1:]
    if words[:1] != ("do",):
        return StepKind.DOWNLOAD if command.arguments()[:1] == ["deps.get"] else None
    tasks = [t.split()[0] for t in re.split(r",|\s\+\s", " ".join(words[1:])) if t.strip()]
    if "deps.get" not in tasks:
        return None
    return StepKind.DOWNLOAD if set(tasks) == {"deps.get"} else StepKind.BUILD


def _composer(command: Command) -> StepKind | None:
    words = command.arguments(_COMPOSER_VALUE_FLAGS)
    return StepKind.DOWNLOAD if words[:1] == ["install"] else None


def _dotnet(command: Command) -> StepKind | None:
    words = command.arguments()
    if not words or command.has_flag("--no-restore"):
        return None
    if words[0] == "restore":
        return StepKind.DOWNLOAD
    return StepKind.BUILD if words[0] in {"build", "publish", "test", "pack", "run"} else None


def dotnet_project(command: Command) -> str | None:
    """The project or solution a ``dotnet`` command names (``dotnet publish src/A/A.csproj``)."""
    named = [arg for arg in command.argv[2:] if arg.endswith(("proj", ".sln", ".slnx"))]
    return named[0] if named and command.program == "dotnet" else None


# cpanm's options whose value is the next argument (cpanm docs, "OPTIONS").
_CPANM_VALUE_FLAGS = _valued(CPANM) | {"-l", "--local-lib", "-L", "--local-lib-contained"}
_CPANM_VALUE_FLAGS |= {"--mirror", "--from", "-M", "--configure-timeout", "--build-timeout"}


def _cpanm(command: Command) -> StepKind | None:
    """``cpanm --installdeps .`` installs the dependencies of the project in the folder;
    ``cpanm .`` installs the project itself and them with it; a module name or another folder
    (``cpanm Carton``, ``cpanm --installdeps /opt/app``) is not this folder's project."""
    targets = command.arguments(_CPANM_VALUE_FLAGS)
    if not targets or any(target not in {".", "./"} for target in targets):
        return None
    return StepKind.DOWNLOAD if command.has_flag("--installdeps") else StepKind.BUILD


def _carton(command: Command) -> StepKind | None:
    """``carton install`` installs the cpanfile's modules into ``local/``."""
    return (
        StepKind.DOWNLOAD if command.arguments(frozenset({"--path"}))[:1] == ["install"] else None
    )


def _deno(command: Command) -> StepKind | None:
    """``deno install`` alone installs what deno.json and package.json list; ``deno cache``,
    ``deno install --entrypoint`` and ``deno compile`` fetch the module graph of the files they
    name, which is only the dependencies when those files are (``COPY deps.ts .`` then ``deno
    cache deps.ts``, the Deno manual's Docker pattern), so they count after a copy of the whole
    project, as an explicit download does. ``deno install -g`` (a global script) and ``deno
    install <package>`` (adding one) are not the project's install."""
    words = command.arguments(frozenset({"--config", "-c", "--lock", "--output", "-o"}))
    if words[:1] == ["install"] and not _global(command):
        entrypoint = command.has_flag("--entrypoint", "-e")
        return StepKind.DOWNLOAD if bool(words[1:]) == entrypoint else None
    return StepKind.DOWNLOAD if words[:1] in (["cache"], ["compile"]) and words[1:] else None


# --- R, Haskell (Cabal), Julia, OCaml, Crystal, Nim, C/C++ ----------------------------------


def _inline_code(command: Command) -> list[str]:
    """The code ``R -e``, ``Rscript -e`` or ``julia -e`` runs (``R --vanilla -e
    "renv::restore()"``, ``julia --project -e 'using Pkg; Pkg.instantiate()'``)."""
    argv = command.argv
    flags = {"-e", "--expr", "--eval", "-E"}
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in flags]


def _renv(command: Command) -> StepKind | None:
    """``renv::restore()`` run from the command line installs what renv.lock records (renv
    docs, "Using renv with Docker"); other R code (``install.packages('renv')``) is not the
    project's install."""
    restores = any(re.search(r"\brenv::restore\s*\(", e) for e in _inline_code(command))
    return StepKind.DOWNLOAD if restores else None


# cabal options whose value is the next argument (Cabal docs, "cabal build" and the project
# configuration flags).
_CABAL_VALUE_FLAGS = _valued(CABAL) | {"-j", "--jobs", "--ghc-options", "--installdir"}
_CABAL_VALUE_FLAGS |= {"--install-method", "--overwrite-policy", "--builddir", "--index-state"}
_CABAL_BUILDS = frozenset({"build", "v2-build", "new-build", "install", "v2-install"})
_CABAL_BUILDS |= {"new-install", "test", "v2-test", "run", "v2-run"}


def _cabal(command: Command) -> StepKind | None:
    """``cabal build|install --only-dependencies`` builds the dependencies alone; ``cabal
    build``, ``test`` and ``run`` (with a target or none: ``all``, ``exe:api`` are components
    of the project) and ``cabal install`` of the project download them as part of the build.
    ``cabal install alex happy`` installs named packages from Hackage: tools, not the
    project (a target that is a path, a component ``exe:api`` or ``all`` is the project's)."""
    words = command.arguments(_CABAL_VALUE_FLAGS)
    if not words or words[0] not in _CABAL_BUILDS:
        return None
    if command.has_flag("--offline"):
        return None
    if command.has_flag("--only-dependencies", "--dependencies-only"):
        return StepKind.DOWNLOAD
    installs = words[0] in {"install", "v2-install", "new-install"}
    project = all(t in {"all", "."} or ":" in t or t.startswith(("./", "/")) for t in words[1:])
    return StepKind.BUILD if project or not installs else None


def _julia(command: Command) -> StepKind | None:
    """``julia --project=. -e 'using Pkg; Pkg.instantiate()'`` (or ``Pkg.activate(".")``
    first) installs the project's packages (Pkg docs, ``Pkg.instantiate``); without a project
    it would instantiate the default environment, not the project's, and ``Pkg.add`` adds
    named packages."""
    code = " ".join(_inline_code(command))
    if not re.search(r"\bPkg\.instantiate\s*\(", code):
        return None
    active = any(a == "--project" or a.startswith("--project=") for a in command.argv)
    return StepKind.DOWNLOAD if active or "Pkg.activate(" in code else None


# opam options whose value is the next argument (opam manual, "opam install").
_OPAM_VALUE_FLAGS = _valued(OPAM) | {"--switch", "--root", "-j", "--jobs", "--criteria"}


def _local_path(word: str) -> bool:
    return (
        word in {".", ".."}
        or word.startswith(("./", "../", "/"))
        or word.endswith(("conanfile.txt", "conanfile.py", ".opam"))
    )


def _opam(command: Command) -> StepKind | None:
    """``opam install . --deps-only`` installs the dependencies of the folder's opam files;
    ``opam install .`` (or ``./app.opam``) builds and installs the project with them; ``opam
    install dune core`` installs named packages, not the project's."""
    words = command.arguments(_OPAM_VALUE_FLAGS)
    if words[:1] != ["install"] or not words[1:]:
        return None
    if not all(_local_path(w) for w in words[1:]):
        return None
    return StepKind.DOWNLOAD if command.has_flag("--deps-only") else StepKind.BUILD


def _shards(command: Command) -> StepKind | None:
    """``shards install`` (``shards`` alone runs it) and ``shards update`` install the
    dependencies; ``shards build`` and ``shards run`` install the missing ones first (shards
    manual)."""
    words = command.arguments()
    if not words or words[0] in {"install", "update"}:
        return StepKind.DOWNLOAD
    return StepKind.BUILD if words[0] in {"build", "run"} else None


def _nimble(command: Command) -> StepKind | None:
    """``nimble install -d`` installs only the dependencies of the folder's package; ``nimble
    build``, ``run``, ``test`` and ``install`` of that package install them as part of the
    build; ``nimble install jester`` installs a named package (nimble(1))."""
    words = command.arguments()
    if not words:
        return None
    if words[0] == "install":
        if words[1:]:
            return None  # named packages: a tool or a library, not the folder's package
        only = command.has_flag("-d", "--depsOnly", "--deps-only")
        return StepKind.DOWNLOAD if only else StepKind.BUILD
    return StepKind.BUILD if words[0] in {"build", "run", "test"} else None


# conan options whose value is the next argument (Conan 2 docs, "conan install"; Conan 1's
# `-if`, `-g`, `-e`).
_CONAN_VALUE_FLAGS = frozenset(
    {"-s", "--settings", "-o", "--options", "-pr", "--profile", "-b", "--build", "-of"}
    | {"--output-folder", "-if", "--install-folder", "-g", "--generator", "-r", "--remote"}
    | {"-e", "--env", "-c", "--conf", "-l", "--lockfile", "-d", "--deployer", "-f"}
    | {"--format", "-pr:b", "-pr:h", "-pr:a", "-s:b", "-s:h", "-o:b", "-o:h", "-c:b", "-c:h"}
    | {"--profile:build", "--profile:host", "--lockfile-out", "--name", "--version"}
)


def _conan(command: Command) -> StepKind | None:
    """``conan install <folder>`` installs the requirements of the recipe there, and nothing of
    the project; a package reference (``conan install zlib/1.3@``) or ``--requires`` installs
    named packages."""
    words = command.arguments(_CONAN_VALUE_FLAGS)
    if words[:1] != ["install"] or command.option("--requires", "--tool-requires"):
        return None
    targets = words[1:]
    return StepKind.DOWNLOAD if targets and all(_local_path(t) for t in targets) else None


# Options whose value is the next argument, for the ecosystems whose install names the
# project's folder as an operand.
_FOLDER_OPERAND_VALUE_FLAGS = {"opam": _OPAM_VALUE_FLAGS, "conan": _CONAN_VALUE_FLAGS}


def _local_targets(step: DependencyStep) -> list[str]:
    """The operands of an install that name a local folder or manifest (``conan install ..``,
    ``opam install ./api``)."""
    words = step.command.arguments(_FOLDER_OPERAND_VALUE_FLAGS.get(step.ecosystem.name, set()))
    return [w for w in words[1:] if _local_path(w)]


def _is_r(command: Command) -> bool:
    return command.program in {"R", "Rscript"}


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
    (_program_is("bun"), BUN, _bun),
    (_is_pip, PIP, _pip),
    (runs_setup_py, PIP, _setup_py),
    (_program_is("poetry"), POETRY, _poetry),
    (_is_uv_project, UV, _uv),
    (_program_is("pdm"), PDM, _pdm),
    (_program_is("conda", "mamba", "micromamba"), CONDA, _conda),
    (_program_is("pipenv"), PIPENV, _pipenv),
    (_program_is("mvn", "mvnw"), MAVEN, _maven),
    (_program_is("gradle", "gradlew"), GRADLE, _gradle),
    (_program_is("cargo"), CARGO, _cargo),
    (_program_is("bundle", "bundler"), BUNDLER, _bundler),
    (_program_is("mix"), MIX, _mix),
    (_program_is("composer", "composer.phar"), COMPOSER, _composer),
    (_program_is("dotnet"), DOTNET, _dotnet),
    (_program_is("stack"), STACK, _stack),
    (_program_is("sbt"), SBT, _sbt),
    (_program_is("dart", "flutter", "pub"), PUB, _pub),
    (_program_is("swift"), SWIFTPM, _swiftpm),
    (_program_is("cpanm"), CPANM, _cpanm),
    (_program_is("carton"), CPANM, _carton),
    (_program_is("deno"), DENO, _deno),
    (_is_r, RENV, _renv),
    (_program_is("cabal"), CABAL, _cabal),
    (_program_is("julia"), JULIA, _julia),
    (_program_is("opam"), OPAM, _opam),
    (_program_is("shards"), SHARDS, _shards),
    (_program_is("nimble"), NIMBLE, _nimble),
    (_program_is("conan"), CONAN, _conan),
)


@functools.lru_cache(maxsize=4096)
def classify(command: Command) -> DependencyStep | None:
    """The dependency step ``command`` is, if it is one (``yarn --version`` is none)."""
    for matches, ecosystem, kind_of in _CLASSIFIERS:
        if matches(command):
            if command.about_itself:  # asked only of the tools: most commands are none
                return None
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
    return tuple(step for step in map(classify, instruction.commands) if step is not None)


def step_ecosystem(instruction: Instruction) -> Ecosystem | None:
    """The ecosystem of the first dependency command in a RUN."""
    steps = dependency_steps(instruction)
    return steps[0].ecosystem if steps else None


# --- BuildKit cache mounts --------------------------------------------------------------------


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
