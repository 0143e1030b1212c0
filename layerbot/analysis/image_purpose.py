"""What the final image is for: an application it builds and runs, or an environment.

The multi-stage rule only tells a team to split a build when the image ships an application:
a development container (hot reload, a shell, a test runner), the image a CI job runs in, or a
toolchain image other builds start from keeps its compilers on purpose. This module reads that
purpose from the file's name, the final stage's name (``FROM golang AS dev`` as the default
target), the start command, the repository's ``.gitlab-ci.yml`` and the build steps, never
from the base image alone.
"""

from __future__ import annotations

import posixpath
import re
import shlex

from layerbot.analysis import discovery, ecosystems, layer_cache
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.record import Record
from layerbot.analysis.shell import SHELLS, Command, commands, exec_commands
from layerbot.analysis.shipped import ShippedImage, Step
from layerbot.analysis.toolchains import JVM_TOOLCHAINS, Toolchain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# Words in a Dockerfile's path that name a development, test or CI environment.
_ENVIRONMENT_WORDS = {
    "dev", "devel", "develop", "development", "devcontainer", "test", "tests", "testing",
    "e2e", "ci",
}  # fmt: skip
# Words in the file name only: "Dockerfile.build" is a build environment, while a folder
# called build/ often holds the production Dockerfile (build/package/Dockerfile).
_FILE_NAME_WORDS = {"build", "builder", "buildenv", "toolchain", "sdk", "local", "debug"}

_INIT_WRAPPERS = {"tini", "dumb-init", "--"}
_TASK_RUNNERS = {"make", "gmake", "just", "task"}
_TEST_RUNNERS = {
    "pytest", "py.test", "tox", "nox", "jest", "mocha", "vitest", "karma", "cypress",
    "playwright", "rspec", "phpunit", "pest", "behave", "ginkgo", "gotestsum",
}  # fmt: skip
_HOT_RELOADERS = {
    "air", "nodemon", "reflex", "compiledaemon", "gow", "watchexec", "entr", "modd", "realize",
    "fresh", "webpack-dev-server", "ts-node-dev", "tsx", "skaffold",
}  # fmt: skip
# Node images only: kept as text, ``re`` compiles it when first used.
_DEV_SCRIPTS = r"^(?:dev|develop|watch|serve|test|tests|e2e|lint|storybook)(?::.*)?$"
_TOOLCHAIN_TESTS = {
    "go": "test", "cargo": "test", "dotnet": "test", "mvn": "test", "mvnw": "test",
    "gradle": "test", "gradlew": "test", "sbt": "test", "lein": "test", "stack": "test",
    "cabal": "test", "dart": "test", "swift": "test", "crystal": "spec", "nimble": "test",
    "dune": "test",
}  # fmt: skip
# Interactive consoles of the build tools (`stack ghci`, `lein repl`, `sbt console`).
_REPL_SUBCOMMANDS = {"stack": "ghci", "cabal": "repl", "lein": "repl", "sbt": "console"}
# Interactive notebooks: the kernel runs whatever code its user types, so the image is a
# workbench (``jupyter lab``, ``python -m notebook``, ``ipython``).
_NOTEBOOKS = {"jupyter", "jupyter-lab", "jupyter-notebook", "jupyterlab", "notebook", "ipython"}
# Interpreters and build tools that, started with no program or task to run (``CMD
# ["python"]``, ``ENTRYPOINT ["go"]``), open a prompt or wait for the task a user passes.
_BARE_STARTS = {
    "python", "python3", "ipython", "node", "irb", "iex", "ghci", "julia", "R",
    "go", "cargo", "mvn", "mvnw", "gradle", "gradlew", "dotnet", "mix", "sbt", "lein",
    "clojure", "clj", "stack", "cabal", "dart", "swift", "crystal", "nim", "nimble", "ocaml",
    "utop", "dune", "opam",
}  # fmt: skip
# Development modes of JVM frameworks run by the build tool, which recompile on every change
# (Quarkus docs, "Dev mode": `quarkus:dev`, `quarkusDev`; Open Liberty, `liberty:dev`,
# `libertyDev`).
_DEV_MODE_TASKS = r"[\w.-]+:dev|\w+Dev"
# Start commands that only print a message (`echo "not a runnable image"`): nothing to start.
_NO_OP_STARTS = {"echo", "printf"}
# Start commands that only copy files (`cp -r ./ /build` into a mounted folder): the image is
# run for what its build produced, a builder, not an application.
_COPY_STARTS = {"cp", "rsync"}
# Go analysis tools that load packages through the toolchain (``go/packages`` runs ``go
# list``): an image that installs one is a lint or analysis image and needs the compiler at
# run time, whatever its entrypoint is called.
_TOOLCHAIN_USING_TOOLS = ("golangci-lint", "staticcheck", "gosec", "govulncheck", "gopls")


