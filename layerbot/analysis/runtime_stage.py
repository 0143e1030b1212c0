"""The multi-stage rewrite: the original final stage becomes ``builder``, a runtime stage follows.

The builder keeps its instructions as written (other rules improve them on the next fix pass);
only the container metadata (EXPOSE, CMD, ENTRYPOINT, HEALTHCHECK, LABEL, STOPSIGNAL) moves to
the runtime stage. Each ecosystem's planner works out the artifact the build produces (from
the build command, the project's manifests and the start command) and the runtime image that
runs it; when it cannot be sure, it says why and the finding goes without a fix.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from layerbot.analysis import project
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.shell import Command, commands
from layerbot.analysis.shipped import Entry, ShippedImage, Step, resolve
from layerbot.analysis.toolchains import (
    ALPINE,
    DEFAULT_DEBIAN_SUITE,
    Toolchain,
    debian_suite,
    dotnet_version_of,
    is_alpine,
    java_version_of,
    major_version_of,
)

METADATA = ("EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "LABEL", "STOPSIGNAL")
_BUILD_ONLY_ENV = re.compile(
    r"^(?:GO[A-Z0-9_]*|CGO_[A-Z_]+|CARGO_[A-Z_]*|RUSTUP_[A-Z_]*|RUSTFLAGS|MAVEN_[A-Z_]*|"
    r"GRADLE_[A-Z_]*|DOTNET_CLI_[A-Z_]*|NUGET_[A-Z_]*|NPM_CONFIG_[A-Z_]*)$"
)


# Folders on the default PATH of both the build images and the runtime images.
_PATH_DIRS = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}


class Refusal(Exception):
    """Why no safe rewrite exists; the message completes "No automatic fix: ..."."""


@dataclass(frozen=True)
class Plan:
    """What the runtime stage needs from one ecosystem's planner.

    ``copies`` are (path in the builder, path in the runtime image). ``command`` replaces the
    start command (exec form) when the original ran the toolchain or had none.
    ``packages`` are installed in the runtime image; ``builder_lines`` go right after the
    builder's FROM, ``builder_tail`` at its end (a build step when the original only ran the
    toolchain at start), and ``builder_image`` replaces its image when the build must be pinned.
    """

    runtime_image: str
    copies: tuple[tuple[str, str], ...]
    artifact: str
    command: tuple[str, ...] | None = None
    packages: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    builder_lines: tuple[str, ...] = ()
    builder_tail: tuple[str, ...] = ()
    builder_image: str | None = None
    workdir: str | None = None


@dataclass
class Rewrite:
    text: str
    plan: Plan
    builder: str


@dataclass
class _Inputs:
    ctx: DockerfileContext
    shipped: ShippedImage
    steps: list[Step] = field(default_factory=list)
    workdir: str = "/"

    @property
    def entry(self) -> Entry | None:
        return self.shipped.entry()

    def entry_path(self, candidates: list[str]) -> str | None:
        """The start command's program as an absolute path: a path, or a bare name that one of
        ``candidates`` provides from a standard ``PATH`` folder."""
        entry = self.entry
        if entry is None:
            return None
        if "/" in entry.program:
            return resolve(entry.program, self.workdir)
        in_path = [
            c
            for c in candidates
            if posixpath.basename(c) == entry.program and posixpath.dirname(c) in _PATH_DIRS
        ]
        return in_path[0] if in_path else None


def _flag_value(argv: tuple[str, ...], *names: str) -> str | None:
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _positionals(argv: tuple[str, ...], valued: set[str]) -> list[str]:
    """Arguments after the subcommand that are neither flags nor flag values."""
    found: list[str] = []
    skip = False
    for arg in argv[2:]:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in valued
        else:
            found.append(arg)
    return found


def _runs_toolchain(entry: Entry | None, programs: set[str], subcommands: set[str]) -> bool:
    if entry is None:
        return False
    program = posixpath.basename(entry.program)
    return program in programs and any(arg in subcommands for arg in entry.argv[1:3])


def _added_build(inputs: _Inputs, *argv: str) -> Step:
    """A build step the rewrite appends to the builder; it runs in the final WORKDIR."""
    entry = inputs.entry
    assert entry is not None
    return Step(Command(argv, shlex.join(argv)), inputs.workdir, entry.instruction)


def _run_options(argv: tuple[str, ...], flags: set[str], valued: set[str]) -> dict[str, str]:
    """The options of a toolchain ``run`` command (up to ``--``), refusing unknown ones:
    a rewrite that silently dropped a profile or a feature flag would change the app."""
    options: dict[str, str] = {}
    words = argv[: argv.index("--")] if "--" in argv else argv
    index = 2
    while index < len(words):
        word = words[index]
        name, _, value = word.partition("=")
        if name in valued:
            if not value and index + 1 < len(words):
                index += 1
                value = words[index]
            options[name] = value
        elif word not in flags:
            raise Refusal(f"`{' '.join(argv[:2])}` has options the rewrite does not carry over")
        index += 1
    return options


def _program_arguments(argv: tuple[str, ...]) -> tuple[str, ...]:
    """What follows ``--`` in ``cargo run ... -- ARGS`` or ``dotnet run ... -- ARGS``."""
    return argv[argv.index("--") + 1 :] if "--" in argv else ()


# Go --------------------------------------------------------------------------------------

_GO_VALUED = {
    "-o", "-ldflags", "-gcflags", "-asmflags", "-tags", "-mod", "-modfile", "-p", "-buildmode",
    "-compiler", "-installsuffix", "-overlay", "-pkgdir", "-toolexec", "-covermode",
    "-coverpkg", "-pgo", "-C",
}  # fmt: skip


def _go_module_name(ctx: DockerfileContext) -> str | None:
    match = re.search(r"^module\s+(\S+)", ctx.read("go.mod") or "", re.MULTILINE)
    if not match:
        return None
    parts = match.group(1).strip('"').split("/")
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts.pop()
    return parts[-1]


def _go_binary_name(packages: list[str], ctx: DockerfileContext) -> str:
    """The name ``go build`` gives a binary without ``-o``: the package's, or the module's."""
    if len(packages) > 1 and not all(p.endswith(".go") for p in packages):
        raise Refusal("`go build` builds several packages at once")
    package = packages[0] if packages else "."
    if package.endswith("..."):
        raise Refusal("`go build ./...` writes no binary")
    if package.endswith(".go"):
        return posixpath.basename(package)[: -len(".go")]
    if package.strip("./") != "":
        return posixpath.basename(package.rstrip("/"))
    name = _go_module_name(ctx)
    if name is None:
        raise Refusal("the binary's name comes from go.mod's module path, and go.mod is missing")
    return name


def _go_output(step: Step, ctx: DockerfileContext) -> str:
    """The binary ``go build`` writes, as an absolute path."""
    argv = step.command.argv
    if step.cwd is None or _flag_value(argv, "-C"):
        raise Refusal("the `go build` runs in a directory the Dockerfile does not fix")
    output = _flag_value(argv, "-o")
    if output and not output.endswith("/"):
        return resolve(output, step.cwd)
    name = _go_binary_name(_positionals(argv, _GO_VALUED), ctx)
    return resolve(posixpath.join(output or ".", name), step.cwd)


def _go_run_as_build(inputs: _Inputs) -> tuple[Step, tuple[str, ...]] | None:
    """For a start command ``go run PACKAGE ARGS...``: the build to add, and ARGS."""
    entry = inputs.entry
    if entry is None or not _runs_toolchain(entry, {"go"}, {"run"}) or entry.argv[1] != "run":
        return None
    rest = entry.argv[2:]
    if any(arg.startswith("-") for arg in rest[:1]):
        raise Refusal("`go run` has build flags the rewrite does not carry over")
    files = [arg for arg in rest if arg.endswith(".go")]
    package = tuple(files) if files and rest[: len(files)] == tuple(files) else rest[:1] or (".",)
    binary = resolve(_go_binary_name(list(package), inputs.ctx), inputs.workdir)
    build = _added_build(inputs, "go", "build", "-o", binary, *package)
    return build, rest[len(package) :] if rest else ()


def _sets_cgo(inputs: _Inputs, value: str) -> bool:
    assignment = f"CGO_ENABLED={value}"
    return any(assignment in i.value for i in inputs.shipped.of_keyword("ENV", "ARG")) or any(
        assignment in step.command.text for step in inputs.steps
    )


def _plan_go(inputs: _Inputs) -> Plan:
    builds = [
        s for s in inputs.steps if s.command.program == "go" and s.command.subcommand == "build"
    ]
    added = None if builds else _go_run_as_build(inputs)
    if added is not None:
        builds = [added[0]]
    if _sets_cgo(inputs, "1") or any(s.command.has("-race") for s in builds):
        raise Refusal("the build enables cgo, so the binary needs the C library it was built with")
    outputs = [_go_output(step, inputs.ctx) for step in builds]
    binary, command = _choose_binary(inputs, outputs, "`go build`", {"go"}, {"run"})
    builder_lines = () if _sets_cgo(inputs, "0") else ("ENV CGO_ENABLED=0",)
    return Plan(
        runtime_image=ALPINE,
        copies=((binary, binary),),
        artifact=f"the static binary `{binary}`",
        command=(binary, *added[1]) if added else command,
        packages=("ca-certificates",),
        builder_lines=builder_lines,
        builder_tail=("RUN " + added[0].command.text,) if added else (),
    )


def _choose_binary(
    inputs: _Inputs, outputs: list[str], build: str, programs: set[str], runs: set[str]
) -> tuple[str, tuple[str, ...] | None]:
    """The binary the container runs, and a new start command when the old one cannot stay."""
    if not outputs:
        raise Refusal(f"no {build} step produces a binary to copy")
    started = inputs.entry_path(outputs)
    if started in outputs:
        return started, None
    entry = inputs.entry
    if entry is not None and not _runs_toolchain(entry, programs, runs):
        raise Refusal(f"the start command `{entry.program}` is not the binary the build writes")
    if len(set(outputs)) > 1:
        raise Refusal(f"several {build} steps write binaries and none is started by name")
    return outputs[-1], (outputs[-1],)


# Rust ------------------------------------------------------------------------------------


def _cargo_toml(ctx: DockerfileContext) -> dict[str, object]:
    import tomllib  # Rust projects only: keep it off the start-up path of `layerbot check`

    try:
        return tomllib.loads(ctx.read("Cargo.toml") or "")
    except tomllib.TOMLDecodeError:
        return {}


def _cargo_binary_name(step: Step, ctx: DockerfileContext) -> str:
    argv = step.command.argv
    named = _flag_value(argv, "--bin") or _flag_value(argv, "-p", "--package")
    if named:
        return named
    manifest = _cargo_toml(ctx)
    bins = manifest.get("bin")
    if isinstance(bins, list) and bins and isinstance(bins[0], dict) and "name" in bins[0]:
        return str(bins[0]["name"])
    package = manifest.get("package")
    if isinstance(package, dict) and "name" in package:
        return str(package["name"])
    raise Refusal("Cargo.toml names no package, so the binary's name is unknown")


_OPENSSL_PACKAGES = {"bookworm": "libssl3", "bullseye": "libssl1.1", "trixie": "libssl3t64"}


def _cargo_run_as_build(inputs: _Inputs) -> tuple[Step, tuple[str, ...]] | None:
    """For a start command ``cargo run [--bin X] [-- ARGS]``: the release build, and ARGS."""
    entry = inputs.entry
    if entry is None or not _runs_toolchain(entry, {"cargo"}, {"run"}):
        return None
    options = _run_options(
        entry.argv, {"--release", "-r", "--locked", "--frozen", "--offline"}, {"--bin", "-p"}
    )
    selection = [part for name, value in options.items() for part in (name, value)]
    build = _added_build(inputs, "cargo", "build", "--release", *selection)
    return build, _program_arguments(entry.argv)


def _plan_rust(inputs: _Inputs) -> Plan:
    ctx = inputs.ctx
    outputs = []
    steps = inputs.steps
    building = any(s.command.program == "cargo" and s.command.subcommand == "build" for s in steps)
    added = None if building else _cargo_run_as_build(inputs)
    if added is not None:
        steps = [*steps, added[0]]
    for step in steps:
        argv = step.command.argv
        if step.command.program != "cargo" or step.command.subcommand != "build":
            continue
        if not step.command.has("--release", "-r"):
            raise Refusal("`cargo build` builds a debug binary; add `--release` first")
        if step.cwd is None or _flag_value(argv, "--manifest-path"):
            raise Refusal("the `cargo build` runs in a directory the Dockerfile does not fix")
        target_dir = _flag_value(argv, "--target-dir") or "target"
        triple = _flag_value(argv, "--target")
        release = posixpath.join(target_dir, triple, "release") if triple else target_dir
        if not triple:
            release = posixpath.join(release, "release")
        outputs.append(resolve(posixpath.join(release, _cargo_binary_name(step, ctx)), step.cwd))
    if any("CARGO_TARGET_DIR" in i.value for i in inputs.shipped.of_keyword("ENV", "ARG")):
        raise Refusal("CARGO_TARGET_DIR moves the build output")
    binary, command = _choose_binary(inputs, outputs, "`cargo build --release`", {"cargo"}, {"run"})
    if added is not None:
        command = (binary, *added[1])
    image = inputs.shipped.image
    builder_image = None
    if is_alpine(image):
        runtime = ALPINE
        suite = None
    else:
        suite = debian_suite(image)
        if suite is None:
            # Pin the builder's Debian release so the binary finds the same glibc at runtime.
            if len(inputs.shipped.chain) > 1:
                raise Refusal("the build image's Debian release is not named in its tag")
            suite = DEFAULT_DEBIAN_SUITE
            tag = image.tag if major_version_of(image) else project.rust_version(ctx)
            builder_image = f"{image.name}:{tag}-{suite}" if tag else f"{image.name}:{suite}"
        runtime = f"debian:{suite}-slim"
    packages = ["ca-certificates"]
    if suite and 'name = "openssl-sys"' in (ctx.read("Cargo.lock") or ""):
        packages.append(_OPENSSL_PACKAGES.get(suite, "libssl3"))
    return Plan(
        runtime_image=runtime,
        copies=((binary, binary),),
        artifact=f"the release binary `{binary}`",
        command=command,
        packages=tuple(packages),
        builder_tail=("RUN " + added[0].command.text,) if added else (),
        builder_image=builder_image,
    )


# Java ------------------------------------------------------------------------------------

_MAVEN = {"mvn", "mvnw"}
_GRADLE = {"gradle", "gradlew"}


def _pom_jar(ctx: DockerfileContext) -> str | None:
    """``target/<finalName>.jar`` or ``target/<artifactId>-<version>.jar`` from pom.xml."""
    pom = ctx.read("pom.xml")
    if pom is None:
        return None
    pom = re.sub(r"<parent>.*?</parent>|<dependencies>.*?</dependencies>", "", pom, flags=re.S)
    final = re.search(r"<finalName>\s*([^<$]+?)\s*</finalName>", pom)
    if final:
        return f"target/{final.group(1)}.jar"
    artifact = re.search(r"<artifactId>\s*([^<$]+?)\s*</artifactId>", pom)
    version = re.search(r"<version>\s*([^<$]+?)\s*</version>", pom)
    if artifact and version:
        return f"target/{artifact.group(1)}-{version.group(1)}.jar"
    return None


def _gradle_jar(ctx: DockerfileContext) -> str | None:
    """``build/libs/<rootProject.name>[-<version>].jar`` from the Gradle scripts."""
    settings = (ctx.read("settings.gradle.kts") or "") + (ctx.read("settings.gradle") or "")
    name = re.search(r"rootProject\.name\s*=\s*[\"']([^\"']+)[\"']", settings)
    if not name:
        return None
    build = (ctx.read("build.gradle.kts") or "") + (ctx.read("build.gradle") or "")
    version = re.search(r"^\s*version\s*=\s*[\"']([^\"']+)[\"']", build, re.MULTILINE)
    suffix = f"-{version.group(1)}" if version else ""
    return f"build/libs/{name.group(1)}{suffix}.jar"


def _packages_jar(step: Step) -> str | None:
    """Which build tool packaged a jar in this step: ``maven``, ``gradle`` or ``None``."""
    command = step.command
    if command.program in _MAVEN and command.has("package", "install", "verify"):
        return "maven"
    if command.program in _GRADLE and command.has("build", "bootJar", "jar", "assemble"):
        return "gradle"
    return None


def _boot_run_as_build(inputs: _Inputs) -> Step | None:
    """For a start command ``mvn spring-boot:run`` or ``gradle bootRun``: the jar build."""
    entry = inputs.entry
    if entry is None:
        return None
    if _runs_toolchain(entry, _MAVEN, {"spring-boot:run"}):
        _run_options(entry.argv, {"-B", "--batch-mode", "-q", "--quiet", "-o"}, set())
        return _added_build(inputs, entry.program, "-B", "package", "-DskipTests")
    if _runs_toolchain(entry, _GRADLE, {"bootRun"}):
        _run_options(entry.argv, {"--no-daemon", "-q", "--quiet", "--offline"}, set())
        return _added_build(inputs, entry.program, "bootJar", "--no-daemon")
    return None


def _plan_java(inputs: _Inputs) -> Plan:
    ctx = inputs.ctx
    packaging = [(step, tool) for step in inputs.steps if (tool := _packages_jar(step))]
    added = None if packaging else _boot_run_as_build(inputs)
    if added is not None:
        packaging = [(added, _packages_jar(added) or "")]
    if not packaging:
        raise Refusal("no `mvn package` or `gradle build` step produces a jar")
    step, tool = packaging[-1]
    if step.cwd is None:
        raise Refusal("the build runs in a directory the Dockerfile does not fix")
    entry = inputs.entry
    runs_toolchain = _runs_toolchain(entry, _MAVEN | _GRADLE, {"spring-boot:run", "bootRun", "run"})
    if entry is not None and not runs_toolchain:
        jar = _java_jar_argument(entry)
        if jar is None or "*" in jar:
            raise Refusal(f"the start command `{entry.program}` does not run one named jar")
        source = resolve(jar, inputs.workdir)
        copies = ((source, source),)
        command = None
    else:
        relative = _pom_jar(ctx) if tool == "maven" else _gradle_jar(ctx)
        if relative is None and tool == "gradle":
            raise Refusal("settings.gradle names no rootProject, so the jar's name is unknown")
        source = resolve(relative or "target/*.jar", step.cwd)
        target = resolve("app.jar", inputs.workdir)
        copies = ((source, target),)
        command = ("java", "-jar", target)
    version = java_version_of(inputs.shipped.image) or project.java_version(ctx)
    if version is None:
        raise Refusal("neither the image tag nor pom.xml/build.gradle says which Java to run")
    suffix = "-alpine" if is_alpine(inputs.shipped.image) else ""
    return Plan(
        runtime_image=f"eclipse-temurin:{version}-jre{suffix}",
        copies=copies,
        artifact=f"the jar `{copies[0][0]}`",
        command=command,
        builder_tail=("RUN " + added.command.text,) if added else (),
    )


def _java_jar_argument(entry: Entry) -> str | None:
    if posixpath.basename(entry.program) != "java" or "-jar" not in entry.argv:
        return None
    index = entry.argv.index("-jar")
    return entry.argv[index + 1] if index + 1 < len(entry.argv) else None


# .NET ------------------------------------------------------------------------------------


_PROJECT_SUFFIXES = (".csproj", ".fsproj", ".vbproj")


def _dotnet_project(ctx: DockerfileContext, step: Step) -> tuple[str, str] | None:
    """Path and text of the project ``dotnet publish`` builds (the only one, when unnamed)."""
    named = [a for a in step.command.argv[2:] if a.endswith(_PROJECT_SUFFIXES)]
    if named:
        text = ctx.read(named[0])
        return (named[0], text) if text is not None else None
    found = [p for p in ctx.repo.in_dir(ctx.context_dir) if p.endswith(_PROJECT_SUFFIXES)]
    text = ctx.repo.read(found[0]) if len(found) == 1 else None
    return (found[0], text) if text is not None else None


def _assembly_name(project_file: tuple[str, str] | None) -> str:
    """``<AssemblyName>.dll``, or the project file's name with ``.dll``."""
    if project_file is None:
        raise Refusal("no single project file says what the published assembly is called")
    path, text = project_file
    named = re.search(r"<AssemblyName>\s*([^<$]+?)\s*</AssemblyName>", text)
    stem = named.group(1) if named else posixpath.splitext(posixpath.basename(path))[0]
    return stem + ".dll"


