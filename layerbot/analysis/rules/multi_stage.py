"""The shipped image carries the compiler: build in a builder stage, ship a runtime stage.

## What it does
Flags a Dockerfile whose final image is a build toolchain: its base (followed through
`FROM <stage>` chains and global `ARG`s) is `golang`, `rust`, `maven`, `gradle`, a JDK
(`openjdk`, `eclipse-temurin` or `amazoncorretto`, not a JRE), `mcr.microsoft.com/dotnet/sdk`,
`node` when the image also runs a build step (`npm run build`, `yarn build`, `tsc`, ...), or
the full `python` image when it installs Python dependencies. It also flags a final stage that
installs build tools (`build-essential`, `build-base`, `gcc`, `g++`, `make`, `clang`, ..., or
an SDK from the package manager: `dotnet-sdk-8.0`, `openjdk-17-jdk`, `golang`, `rustc`) and
does not remove them in the same `RUN`, and an `apk add --virtual` group that is never deleted
with `apk del` in the `RUN` that added it. Stages the final image does not use are ignored,
and a build that already copies its artifact into a small runtime stage raises nothing.

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
  the build output folder the start command runs from, on `node:<version>-slim`.
- .NET: the `dotnet publish -o` folder on `mcr.microsoft.com/dotnet/aspnet` (web projects) or
  `runtime`, at the project's `TargetFramework` version.
- Python: a finding with guidance and no fix: build wheels or a virtualenv in a builder stage
  and copy them into `python:<version>-slim`; which native libraries the runtime still needs
  depends on the packages.

## Fix safety
The fix is marked **review**: it changes the runtime image (base image, C library, the files
present next to the artifact). An application that reads files from its source tree at
runtime (templates, migrations, static assets outside the build output) needs them copied
into the runtime stage as well. When the artifact or its start command cannot be worked out
from the Dockerfile and the project files, the finding says why and carries no fix. Removing
an `apk --virtual` group in its own `RUN` is also **review**: runtime libraries must not be
part of the group.

## References
- Docker docs, "Multi-stage builds": <https://docs.docker.com/build/building/multi-stage/>
- Docker docs, "Building best practices: Use multi-stage builds":
  <https://docs.docker.com/build/building/best-practices/#use-multi-stage-builds>
- Go, "cgo" command docs (`CGO_ENABLED`): <https://pkg.go.dev/cmd/cgo>
- Alpine `apk add --no-cache` and `--virtual`: <https://wiki.alpinelinux.org/wiki/Alpine_Package_Keeper>
- npm docs, `npm ci --omit=dev`: <https://docs.npmjs.com/cli/commands/npm-ci>
- Microsoft, ".NET container images" (sdk, aspnet, runtime):
  <https://learn.microsoft.com/dotnet/core/docker/container-images>
- Image sizes in messages come from layerbot's approximate table of uncompressed image sizes
  (`layerbot/analysis/toolchains.py`); they are size classes, not measurements.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from layerbot.analysis import ecosystems, runs
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity
from layerbot.analysis.runtime_stage import Refusal, rewrite
from layerbot.analysis.shell import Command
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

NAME = "multi-stage"
SEVERITY = Severity.MAJOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Split into a builder stage and a small runtime stage"

_NODE_BUILD_SCRIPTS = {"build", "compile", "bundle"}
_NODE_BUILDERS = {"tsc", "ng", "vite", "webpack", "next", "nuxt", "rollup", "esbuild", "parcel"}
_PYTHON_INSTALLERS = {"pip", "poetry", "uv", "pipenv"}
_PACKAGE_FLAGS_WITH_VALUES = {"--virtual", "-t", "-X", "--repository", "-o", "--option"}


def _is_node_build(command: Command) -> bool:
    """``npm run build``, ``yarn build``, ``pnpm run compile``, ``npx tsc``, ``ng build``..."""
    words = [arg for arg in command.argv[1:] if not arg.startswith("-")]
    if command.program in {"npm", "yarn", "pnpm"}:
        if words[:1] in (["run"], ["run-script"]):
            words = words[1:]
        script = words[0] if words else ""
        return script in _NODE_BUILD_SCRIPTS or script.startswith("build:")
    if command.program in {"npx", "pnpx"}:
        return bool(words) and words[0] in _NODE_BUILDERS
    return command.program in _NODE_BUILDERS


def _build_step(shipped: ShippedImage, toolchain: Toolchain) -> Instruction | None:
    """The RUN that makes a Node or Python image a build image, or ``None``."""
    for step in shipped.steps:
        if toolchain is Toolchain.NODE and _is_node_build(step.command):
            return step.instruction
    if toolchain is Toolchain.PYTHON:
        for run in shipped.of_keyword("RUN"):
            if any(
                s.ecosystem.name in _PYTHON_INSTALLERS for s in ecosystems.dependency_steps(run)
            ):
                return run
    return None


def _toolchain(shipped: ShippedImage) -> tuple[Toolchain, Instruction | None] | None:
    """The toolchain the final image is, and for Node/Python the step that makes it one."""
    if "$" in shipped.image.name or shipped.chain[0].base.lower() == "scratch":
        return None
    toolchain = toolchain_of(shipped.image)
    if toolchain is None:
        return None
    if toolchain in (Toolchain.NODE, Toolchain.PYTHON):
        step = _build_step(shipped, toolchain)
        return (toolchain, step) if step is not None else None
    return toolchain, None


def _toolchain_message(
    shipped: ShippedImage, toolchain: Toolchain, step: Instruction | None
) -> str:
    image = f"`{shipped.image}`"
    if toolchain is Toolchain.NODE and step is not None:
        return (
            f"The final image starts from {image} and runs the build on line {step.line}: the "
            "dev dependencies, the sources and the build caches ship with the build output. "
            "Build in a `builder` stage and copy only the output and the production "
            "dependencies into the runtime image."
        )
    if toolchain is Toolchain.PYTHON:
        return (
            f"The final image starts from {image}, the {toolchain.label}: compilers needed "
            "only to build wheels ship with the application. Build wheels or a virtualenv in a "
            f"builder stage and copy them into `{suggested_runtime(toolchain, shipped.image)}`."
        )
    return (
        f"The final image starts from {image}, a {toolchain.label}: the compiler, the "
        "dependency caches and the sources ship with the application. Build in a `builder` "
        "stage and copy only the artifact into a small runtime image."
    )


def _toolchain_finding(ctx: DockerfileContext, shipped: ShippedImage) -> Finding | None:
    found = _toolchain(shipped)
    if found is None:
        return None
    toolchain, step = found
    message = _toolchain_message(shipped, toolchain, step)
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
    if toolchain is Toolchain.NODE:
        change = f"the dev dependencies, the sources and the build caches; {change}"
    impact = f"Leaves the final image: {change}."
    instruction = shipped.chain[0].from_instruction
    return ctx.finding(NAME, SEVERITY, instruction, message, impact=impact, fix=fix)


@dataclass(frozen=True)
class LeftBehind:
    """Build tools a RUN installs and does not remove, and apk virtual groups it keeps
    (group name and its packages)."""

    tools: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def group_names(self) -> list[str]:
        return [name for name, _ in self.groups]


def _packages(command: Command) -> list[str]:
    """The arguments after the subcommand, flags and their values skipped."""
    found: list[str] = []
    skip = seen_subcommand = False
    for arg in command.argv[1:]:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _PACKAGE_FLAGS_WITH_VALUES
        elif not seen_subcommand:
            seen_subcommand = True
        else:
            found.append(arg)
    return found


def left_behind(run: Instruction) -> LeftBehind:
    installed: list[str] = []
    groups: list[tuple[str, tuple[str, ...]]] = []
    removed: set[str] = set()
    purges_auto = marks_auto = False
    for command in runs.run_commands(run):
        program, sub = command.program, command.subcommand
        if program in {"apt-get", "apt", "aptitude", "yum", "dnf", "microdnf"}:
            if sub in {"install", "groupinstall"} or (sub == "group" and command.has("install")):
                installed.extend(_packages(command))
            elif sub in {"purge", "remove", "erase", "autoremove", "groupremove"}:
                removed.update(_packages(command))
                purges_auto |= sub == "autoremove" or command.has_flag("--auto-remove")
        elif program == "apt-mark" and command.has("auto"):
            marks_auto = True
        elif program == "apk" and sub == "add":
            group = _group_name(command)
            if group:
                groups.append((group, tuple(_packages(command))))
            else:
                installed.extend(_packages(command))
        elif program == "apk" and sub == "del":
            removed.update(_packages(command))
    if purges_auto and marks_auto:
        installed = []
    tools = [p for p in installed if build_tool(p) and p not in removed]
    return LeftBehind(tuple(tools), tuple(g for g in groups if g[0] not in removed))


def _group_name(command: Command) -> str | None:
    argv = command.argv
    for index, arg in enumerate(argv):
        if arg in {"--virtual", "-t"} and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--virtual="):
            return arg.split("=", 1)[1]
    return None


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
    finding = _toolchain_finding(ctx, shipped)
    if finding is not None:
        yield finding
    else:
        yield from _build_tool_findings(ctx, shipped)