def _words(path: str) -> tuple[set[str], set[str]]:
    """Lower-case words of the folders and of the file name of ``path``."""
    folder, name = posixpath.split(path.lower())
    split = re.compile(r"[^a-z0-9]+")
    return {w for w in split.split(folder) if w}, {w for w in split.split(name) if w}


def environment_by_name(path: str) -> bool:
    """``Dockerfile.dev``, ``dev/Dockerfile``, ``.devcontainer/Dockerfile``, ``ci/...``,
    ``test/...``, ``Dockerfile.build``: a file named for an environment, not an application."""
    folders, name = _words(path)
    return bool((folders | name) & _ENVIRONMENT_WORDS or name & _FILE_NAME_WORDS)


def _starts(instruction: Instruction) -> list[Command]:
    """The commands an ENTRYPOINT or CMD starts (``sh -c "..."`` read as its script)."""
    argv = instruction.exec_args()
    if argv is None:
        return list(instruction.commands)
    while argv and posixpath.basename(argv[0]) in _INIT_WRAPPERS:
        argv = argv[1:]
    return exec_commands(argv)


class _Workbench(Record):
    """Reads start commands for the signs of a workbench: a shell, a task or test runner, a
    hot-reload loop, a dev server, or a container kept alive for ``docker exec``. ``scripts``
    are package.json's, so ``npm start`` is judged by what its script runs."""

    __slots__ = ("scripts", "shipped")

    def __init__(self, shipped: ShippedImage, scripts: dict[str, str]) -> None:
        self.shipped: Final = shipped
        self.scripts: Final = scripts

    def starts(self, command: Command, depth: int = 0) -> bool:
        program = command.program.lower()
        operands = [a for a in command.argv[1:] if not a.startswith("-")]
        if program in _NODE_RUNNERS:  # `pnpm --filter web dev`: the script of a workspace
            operands = ecosystems.node_runner_words(command)
        if program in _NODE_RUNNERS and re.match(_DEV_SCRIPTS, _script_name(operands)):
            return True
        inner = self._inner(command, program, operands)
        if inner is not None:
            return depth < 4 and any(self.starts(c, depth + 1) for c in inner)
        if program in SHELLS:
            return not operands  # `bash`, `sh -l`: a shell; `sh start.sh` runs an app
        if program in _TASK_RUNNERS | _TEST_RUNNERS | _HOT_RELOADERS | _NOTEBOOKS:
            return True
        if (program == "tail" and "/dev/null" in command.argv) or program == "sleep":
            return True
        sub = operands[0] if operands else ""
        if sub == "watch" or (sub and sub == _TOOLCHAIN_TESTS.get(program)):
            return True  # `cargo watch`, `dotnet watch`, `site watch`: rebuild on every change
        if sub and _REPL_SUBCOMMANDS.get(program) == sub:
            return True
        if program in {"mvn", "mvnw", "gradle", "gradlew"} and any(
            re.fullmatch(_DEV_MODE_TASKS, arg) for arg in operands
        ):
            return True  # `mvn quarkus:dev`, `gradle quarkusDev`: live reload of the sources
        if program == "sbt" and any(arg.startswith("~") for arg in operands):
            return True  # `sbt ~reStart`: sbt's triggered execution re-runs on file changes
        if program in {"next", "nuxt", "vite", "ng", "webpack", "nx"}:
            return sub in {"", "dev", "serve"}  # `nx serve api`: the app's dev server
        if program == "react-scripts":
            return sub == "start"  # the Create React App dev server
        if command.has_flag("--watch", "--reload", "--hot"):
            return True  # `node --watch`, `nest start --watch`, `uvicorn --reload`
        if program == "flask":
            return command.has_flag("--debug")
        if program == "manage.py" or "manage.py" in command.argv[1:2]:
            return "runserver" in command.argv
        if program in {"rails", "rackup"}:
            env = command.option("-e", "--environment") or _env_value(self.shipped, "RAILS_ENV")
            return env == "development"
        return False

    def _inner(self, command: Command, program: str, operands: list[str]) -> list[Command] | None:
        """The command a launcher runs (``bundle exec X``, ``npx X``, ``python -m X``, a
        package.json script, ``go run tool@version``), ``None`` for other commands."""
        text = command.text

        def from_word(word: str) -> list[Command]:
            rest = command.argv[command.argv.index(word) :]
            return [Command(rest, text)] if rest else []

        if program in {"bundle", "poetry", "pipenv", "uv"} and operands[:1] in (["exec"], ["run"]):
            return from_word(operands[1]) if operands[1:] else []
        if program in {"npx", "pnpx"}:
            return from_word(operands[0]) if operands else []
        if program in {"python", "python3"} and command.has("-m"):
            module = command.argv[command.argv.index("-m") + 1 :]
            return [Command(module, text)] if module else []
        if program in _NODE_RUNNERS and _script_name(operands) in self.scripts:
            return commands(self.scripts[_script_name(operands)])
        tool = operands[1] if program == "go" and operands[:1] == ["run"] else ""
        if "@" in tool:  # `go run github.com/air-verse/air@v1 -c .air.toml`
            name = posixpath.basename(tool.split("@", 1)[0])
            return [Command((name, *command.argv[3:]), text)]
        return None