_DOTNET_PUBLISH_DIR = "/app/publish"


def _dotnet_run_as_publish(inputs: _Inputs) -> Step | None:
    """For a start command ``dotnet run [--project P]``: the publish step to add."""
    entry = inputs.entry
    if entry is None or not _runs_toolchain(entry, {"dotnet"}, {"run"}):
        return None
    if _program_arguments(entry.argv):
        raise Refusal("`dotnet run` passes arguments the rewrite does not carry over")
    options = _run_options(entry.argv, set(), {"--project"})
    project_arg = [options["--project"]] if "--project" in options else []
    return _added_build(
        inputs, "dotnet", "publish", *project_arg, "-c", "Release", "-o", _DOTNET_PUBLISH_DIR
    )


def _plan_dotnet(inputs: _Inputs) -> Plan:
    ctx = inputs.ctx
    publishes = [
        s
        for s in inputs.steps
        if s.command.program == "dotnet" and s.command.subcommand == "publish"
    ]
    added = None if publishes else _dotnet_run_as_publish(inputs)
    if added is not None:
        publishes = [added]
    if not publishes:
        raise Refusal("no `dotnet publish` step produces the application to copy")
    step = publishes[-1]
    output = _flag_value(step.command.argv, "-o", "--output")
    if output is None or step.cwd is None:
        raise Refusal("`dotnet publish` has no `-o` folder, so the output's place is unknown")
    published = resolve(output, step.cwd)
    project_file = _dotnet_project(ctx, step)
    entry = inputs.entry
    if entry is not None and entry.program != "dotnet":
        raise Refusal(f"the start command `{entry.program}` is not the published assembly")
    if entry is not None and entry.argv[1:2] != ("run",):
        dll = entry.argv[1] if len(entry.argv) > 1 else ""
        assembly = posixpath.basename(dll)
    else:
        assembly = _assembly_name(project_file)
    if not assembly.endswith(".dll"):
        raise Refusal("the start command does not name the published assembly")
    text = project_file[1] if project_file else None
    version = (text and project.dotnet_version(text)) or dotnet_version_of(inputs.shipped.image)
    if version is None:
        raise Refusal("neither the project file nor the image tag says which .NET to run")
    web = text is None or 'Sdk="Microsoft.NET.Sdk.Web"' in text
    suffix = "-alpine" if is_alpine(inputs.shipped.image) else ""
    workdir = inputs.workdir if inputs.workdir != "/" else "/app"
    flavour = "aspnet" if web else "runtime"
    return Plan(
        runtime_image=f"mcr.microsoft.com/dotnet/{flavour}:{version}{suffix}",
        copies=((published + "/", workdir + "/"),),
        artifact=f"the published application `{published}`",
        command=("dotnet", assembly),
        builder_tail=("RUN " + added.command.text,) if added else (),
        workdir=workdir,
    )


