"""The shipped image carries the compiler: build in a builder stage, ship a runtime stage.

## What it does
Flags a Dockerfile whose final image builds an application from the sources it copies and then
runs it on a build toolchain: its base (followed through `FROM <stage>` chains and global
`ARG`s) is `golang`, `rust`, `maven`, `gradle`, a JDK (`openjdk`, `eclipse-temurin` or
`amazoncorretto`, not a JRE), `mcr.microsoft.com/dotnet/sdk`, `node`, `oven/bun`, `elixir`, an
sbt image (`sbtscala/scala-sbt`, `hseeberger/scala-sbt`), `clojure`, `haskell`
(`fpco/stack-build`), `dart`, `swift` (not its `slim` variant), `crystallang/crystal`,
`nimlang/nim` or `ocaml/opam` (R's `rocker` images are not: an R application has no compiled
artifact to ship apart from the interpreter and its library), a `COPY`/`ADD` brings files
from the build context, and a step builds them (`go build`, `cargo build`, `mvn package`,
`gradle bootJar`, `dotnet publish`, `npm run build`, `bun run build`, `tsc`, a monorepo build
task (`nx build api`, `nx run api:build`, `nx run-many -t build`, `turbo run build`, `lerna run
build`, the build of one workspace of a monorepo: `pnpm --filter api build`, `pnpm -F api
build`, `npm run build -w api`, `yarn workspace api build`, `turbo run build --filter=api`;
a namespaced build script: `web:build`, `build:prod`), `mix compile`, `mix release`, `sbt
assembly`, `lein uberjar`, `clojure -T:build uber`,
`stack build`, `cabal install`, `dart compile exe`, `swift build`, `crystal build`, `shards
build`, `nim c`, `nimble build`, `dune build` (or `opam exec -- dune build`), ..., exec-form `RUN
["gradle", "build"]` included) or the start command compiles them (`go run`, `cargo run`,
`dotnet run`, `mvn spring-boot:run`, `gradle bootRun`, `gradle run`, `mix run`, `mix
phx.server`, `crystal run`, `shards run`, `nim r`/`nim c -r`, `nimble run`, `dune exec`, a JVM
build tool's start command with a lifecycle phase: `mvn compile exec:java`; an exec-form
`ENTRYPOINT ["mvn"]` takes its arguments from `CMD ["spring-boot:run"]`, as Docker runs it) when
more than the dependency manifests were copied (with only `go.mod` and `go.sum` in the image,
the sources `go run` compiles are mounted at run time: a development container).
Elixir counts only with `MIX_ENV=prod` (an `ENV` or on the command): without it Mix builds and
runs the dev environment, and the image is a development container.

It also flags a final stage that installs build tools (`build-essential`,
`build-base`, `gcc`, `g++`, `make`, `clang`, ..., or an SDK from the package manager:
`dotnet-sdk-8.0`, `openjdk-17-jdk`, `golang`, `rustc`) and does not remove them in the same
`RUN`, and an `apk add --virtual` group holding a compiler that is never deleted with
`apk del` in the `RUN` that added it. Both are `major`; when the final image already copies
from a builder stage of the file, the message says to install the tools there.

It stays silent where a builder stage is not the answer, because the image is an
environment rather than an application:

- a file named for one: `Dockerfile.dev`, `dev/Dockerfile`, `.devcontainer/Dockerfile`,
  `ci/...`, `test/...`, `Dockerfile.test`, `Dockerfile.build`, or a final stage named for
  one (`FROM golang:1.22 AS dev`, `AS test`): it is what a plain `docker build` of the file
  builds (Docker docs, "Multi-stage builds": the last stage is the default target);
- `mvn exec:java` alone as the start command: the Exec Maven Plugin's `exec:java` runs the
  classes a build made and executes phase `validate` only, so nothing compiles in the image;
  Maven is its launcher on purpose;
- a start command that opens a workbench: a shell (`bash`, `sh`), `make`, a test runner
  (`pytest`, `go test`, `rspec`, `jest`, ...), a hot-reload loop (`air`, `nodemon`, `reflex`,
  `dotnet watch`, any `<tool> watch` such as a site generator's, `flask run --reload`,
  `uvicorn --reload`), a dev server (`npm run dev`, `pnpm --filter web dev`,
  `manage.py runserver`, `rails server` with `RAILS_ENV=development`), a notebook server
  (`jupyter lab`, `python -m notebook`, `ipython`), `nx serve`, a test task (`gradle
  test`, `sbt test`, `stack test`, `dart test`, `crystal spec`, `nimble test`, `dune test`,
  ...), a build tool's console (`stack ghci`,
  `cabal repl`, `lein repl`, `sbt console`), sbt's triggered execution (`sbt ~reStart`),
  `sleep infinity`; an
  `npm start`/`yarn start` is judged by its `package.json` script; `ENTRYPOINT` and `CMD`
  are read apart and as the one command Docker runs (`ENTRYPOINT ["npm"]` + `CMD ["run",
  "dev"]`);
- an entrypoint that only prints a message (`ENTRYPOINT echo "not a runnable image"`): the
  image was built to run its checks; a start command that only copies files (`CMD ["cp",
  "-r", "build/bin", "/out"]` into a mounted folder): the image is run for its build output;
- a start command that compiles sources the image does not hold (`CMD swift build &&
  .build/debug/App`, `go build`, `cargo run`, `gcc`, with no `COPY`/`ADD` from the build
  context and no `git clone`): the sources are mounted at run time and the compilers are what
  the image is run for, a build environment (the build tools it installs included);
- a JVM framework's development mode run by the build tool (`mvn quarkus:dev`, `gradle
  quarkusDev`, `mvn liberty:dev`), which recompiles on every change;
- for the toolchain base only (not for build tools a `RUN` installs), a start command that
  is the interpreter or the toolchain itself with nothing to run (`CMD ["python"]` opens
  the prompt, `ENTRYPOINT ["go"]` waits for the `test ./...` a user passes): the image is
  run for its toolchain. It is read on the one command Docker runs, so `ENTRYPOINT
  ["python"]` + `CMD ["app.py"]` is an application;
- a Go analysis tool installed in the image (`golangci-lint`, `staticcheck`, `gosec`,
  `govulncheck`, `gopls`): it loads packages through the `go` command, so a lint image needs
  the toolchain at run time whatever its entrypoint is called;
- the `image:` of a job in the repository's `.gitlab-ci.yml` (a job builds this file with
  `docker build -t X` and another job runs in `X`);
- no `CMD`/`ENTRYPOINT` at all: a toolchain or base image (a Go image with cgo compilers, a
  CI image with docker-ce) that other builds start from.

Where nothing is compiled in the final image but it runs on a toolchain (a jar copied into a
JDK, a binary from a builder stage on `golang`, an application on the full `python` image
installing packages) the advice is a smaller runtime base, at `info`; a jar counts as copied
in when the start command runs it from a copied folder (`COPY target/quarkus-app /srv/app`,
`java -jar /srv/app/quarkus-run.jar`). A `.rundeps`-style
virtual group without a compiler, kept on purpose, and build tools removed in the `RUN` that
installed them (`apk del`, `apt-get purge`, `apt-mark auto` + `purge --auto-remove`) raise
nothing. Stages the final image does not use are ignored.

## Why it matters
Everything in the final stage ships: the compiler, the package manager's cache, the sources
and the dev dependencies. A Go service built on `golang` weighs about 850 MB where the binary
on `alpine` weighs a few MB; the toolchain is also attack surface (a shell, a compiler and
hundreds of packages to patch) and slows every pull and every deploy. A multi-stage build
compiles in one stage and copies only the artifact into a runtime image, in one Dockerfile.
Build tools removed by a later `RUN` are still in the earlier layer, so they still ship.

## Example
```dockerfile
FROM golang:1.22
WORKDIR /app
COPY . .
RUN go mod download
RUN go build -o main .
EXPOSE 8080
CMD ["./main"]
```

## Use instead
```dockerfile
FROM golang:1.22 AS builder
ENV CGO_ENABLED=0
WORKDIR /app
COPY . .
RUN go mod download
RUN go build -o main .

# Runtime stage: the static binary `/app/main` without the Go toolchain
FROM alpine:3.22
RUN apk add --no-cache ca-certificates
WORKDIR /app
COPY --from=builder /app/main /app/main
EXPOSE 8080
CMD ["./main"]
```
The fix keeps the build stage as written and renames it `builder`; the dependency-layer-order
rule then moves the manifests first on the next fix pass. The runtime stage keeps `ARG`,
`ENV`, `WORKDIR`, `LABEL`, `EXPOSE`, `USER` (created again when the build created it),
`HEALTHCHECK` (with `curl` installed when it calls it), the files the final stage copied from
other stages or outside the build folder (configuration under `/etc`), and the start command,
which is
rewritten to the artifact when it ran the toolchain (`go run`, `cargo run`, `dotnet run`,
`mvn spring-boot:run`, `gradle bootRun`); when no step built the artifact, the matching build
step is appended to the builder (`go build -o`, `cargo build --release`, `mvn package`,
`gradle bootJar`, `dotnet publish -o`). A start command with options the rewrite cannot carry
over (a launch profile, `--args`, build flags) gets no fix. Per ecosystem:

- Go: a static binary (`CGO_ENABLED=0`) on `alpine` with `ca-certificates`. No fix when the
  build enables cgo.
- Rust: the `cargo build --release` binary (named from Cargo.toml) on `debian:<release>-slim`,
  with the builder pinned to the same Debian release so the binary finds its glibc.
- Java: the jar from `mvn package` (named from pom.xml) or `gradle build` (named from the
  Gradle settings) on `eclipse-temurin:<version>-jre`, the version taken from the build image
  or the build file.
- Node: production dependencies only (`npm ci --omit=dev`, or the Yarn/pnpm equivalent) and
  the build output folder the start command runs from, on `node:<version>-slim`. No fix for a
  monorepo of workspaces (`packages` in pnpm-workspace.yaml, `workspaces` in package.json):
  the built workspace needs its own production install (`pnpm deploy --filter <name>
  --prod`, `yarn workspaces focus --production`), which the message names.
- .NET: the `dotnet publish -o` folder on `mcr.microsoft.com/dotnet/aspnet` (web projects) or
  `runtime`, at the project's `TargetFramework` version.
- Bun and Elixir: guidance and no fix: the build output and production dependencies on the
  `oven/bun` slim variant; a `mix release` on `debian:<release>-slim` (or `alpine` for an
  alpine build image), which needs the C library and OpenSSL the release was built against.
- Python (build tools kept in the final stage, or the full image as `info` advice): guidance
  and no fix: build wheels or a virtualenv in a builder stage and copy them into
  `python:<version>-slim`; which native libraries the runtime still needs depends on the
  packages.
- Swift: guidance and no fix: the executable on the `swift:<release>-slim` image of the same
  release, which carries the Swift runtime libraries.
- Scala (sbt), Clojure, Haskell and Dart: guidance and no fix: the jar on
  `eclipse-temurin:<version>-jre`; a Haskell executable on `debian:<release>-slim` with the
  C libraries GHC linked it against (`libgmp`); a `dart compile exe` executable on `scratch`
  with the dart image's `/runtime/` copied in.
- Runtime-base advice (`info`) carries no fix: it names the runtime image to start from.

## Fix safety
The fix is marked **review**: it changes the runtime image (base image, C library, the files
present next to the artifact). An application that reads files from its source tree at
runtime (templates, migrations, static assets outside the build output) needs them copied
into the runtime stage as well. When the artifact or its start command cannot be worked out
from the Dockerfile and the project files, the finding says why and carries no fix. Removing
an `apk --virtual` group in its own `RUN` is also **review**: runtime libraries must not be
part of the group.

## References
- Crystal docs, "Using the compiler" (`crystal build --release` writes an executable; `crystal
  run` compiles and runs) and "Static Linking" (a dynamically linked executable needs libgc,
  libpcre and libevent at run time); Nim docs, "Nim Compiler User Guide" (`nim c -d:release`,
  `-r` runs after compiling) and Nimble docs (`nimble build`, `nimble run`); Shards docs
  (`shards run` builds a target and runs it); Dune docs,
  "Quickstart" (`dune build` writes `_build/default/<dir>/<name>.exe`, `dune exec` builds and
  runs).
- Docker docs, "Multi-stage builds": <https://docs.docker.com/build/building/multi-stage/>
- Docker docs, "Building best practices: Use multi-stage builds":
  <https://docs.docker.com/build/building/best-practices/#use-multi-stage-builds>
- Go, "cgo" command docs (`CGO_ENABLED`): <https://pkg.go.dev/cmd/cgo>
- Alpine `apk add --no-cache` and `--virtual`: <https://wiki.alpinelinux.org/wiki/Alpine_Package_Keeper>
- GitLab CI/CD YAML syntax, `image:` (the image a job runs in):
  <https://docs.gitlab.com/ee/ci/yaml/#image>
- Docker docs, "Dockerfile reference: Understand how CMD and ENTRYPOINT interact" (the
  command a container runs is the ENTRYPOINT followed by the CMD):
  <https://docs.docker.com/reference/dockerfile/#understand-how-cmd-and-entrypoint-interact>
- Python docs, "Using the Python Interpreter": started without a script, the interpreter
  reads commands interactively: <https://docs.python.org/3/tutorial/interpreter.html>
- Jupyter docs, "Kernels": a kernel runs the code the user writes in the notebook:
  <https://docs.jupyter.org/en/latest/projects/kernels.html>
- Go, `golang.org/x/tools/go/packages` (what Go analysis tools load code with): packages are
  loaded through the build system's query tool, `go list`:
  <https://pkg.go.dev/golang.org/x/tools/go/packages>
- Dev Containers specification, `.devcontainer/` (a development environment, not a
  deployable image): <https://containers.dev/implementors/spec/>
- Official images keep some build tools on purpose: the `golang` image installs `gcc`,
  `libc6-dev` and `make` ("cgo-related dependencies"), the `rust` image keeps `gcc` and
  `libc6-dev` for linking, the `php` image names what `phpize` needs in `PHPIZE_DEPS`:
  <https://github.com/docker-library>
- Nx docs, "Run Tasks" (`nx <target> <project>`, `nx run <project>:<target>:<configuration>`,
  `nx run-many -t <targets>`; `serve` is the development server target):
  <https://nx.dev/features/run-tasks>; Turborepo docs, `turbo run <tasks>`:
  <https://turbo.build/repo/docs/reference/run>
- Swift official image docs: the `slim` variants hold the runtime, not the compiler:
  <https://hub.docker.com/_/swift>
- Dart official image docs: an AOT-compiled server runs `FROM scratch` with `COPY
  --from=build /runtime/ /` and the executable: <https://hub.docker.com/_/dart>
- sbt docs, "Triggered Execution" (`~` re-runs a task on every source change):
  <https://www.scala-sbt.org/1.x/docs/Triggered-Execution.html>; Stack docs, `stack ghci`:
  <https://docs.haskellstack.org/en/stable/commands/ghci_command/>; Clojure, "tools.build"
  guide (`clojure -T:build uber`): <https://clojure.org/guides/tools_build>
- npm docs, `npm start` runs the `start` script of package.json:
  <https://docs.npmjs.com/cli/commands/npm-start>
- npm docs, `npm ci --omit=dev`: <https://docs.npmjs.com/cli/commands/npm-ci>
- pnpm docs, "Filtering" (`--filter`, `-F`) and "pnpm deploy":
  <https://pnpm.io/filtering>, <https://pnpm.io/cli/deploy>; npm docs, "workspaces" (`-w`,
  `--workspace`): <https://docs.npmjs.com/cli/using-npm/workspaces>; Yarn docs, `yarn
  workspace` and `yarn workspaces focus`: <https://yarnpkg.com/cli/workspaces/focus>
- Quarkus docs, "Dev mode" (`quarkus:dev`, `quarkusDev`: live reload):
  <https://quarkus.io/guides/maven-tooling#dev-mode>; Open Liberty, "dev mode"
  (`liberty:dev`): <https://openliberty.io/docs/latest/development-mode.html>
- Exec Maven Plugin, `exec:java` ("Invokes the execute phase validate prior to executing
  itself", it runs already compiled classes):
  <https://www.mojohaus.org/exec-maven-plugin/java-mojo.html>
- Microsoft, ".NET container images" (sdk, aspnet, runtime):
  <https://learn.microsoft.com/dotnet/core/docker/container-images>
- Image sizes in messages come from layerbot's approximate table of uncompressed image sizes
  (`layerbot/analysis/toolchains.py`); they are size classes, not measurements.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis import ecosystems, runs
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.image_purpose import (
    environment,
    runs_copied_artifact,
    source_build,
    starts_the_toolchain,
)
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity
from layerbot.analysis.record import Record
from layerbot.analysis.shipped import ShippedImage
from layerbot.analysis.toolchains import (
    BUILD_TOOL_SIZES_MB,
    Toolchain,
    build_tool,
    format_size,
    size_change,
    suggested_runtime,
    toolchain_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

NAME = "multi-stage"
SEVERITY = Severity.MAJOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Split into a builder stage and a small runtime stage"

_PYTHON_INSTALLERS = {"pip", "poetry", "uv", "pdm", "pipenv"}
# Runtimes whose image is also the build toolchain: what ships is the build's inputs.
_JAVASCRIPT = (Toolchain.NODE, Toolchain.BUN)
_PACKAGE_FLAGS_WITH_VALUES = {"--virtual", "-t", "-X", "--repository", "-o", "--option"}


def _toolchain_message(shipped: ShippedImage, toolchain: Toolchain, build: Instruction) -> str:
    image = f"`{shipped.image}`"
    if toolchain in _JAVASCRIPT:
        return (
            f"The final image starts from {image} and runs the build on line {build.line}: the "
            "dev dependencies, the sources and the build caches ship with the build output. "
            "Build in a `builder` stage and copy only the output and the production "
            "dependencies into the runtime image."
        )
    return (
        f"The final image starts from {image}, a {toolchain.label}, and builds the "
        f"application on line {build.line}: the compiler, the dependency caches and the "
        "sources ship with it. Build in a `builder` stage and copy only the artifact into a "
        "small runtime image."
    )


def _toolchain_finding(
    ctx: DockerfileContext, shipped: ShippedImage, toolchain: Toolchain, build: Instruction
) -> Finding:
    # The runtime-stage writer is big and only needed here: imported when a finding needs it.
    from layerbot.analysis.runtime_stage import Refusal, rewrite

    message = _toolchain_message(shipped, toolchain, build)
    fix = None
    try:
        result = rewrite(ctx, shipped, toolchain)
    except Refusal as refusal:
        runtime = suggested_runtime(toolchain, shipped.image)
        message += f" No automatic fix: {refusal}."
    else:
        runtime = result.plan.runtime_image
        fix = Fix(
            description=(
                f"Split into a `{result.builder}` stage and a runtime stage on `{runtime}` "
                f"that receives only {result.plan.artifact}"
            ),
            safety=Safety.REVIEW,
            edits=(Edit(1, len(ctx.doc.lines), tuple(result.text.splitlines())),),
        )
    change = size_change(shipped.image, runtime)
    if toolchain in _JAVASCRIPT:
        change = f"the dev dependencies, the sources and the build caches; {change}"
    impact = f"Leaves the final image: {change}."
    instruction = shipped.chain[0].from_instruction
    return ctx.finding(NAME, SEVERITY, instruction, message, impact=impact, fix=fix)


def _installs_python_packages(shipped: ShippedImage) -> bool:
    """A dependency install (`pip install -r`, `poetry install`, ...) or any `pip install`
    (wheels from a builder stage, the application itself)."""
    if any(
        step.ecosystem.name in _PYTHON_INSTALLERS
        for run in shipped.of_keyword("RUN")
        for step in ecosystems.dependency_steps(run)
    ):
        return True
    for step in shipped.steps:
        argv = step.command.argv
        if step.command.program.startswith("python") and argv[1:3] == ("-m", "pip"):
            argv = argv[2:]
        if argv and argv[0].rsplit("/", 1)[-1] in {"pip", "pip3"} and "install" in argv[1:]:
            return True
    return False


def _runtime_base_advice(
    ctx: DockerfileContext, shipped: ShippedImage, toolchain: Toolchain
) -> Finding | None:
    """Info: nothing is built in the final image, but it runs on a toolchain image where a
    runtime image would do (a prebuilt jar on a JDK, an application on the full Python)."""
    runtime = suggested_runtime(toolchain, shipped.image)
    image = f"`{shipped.image}`"
    if toolchain is Toolchain.PYTHON:
        if not _installs_python_packages(shipped):
            return None
        message = (
            f"The final image starts from {image}, the {toolchain.label}. If no package needs "
            f"compiling, `{runtime}` runs the same application; if some do, build wheels or a "
            f"virtualenv in a builder stage and copy them into `{runtime}`."
        )
    elif toolchain in _JAVASCRIPT or not runs_copied_artifact(shipped, toolchain):
        return None
    else:
        message = (
            f"The final image runs an artifact built elsewhere and copied in, on {image}, a "
            f"{toolchain.label}; nothing is compiled there, so a runtime image such as "
            f"`{runtime}` runs it with less to ship and to patch."
        )
    impact = f"Would leave the final image: {size_change(shipped.image, runtime)}."
    instruction = shipped.chain[0].from_instruction
    return ctx.finding(NAME, Severity.INFO, instruction, message, impact=impact)


class LeftBehind(Record):
    """Build tools a RUN installs and does not remove, and apk virtual groups it keeps
    (group name and its packages)."""

    __slots__ = ("groups", "tools")

    def __init__(
        self, tools: tuple[str, ...], groups: tuple[tuple[str, tuple[str, ...]], ...]
    ) -> None:
        self.tools: Final = tools
        self.groups: Final = groups

    @property
    def group_names(self) -> list[str]:
        return [name for name, _ in self.groups]


def left_behind(run: Instruction) -> LeftBehind:
    installed: list[str] = []
    groups: list[tuple[str, tuple[str, ...]]] = []
    removed: set[str] = set()
    purges_auto = marks_auto = False
    for command in runs.run_commands(run):
        program, sub = command.program, command.subcommand
        if program in {"apt-get", "apt", "aptitude", "yum", "dnf", "microdnf"}:
            if sub in {"install", "groupinstall"} or (sub == "group" and command.has("install")):
                installed.extend(command.operands(_PACKAGE_FLAGS_WITH_VALUES))
            elif sub in {"purge", "remove", "erase", "autoremove", "groupremove"}:
                removed.update(command.operands(_PACKAGE_FLAGS_WITH_VALUES))
                purges_auto |= sub == "autoremove" or command.has_flag("--auto-remove")
        elif program == "apt-mark" and command.has("auto"):
            marks_auto = True
        elif program == "apk" and sub == "add":
            packages = command.operands(_PACKAGE_FLAGS_WITH_VALUES)
            group = command.option("--virtual", "-t")
            if group is None:
                installed.extend(packages)
            elif any(build_tool(p) for p in packages):  # a kept `.rundeps` group holds none
                groups.append((group, tuple(packages)))
        elif program == "apk" and sub == "del":
            removed.update(command.operands(_PACKAGE_FLAGS_WITH_VALUES))
    if purges_auto and marks_auto:
        installed = []
    tools = [p for p in installed if build_tool(p) and p not in removed]
    return LeftBehind(tuple(tools), tuple(g for g in groups if g[0] not in removed))


def _sized(packages: tuple[str, ...]) -> str:
    """```gcc` ≈ 120 MB, `musl-dev```: sizes from the table where it knows the package."""
    parts = []
    for package in packages:
        size = BUILD_TOOL_SIZES_MB.get(build_tool(package) or "")
        parts.append(f"`{package}` {format_size(size)}" if size else f"`{package}`")
    return ", ".join(parts)


def _tools_impact(left: LeftBehind) -> str:
    parts = [_sized(left.tools)] if left.tools else []
    parts.extend(f"the `{name}` group ({_sized(members)})" for name, members in left.groups)
    return f"Stays in the final image: {'; '.join(parts)} (approximate installed sizes)."


def _builder_stages(shipped: ShippedImage) -> list[str]:
    """Stages of this file the final image copies from (``COPY --from=builder``)."""
    names = {stage.name for stage in shipped.doc.stages if stage.name}
    names |= {str(stage.index) for stage in shipped.doc.stages}
    sources = [copy.flags.get("from", "") for copy in shipped.of_keyword("COPY")]
    return list(dict.fromkeys(name for name in sources if name in names))


def _tools_message(shipped: ShippedImage, left: LeftBehind) -> str:
    parts = []
    if left.tools:
        pronoun = "them" if len(left.tools) > 1 else "it"
        tools = ", ".join(f"`{t}`" for t in left.tools)
        parts.append(f"this RUN installs {tools} in the final image and never removes {pronoun}")
    for name in left.group_names:
        parts.append(f"the apk virtual group `{name}` is never deleted with `apk del` in this RUN")
    message = " and ".join(parts)
    message = message[0].upper() + message[1:]
    message += ": the build tools ship with the application, and removing them in a later RUN "
    message += "does not shrink the earlier layer."
    builders = _builder_stages(shipped)
    if builders:
        return message + (
            f" The file already builds in `{builders[0]}`: install the tools there and copy "
            "only what they produce into this stage, or remove them in the same RUN."
        )
    if shipped.image.short_name == "python":
        return message + (
            " Build wheels or a virtualenv in a builder stage that has the compilers and copy "
            "only the result into the slim runtime stage."
        )
    return message + (
        " Compile in a builder stage and copy the result, or remove the tools in the same RUN."
    )


def _group_fix(shipped: ShippedImage, run: Instruction, left: LeftBehind) -> Fix | None:
    """Delete the virtual groups at the end of the RUN that added them."""
    escape = shipped.doc.directives.get("escape", "\\")
    if left.tools or run.heredocs or runs.has_inline_comment(run) or escape != "\\":
        return None
    later = [i for i in shipped.of_keyword("RUN") if i.line > run.line]
    if any(g in i.value for i in later for g in left.group_names):
        return None
    names = " ".join(left.group_names)
    return Fix(
        description=f"Delete `{names}` with `apk del` in the RUN that installed it",
        safety=Safety.REVIEW,
        edits=(Edit(run.line, run.end_line, tuple(runs.append_command(run, f"apk del {names}"))),),
    )


def _build_tool_findings(ctx: DockerfileContext, shipped: ShippedImage) -> Iterator[Finding]:
    for run in shipped.of_keyword("RUN"):
        if run.is_exec_form:
            continue
        left = left_behind(run)
        if not left.tools and not left.groups:
            continue
        yield ctx.finding(
            NAME,
            SEVERITY,
            run,
            _tools_message(shipped, left),
            impact=_tools_impact(left),
            fix=_group_fix(shipped, run, left),
        )


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    shipped = ShippedImage.of(ctx.doc)
    unknown = "$" in shipped.image.name or shipped.chain[0].base.lower() == "scratch"
    toolchain = None if unknown else toolchain_of(shipped.image)
    if toolchain is not None:
        # Started as the bare interpreter or build tool, the image is run for its toolchain.
        wanted = not starts_the_toolchain(shipped)
        build = source_build(shipped, toolchain)
        if build is not None:
            if wanted and environment(ctx, shipped) is None:
                yield _toolchain_finding(ctx, shipped, toolchain, build)
            return
        advice = _runtime_base_advice(ctx, shipped, toolchain)
        if advice is not None:
            if wanted and environment(ctx, shipped) is None:
                yield advice
            return
    findings = list(_build_tool_findings(ctx, shipped))
    if findings and environment(ctx, shipped) is None:
        yield from findings