_NODE_RUNNERS = {"npm", "yarn", "pnpm", "bun"}


def starts_the_toolchain(shipped: ShippedImage) -> bool:
    """Whether the container starts an interpreter or a build tool with flags at most, no
    script and no task (``CMD ["python"]``, ``ENTRYPOINT ["go"]``): the toolchain is what the
    image is run for. Read on the one command Docker runs: ``ENTRYPOINT ["python"]`` with
    ``CMD ["app.py"]`` runs an application."""
    entry = shipped.entry()
    argv = entry.argv if entry is not None else ()
    program = posixpath.basename(argv[0]) if argv else ""
    return program in _BARE_STARTS and all(arg.startswith("-") for arg in argv[1:])


def _script_name(operands: list[str]) -> str:
    """``dev`` in ``npm run dev``, ``yarn dev``; ``start`` in ``npm start``."""
    if operands[:1] in (["run"], ["run-script"]):
        return operands[1] if len(operands) > 1 else ""
    return operands[0] if operands else ""


def _package_scripts(ctx: DockerfileContext) -> dict[str, str]:
    package = ctx.json_object("package.json")
    scripts = package.get("scripts") if package is not None else None
    if not isinstance(scripts, dict):
        return {}
    return {k: v for k, v in scripts.items() if isinstance(k, str) and isinstance(v, str)}


def _env_value(shipped: ShippedImage, name: str) -> str | None:
    found = None
    for instruction in shipped.of_keyword("ENV"):
        match = re.search(rf"(?:^|\s){name}[=\s]\"?([A-Za-z]+)", instruction.arguments)
        found = match.group(1) if match else found
    return found