# Node ------------------------------------------------------------------------------------

_NODE_RUNNERS = {"npm", "yarn", "pnpm"}


def _entry_script(inputs: _Inputs) -> str | None:
    """The file ``node`` starts: from the start command, or package.json's ``start`` script."""
    entry = inputs.entry
    if entry is None:
        return None
    argv = entry.argv
    if posixpath.basename(entry.program) in _NODE_RUNNERS and argv[1:] in (
        ("start",),
        ("run", "start"),
    ):
        try:
            package = json.loads(inputs.ctx.read("package.json") or "{}")
        except ValueError:
            return None
        scripts = package.get("scripts") if isinstance(package, dict) else None
        start = scripts.get("start") if isinstance(scripts, dict) else None
        found = commands(start) if isinstance(start, str) else []
        if len(found) != 1:
            return None
        argv = found[0].argv
    if posixpath.basename(argv[0]) != "node":
        return None
    files = [arg for arg in argv[1:] if not arg.startswith("-")]
    return files[0] if files else None


def _plan_node(inputs: _Inputs) -> Plan:
    ctx = inputs.ctx
    script = _entry_script(inputs)
    if script is None:
        raise Refusal("the start command does not run one file with `node`")
    relative = posixpath.relpath(resolve(script, inputs.workdir), inputs.workdir)
    top = relative.split("/", 1)[0]
    if "/" not in relative or top in {"..", "src", "node_modules"}:
        raise Refusal(f"`{script}` is not inside a build output folder to copy")
    output = resolve(top, inputs.workdir)
    image = inputs.shipped.image
    version = major_version_of(image) or project.node_version(ctx) or "lts"
    variant = "alpine" if is_alpine(image) else "slim"
    manifests, install = _production_install(ctx, version)
    return Plan(
        runtime_image=f"node:{version}-{variant}",
        copies=((output, output),),
        artifact=f"the build output `{output}`",
        setup=(f"COPY {' '.join(manifests)} ./", f"RUN {install}"),
    )