def environment(ctx: DockerfileContext, shipped: ShippedImage) -> str | None:
    """Why the final image is an environment rather than an application, ``None`` when it
    starts an application."""
    if environment_by_name(ctx.path):
        return f"`{ctx.path}` is named for a development, test or build environment"
    stage = shipped.final.name or ""
    if set(re.split(r"[^a-z0-9]+", stage.lower())) & _ENVIRONMENT_WORDS:
        return f"the final stage `{stage}` is named for a development or test environment"
    starts = [i for i in (shipped.last("ENTRYPOINT"), shipped.last("CMD")) if i is not None]
    if not starts:
        return "the image has no start command of its own: it is a base or toolchain image"
    workbench = _Workbench(shipped, _package_scripts(ctx))
    started = [command for instruction in starts for command in _starts(instruction)]
    entry = shipped.entry()
    if entry is not None:  # `ENTRYPOINT ["dotnet"]` + `CMD ["watch", "run"]` read as one
        started.append(Command(entry.argv, shlex.join(entry.argv)))
    if started and all(command.program in _NO_OP_STARTS for command in started):
        return "the start command only prints a message: the image starts nothing of its own"
    if started and all(command.program in _COPY_STARTS for command in started):
        return "the start command only copies files out: the image is run for its build output"
    for command in started:
        if workbench.starts(command):
            return f"the image starts `{command.program}`, a development or test command"
    if not _copies_sources(shipped):
        compiler = next((c for c in started if _compiles_at_start(c)), None)
        if compiler is not None:
            return (
                f"the start command compiles with `{compiler.program}` sources the image does "
                "not hold (mounted at run time): a build environment"
            )
    for instruction in shipped.of_keyword("RUN", "COPY", "ADD"):
        tool = next((t for t in _TOOLCHAIN_USING_TOOLS if t in instruction.original), None)
        if tool is not None:
            return f"the image installs `{tool}`, which runs the Go toolchain: a lint image"
    job = discovery.pipeline_facts(ctx.repo).tool_image_jobs.get(posixpath.normpath(ctx.path))
    if job is not None:
        return f"the CI job `{job}` runs in this image"
    return None


# Build steps that turn the copied sources into an application artifact, per toolchain.
_GO_BUILDS = {"build", "install"}
_CARGO_BUILDS = {"build", "install"}
_MAVEN_BUILDS = {"package", "install", "verify", "compile"}
_GRADLE_BUILDS = {
    "build", "assemble", "bootJar", "jar", "shadowJar", "installDist", "war", "bootWar",
}  # fmt: skip
_DOTNET_BUILDS = {"publish", "build"}
_NODE_BUILD_SCRIPTS = {"build", "compile", "bundle"}
# Mix tasks that compile the project (``mix do compile, release`` included).
_MIX_BUILDS = {"compile", "release", "escript.build", "phx.digest", "assets.deploy"}
_NODE_BUILDERS = {"tsc", "ng", "vite", "webpack", "next", "nuxt", "rollup", "esbuild", "parcel"}
# sbt tasks that compile or package the project (`sbt assembly`, `sbt "Universal/packageBin"`).
_SBT_BUILDS = {
    "compile", "package", "assembly", "stage", "dist", "universal/packagebin",
    "universal:packagebin", "universal/stage", "universal:stage", "docker/stage", "docker:stage",
}  # fmt: skip
_HASKELL_BUILDS = {"build", "install", "v2-build", "v2-install", "new-build", "new-install"}
_DART_BUILDS = {"compile", "build"}
_NIM_BUILDS = {"c", "cc", "compile", "cpp", "compileToCpp"}
# Start commands that compile and run the sources in one go.
_RUNS_FROM_SOURCES = {
    "go": {"run"}, "cargo": {"run"}, "dotnet": {"run"}, "mvn": {"spring-boot:run"},
    "mvnw": {"spring-boot:run"}, "gradle": {"bootRun", "run"}, "gradlew": {"bootRun", "run"},
    "mix": {"run", "phx.server"}, "crystal": {"run"}, "shards": {"run"}, "nimble": {"run"},
    "nim": {"r", "-r", "--run"},
    "dune": {"exec"},
}  # fmt: skip