def _production_install(ctx: DockerfileContext, node: str) -> tuple[list[str], str]:
    """The manifests to copy and the command that installs production dependencies only
    (npm before 7, shipped with Node 14 and older, spells ``--omit=dev`` ``--only=production``)."""
    if ctx.has("pnpm-lock.yaml"):
        return (
            ["package.json", "pnpm-lock.yaml"],
            "corepack enable && pnpm install --prod --frozen-lockfile && pnpm store prune",
        )
    if ctx.has("yarn.lock"):
        if ctx.has(".yarnrc.yml"):
            raise Refusal("Yarn 2+ needs its own production install (`yarn workspaces focus`)")
        return (
            ["package.json", "yarn.lock"],
            "yarn install --production --frozen-lockfile && yarn cache clean",
        )
    lock = next((n for n in ("package-lock.json", "npm-shrinkwrap.json") if ctx.has(n)), None)
    extra = [".npmrc"] if ctx.has(".npmrc") else []
    omit = "--only=production" if node.isdigit() and int(node) <= 14 else "--omit=dev"
    install = f"npm {'ci' if lock else 'install'} {omit} && npm cache clean --force"
    return ["package.json", *([lock] if lock else []), *extra], install


_PLANNERS: dict[Toolchain, Callable[[_Inputs], Plan]] = {
    Toolchain.GO: _plan_go,
    Toolchain.RUST: _plan_rust,
    Toolchain.MAVEN: _plan_java,
    Toolchain.GRADLE: _plan_java,
    Toolchain.JDK: _plan_java,
    Toolchain.DOTNET: _plan_dotnet,
    Toolchain.NODE: _plan_node,
}