# Monorepo task runners: what they build is named by the task (``nx build api``, ``nx run
# api:build``, ``nx run-many --target=build``, ``turbo run build``, ``lerna run build``).
_TASK_RUNNER_BUILDERS = {"nx", "turbo", "lerna"}
_TASK_FLAGS = {"--target", "--targets", "-t"}


def _runs_build_task(argv: list[str]) -> bool:
    """Whether a monorepo task runner's arguments (after the program) name a build task."""
    tasks = []
    for index, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in _TASK_FLAGS:
            given = value or (argv[index + 1] if index + 1 < len(argv) else "")
            tasks.extend(given.split(","))
        elif not arg.startswith("-") and (index == 0 or argv[index - 1] not in _TASK_FLAGS):
            tasks.append(arg)
    if tasks[:1] == ["run"]:
        tasks = tasks[1:]
    # `nx run api:build:production` names project:target:configuration.
    targets = [task.split(":")[1] if task.count(":") else task for task in tasks[:1]]
    targets += [t for t in tasks[1:] if t in _NODE_BUILD_SCRIPTS]  # `run-many -t build`
    return any(t in _NODE_BUILD_SCRIPTS or t.startswith("build") for t in targets)


def _is_node_build(command: Command) -> bool:
    """``npm run build``, ``yarn build``, ``pnpm run compile``, ``bun run build``, ``bun build``
    (Bun's bundler), ``npx tsc``, ``ng build``, ``npx nx build api``, ``turbo run build``, and
    the build of one workspace of a monorepo (``pnpm --filter api build``, ``pnpm -F api
    build``, ``npm run build -w api``, ``yarn workspace api build``)..."""
    argv = list(command.argv[1:])
    program = command.program
    words = (
        ecosystems.node_runner_words(command)
        if program in _NODE_RUNNERS
        else [arg for arg in argv if not arg.startswith("-")]
    )
    launchers = _NODE_RUNNERS | {"npx", "pnpx"}
    if program in launchers and words[:1] in (["run"], ["exec"]) and words[1:2]:
        words = words[1:] if words[1] in _TASK_RUNNER_BUILDERS else words  # `pnpm exec nx`
    if program in launchers and words and words[0] in _TASK_RUNNER_BUILDERS:
        return _runs_build_task(argv[argv.index(words[0]) + 1 :])
    if program in _TASK_RUNNER_BUILDERS:
        return _runs_build_task(argv)
    if program in _NODE_RUNNERS:
        if words[:1] in (["run"], ["run-script"]):
            words = words[1:]
        script = words[0] if words else ""
        # `build:prod`, `build-prod`, `web:build`: a build script of a namespace or a variant
        return any(part in _NODE_BUILD_SCRIPTS for part in re.split(r"[:_-]", script))
    if program in {"npx", "pnpx"}:
        return bool(words) and words[0] in _NODE_BUILDERS
    return program in _NODE_BUILDERS and words[:1] != ["serve"]