# Rendering -------------------------------------------------------------------------------


def _leading_comments(inputs: _Inputs, instruction: Instruction) -> list[int]:
    """Line numbers of the comment block right above ``instruction``."""
    doc = inputs.shipped.doc
    found: list[int] = []
    line = instruction.line - 1
    while line >= 1 and doc.line_text(line).lstrip().startswith("#") and line in doc.comments:
        found.insert(0, line)
        line -= 1
    return found


def _with_comments(inputs: _Inputs, instruction: Instruction) -> list[str]:
    doc = inputs.shipped.doc
    return [doc.line_text(n) for n in _leading_comments(inputs, instruction)] + (
        instruction.original.splitlines()
    )


def _builder_name(inputs: _Inputs) -> str:
    final = inputs.shipped.final
    if final.name:
        return final.name
    taken = {s.name.lower() for s in inputs.shipped.doc.stages if s.name}
    return next(n for n in ("builder", "build-stage", "builder-stage") if n not in taken)


def _env_is_runtime(instruction: Instruction) -> bool:
    names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", instruction.arguments)
    names = names or instruction.arguments.split()[:1]
    return not all(_BUILD_ONLY_ENV.match(name) for name in names)


def _user_setup(inputs: _Inputs, runtime_image: str) -> list[str]:
    """Create the final USER in the runtime image (same uid) when the build created it."""
    user = inputs.shipped.last("USER")
    if user is None:
        return []
    name = user.arguments.split(":", 1)[0].strip()
    if not name or name.isdigit() or "$" in name:
        return []
    creations = [
        step.command
        for step in inputs.steps
        if step.command.program in {"useradd", "adduser"} and step.command.has(name)
    ]
    if not creations:
        return []
    uid = _flag_value(creations[-1].argv, "-u", "--uid")
    if "alpine" in runtime_image:
        with_uid = f" -u {uid}" if uid else ""
        return [f"addgroup -S {name}", f"adduser -S -G {name}{with_uid} {name}"]
    with_uid = f" --uid {uid}" if uid else ""
    return [
        f"groupadd --system {name}",
        f"useradd --system --gid {name}{with_uid} --no-create-home {name}",
    ]