def _builds(command: Command, toolchain: Toolchain) -> bool:
    program, sub = command.program, command.subcommand
    if toolchain is Toolchain.GO:
        # `go install tool@v1` fetches a published tool; it builds nothing of the sources.
        return program == "go" and sub in _GO_BUILDS and not any("@" in a for a in command.argv)
    if toolchain is Toolchain.RUST:
        remote = sub == "install" and not command.has("--path")
        return program == "cargo" and sub in _CARGO_BUILDS and not remote
    if toolchain in (Toolchain.MAVEN, Toolchain.GRADLE, Toolchain.JDK):
        if program in {"mvn", "mvnw"}:
            return command.has(*_MAVEN_BUILDS)
        gradle = program in {"gradle", "gradlew"} and command.has(*_GRADLE_BUILDS)
        return gradle or program == "javac"
    if toolchain is Toolchain.DOTNET:
        return program == "dotnet" and sub in _DOTNET_BUILDS
    if toolchain in (Toolchain.NODE, Toolchain.BUN):
        return _is_node_build(command)
    if toolchain is Toolchain.ELIXIR:
        return program == "mix" and bool(_MIX_BUILDS & {a.strip(",") for a in command.argv[1:]})
    if toolchain is Toolchain.SBT:  # tasks may be quoted together: `sbt "clean assembly"`
        tasks = {t.lower() for a in command.argv[1:] for t in re.split(r"[\s;]+", a)}
        return program == "sbt" and bool(tasks & _SBT_BUILDS)
    if toolchain is Toolchain.CLOJURE:  # `lein uberjar`, `clojure -T:build uber`
        if program == "lein":
            return command.has("uberjar", "jar", "compile")
        return program in {"clojure", "clj"} and any("uber" in a for a in command.argv[1:])
    if toolchain is Toolchain.HASKELL:
        deps_only = command.has("--only-dependencies", "--dependencies-only")
        return program in {"stack", "cabal"} and sub in _HASKELL_BUILDS and not deps_only
    if toolchain is Toolchain.DART:
        return program == "dart" and sub in _DART_BUILDS
    if toolchain is Toolchain.SWIFT:
        return program == "swift" and sub == "build"
    if toolchain is Toolchain.CRYSTAL:  # `crystal build --release src/app.cr`, `shards build`
        return (program, sub) in {("crystal", "build"), ("crystal", "compile")} or (
            program == "shards" and sub == "build"
        )
    if toolchain is Toolchain.NIM:  # `nim c -d:release src/app.nim`, `nimble build`
        return (program == "nim" and sub in _NIM_BUILDS) or (
            program == "nimble" and sub in {"build", "c", "cpp"}
        )
    if toolchain is Toolchain.OCAML:  # `dune build`, `opam exec -- dune build`
        words = [a for a in command.argv if a != "--"]
        dune = words[words.index("dune") :] if "dune" in words else []
        return dune[1:2] == ["build"]
    return False


# C and C++ compilers a start command may run on mounted sources.
_C_COMPILERS = {"gcc", "g++", "cc", "c++", "clang", "clang++", "cmake"}


def _compiles_at_start(command: Command) -> bool:
    """Whether a start command compiles code: a toolchain's build (``swift build``, ``go
    build``), a compile-and-run (``go run``, ``cargo run``) or a C compiler."""
    runs = _RUNS_FROM_SOURCES.get(command.program, set())
    return (
        command.program in _C_COMPILERS
        or any(arg in runs for arg in command.argv[1:3])
        or any(_builds(command, toolchain) for toolchain in Toolchain)
    )


def _mix_env_prod(shipped: ShippedImage) -> bool:
    """``MIX_ENV=prod`` set by ``ENV``, or in the RUN of a Mix build (``MIX_ENV=prod mix
    release``) or in the start command: without it Mix builds and runs the dev environment,
    and the image is a development container. A variable set in a RUN lasts for that RUN
    only (Dockerfile reference, "ENV"), so ``export MIX_ENV=prod && mix deps.get`` sets
    nothing for the build or the start."""
    if _env_value(shipped, "MIX_ENV") == "prod":
        return True
    built = any(
        "MIX_ENV=prod" in step.instruction.original and _builds(step.command, Toolchain.ELIXIR)
        for step in shipped.steps
    )
    return built or any(
        "MIX_ENV=prod" in i.original for i in shipped.of_keyword("CMD", "ENTRYPOINT")
    )