def _install_line(runtime_image: str, packages: list[str]) -> str | None:
    if not packages:
        return None
    names = " ".join(packages)
    if "alpine" in runtime_image:
        return f"apk add --no-cache {names}"
    return (
        "apt-get update && apt-get install -y --no-install-recommends "
        f"{names} && rm -rf /var/lib/apt/lists/*"
    )


def _runtime_packages(inputs: _Inputs, plan: Plan) -> list[str]:
    """The plan's packages, plus curl or wget when the HEALTHCHECK calls them."""
    packages = list(plan.packages)
    check = inputs.shipped.last("HEALTHCHECK")
    for tool in ("curl", "wget"):
        if check is not None and re.search(rf"\b{tool}\b", check.arguments):
            busybox = tool == "wget" and "alpine" in plan.runtime_image
            if not busybox and tool not in packages:
                packages.append(tool)
    return packages


def _carried_copies(inputs: _Inputs) -> list[Instruction]:
    """COPY/ADD instructions the runtime needs too: files from other stages, and files put
    outside the folder the build runs in (configuration under /etc, scripts in /usr/local)."""
    carried = []
    for instruction in inputs.shipped.of_keyword("COPY", "ADD"):
        destination = instruction.copy_destination()
        here = inputs.shipped.workdir_at(instruction)
        if destination is None or here is None or "$" in destination:
            raise Refusal(
                f"the {instruction.keyword} on line {instruction.line} has no fixed target"
            )
        target = resolve(destination, here)
        inside = target == inputs.workdir or target.startswith(inputs.workdir.rstrip("/") + "/")
        sources = {source.rstrip("/") or "." for source in instruction.copy_sources()}
        from_context = "from" not in instruction.flags
        if from_context and (inside or sources & {".", "./", "*"}):
            continue
        if not destination.startswith("/") and here != inputs.workdir:
            raise Refusal(f"the {instruction.keyword} on line {instruction.line} is relative")
        carried.append(instruction)
    return carried