def _local_copies(shipped: ShippedImage) -> list[Instruction]:
    """COPY/ADD of files from the build context or another stage (not of URLs)."""
    return [
        instruction
        for instruction in shipped.of_keyword("COPY", "ADD")
        if not all("://" in s or s.startswith("git@") for s in instruction.copy_sources())
    ]


def _copies_sources(shipped: ShippedImage) -> bool:
    """Whether the image takes files from the build context (or clones a repository)."""
    if any("from" not in instruction.flags for instruction in _local_copies(shipped)):
        return True
    return any(s.command.argv[:2] == ("git", "clone") for s in shipped.steps)


def _copies_code(shipped: ShippedImage) -> bool:
    """Whether the image takes more than dependency manifests from the build context."""
    if any(s.command.argv[:2] == ("git", "clone") for s in shipped.steps):
        return True
    return any(
        layer_cache.source_kind(source) is not layer_cache.SourceKind.MANIFEST
        for instruction in _local_copies(shipped)
        if "from" not in instruction.flags
        for source in instruction.copy_sources()
    )


_JAVA_ARCHIVES = (".jar", ".war", ".ear")


def runs_copied_artifact(shipped: ShippedImage, toolchain: Toolchain) -> bool:
    """Whether the start command runs an artifact built elsewhere and copied in: a jar on a
    JDK, a published assembly on the .NET SDK, a binary on a Go or Rust image."""
    copies = _local_copies(shipped)
    paths = [p for i in copies for p in (*i.copy_sources(), i.copy_destination() or "")]
    started = [
        c.argv for i in (shipped.last("ENTRYPOINT"), shipped.last("CMD")) if i for c in _starts(i)
    ]
    if toolchain in JVM_TOOLCHAINS:
        archive = any(p.endswith(_JAVA_ARCHIVES) for p in paths) or any(
            "from" in i.flags for i in copies
        )
        # `COPY target/quarkus-app /opt/app` then `java -jar /opt/app/quarkus-run.jar`: the
        # jar the start command names is inside a copied folder.
        folders = [d.rstrip("/") + "/" for d in paths if d.startswith("/") and d != "/"]
        jars = [a for argv in started for a in argv[1:] if a.endswith(_JAVA_ARCHIVES)]
        archive = archive or any(jar.startswith(tuple(folders)) for jar in jars)
        return archive and any(posixpath.basename(argv[0]) == "java" for argv in started)
    if toolchain is Toolchain.DOTNET:
        return any(argv[:1] == ("dotnet",) and argv[-1].endswith(".dll") for argv in started)
    names = {posixpath.basename(p.rstrip("/")) for p in paths}
    return any(posixpath.basename(argv[0]) in names for argv in started)


def source_build(shipped: ShippedImage, toolchain: Toolchain) -> Instruction | None:
    """The instruction that builds an application from the copied sources in the final image
    (a build step, or a start command such as ``go run`` that compiles at start)."""
    if not _copies_sources(shipped):
        return None
    if toolchain is Toolchain.ELIXIR and not _mix_env_prod(shipped):
        return None
    step: Step | None = next((s for s in shipped.steps if _builds(s.command, toolchain)), None)
    if step is not None:
        return step.instruction
    entry = shipped.entry()
    # Only manifests copied (`COPY project.clj .`, `COPY go.mod go.sum ./`): the sources a
    # start command compiles are mounted at run time, a development container.
    if entry is not None and len(entry.argv) > 1 and _copies_code(shipped):
        runs = _RUNS_FROM_SOURCES.get(posixpath.basename(entry.program), set())
        # `mvn -q compile exec:java`: a lifecycle phase in a JVM build tool's start command
        # compiles at start (`exec:java` alone runs the classes a build made: Exec Maven
        # Plugin docs, `exec:java` executes phase validate only)
        start = Command(entry.argv, shlex.join(entry.argv))
        compiles = toolchain in JVM_TOOLCHAINS and _builds(start, toolchain)
        if compiles or any(arg in runs for arg in entry.argv[1:3]):
            return entry.instruction
    return None