def _render_runtime(inputs: _Inputs, plan: Plan, builder: str) -> list[str]:
    shipped = inputs.shipped
    lines = [
        f"# Runtime stage: {plan.artifact}, without the build toolchain",
        f"FROM {plan.runtime_image}",
    ]
    for instruction in shipped.of_keyword("ARG"):
        lines.extend(_with_comments(inputs, instruction))
    setup = [
        line
        for line in (
            _install_line(plan.runtime_image, _runtime_packages(inputs, plan)),
            *_user_setup(inputs, plan.runtime_image),
        )
        if line
    ]
    if setup:
        lines.append("RUN " + " && ".join(setup))
    workdir = plan.workdir or inputs.workdir
    if workdir != "/":
        lines.append(f"WORKDIR {workdir}")
    for instruction in shipped.of_keyword("ENV", "LABEL"):
        if instruction.keyword != "ENV" or _env_is_runtime(instruction):
            lines.extend(_with_comments(inputs, instruction))
    lines.extend(plan.setup)
    lines.extend(f"COPY --from={builder} {source} {target}" for source, target in plan.copies)
    for instruction in _carried_copies(inputs):
        lines.extend(_with_comments(inputs, instruction))
    for instruction in shipped.of_keyword("VOLUME", "EXPOSE"):
        lines.extend(_with_comments(inputs, instruction))
    for keyword in ("USER", "HEALTHCHECK", "STOPSIGNAL"):
        kept = shipped.last(keyword)
        if kept is not None:
            lines.extend(_with_comments(inputs, kept))
    lines.extend(_render_entry(inputs, plan))
    return lines


def _render_entry(inputs: _Inputs, plan: Plan) -> list[str]:
    shipped = inputs.shipped
    kept = [i for i in (shipped.last("ENTRYPOINT"), shipped.last("CMD")) if i is not None]
    if plan.command is None:
        return [
            line for i in sorted(kept, key=lambda i: i.line) for line in _with_comments(inputs, i)
        ]
    entry = inputs.entry
    keyword = entry.instruction.keyword if entry else "CMD"
    rendered = f"{keyword} {json.dumps(list(plan.command))}"
    lines = []
    for instruction in sorted(kept, key=lambda i: i.line):
        if entry is not None and instruction is entry.instruction:
            comments = [
                inputs.shipped.doc.line_text(n) for n in _leading_comments(inputs, instruction)
            ]
            lines.extend([*comments, rendered])
        elif keyword == "ENTRYPOINT" and instruction.keyword == "CMD":
            lines.extend(_with_comments(inputs, instruction))
    return lines or [rendered]


def _render_builder(inputs: _Inputs, plan: Plan, builder: str) -> list[str]:
    doc = inputs.shipped.doc
    final = inputs.shipped.final
    start = final.from_instruction
    moved = {
        line
        for instruction in final.body
        if instruction.keyword in METADATA
        for line in (
            *_leading_comments(inputs, instruction),
            *range(instruction.line, instruction.end_line + 1),
        )
    }
    from_lines = doc.lines[start.line - 1 : start.end_line]
    if plan.builder_image is not None:
        from_lines[0] = from_lines[0].replace(final.base, plan.builder_image, 1)
    if final.name is None:
        from_lines[-1] = f"{from_lines[-1].rstrip()} AS {builder}"
    covered = {n for i in final.instructions for n in range(i.line, i.end_line + 1)}
    kept = [n for n in range(start.end_line + 1, len(doc.lines) + 1) if n not in moved]
    stray = [n for n in kept if n not in covered and doc.line_text(n).strip()[:1] not in ("", "#")]
    if stray:
        raise Refusal(f"line {stray[0]} is not part of any instruction")
    body = [doc.line_text(n) for n in kept]
    while body and not body[-1].strip():
        body.pop()
    return [
        *doc.lines[: start.line - 1],
        *from_lines,
        *plan.builder_lines,
        *body,
        *plan.builder_tail,
    ]


def rewrite(ctx: DockerfileContext, shipped: ShippedImage, toolchain: Toolchain) -> Rewrite:
    """The whole Dockerfile rewritten as builder + runtime, or :class:`Refusal` saying why not."""
    planner = _PLANNERS.get(toolchain)
    if planner is None:
        raise Refusal("which system libraries the packages need at runtime depends on them")
    workdir = shipped.workdir
    if workdir is None:
        raise Refusal("the working directory is set from a variable")
    if shipped.entry() is None and shipped.of_keyword("CMD", "ENTRYPOINT"):
        raise Refusal("the start command is a shell command line the rewrite cannot follow")
    inputs = _Inputs(ctx, shipped, shipped.steps, workdir)
    plan = planner(inputs)
    builder = _builder_name(inputs)
    lines = [
        *_render_builder(inputs, plan, builder),
        "",
        *_render_runtime(inputs, plan, builder),
    ]
    return Rewrite("\n".join(lines) + "\n", plan, builder)
