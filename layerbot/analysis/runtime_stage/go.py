"""Go: the binary `go build` writes (or the build a `go run` start command stands for)."""

from __future__ import annotations

import posixpath
import re

from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.runtime_stage.plan import (
    Inputs,
    Plan,
    Refusal,
    added_build,
    choose_binary,
    runs_toolchain,
)
from layerbot.analysis.shipped import Step, resolve
from layerbot.analysis.toolchains import ALPINE

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
    if step.cwd is None or step.command.option("-C"):
        raise Refusal("the `go build` runs in a directory the Dockerfile does not fix")
    output = step.command.option("-o")
    if output and not output.endswith("/"):
        return resolve(output, step.cwd)
    name = _go_binary_name(step.command.operands(_GO_VALUED), ctx)
    return resolve(posixpath.join(output or ".", name), step.cwd)


def _go_run_as_build(inputs: Inputs) -> tuple[Step, tuple[str, ...]] | None:
    """For a start command ``go run PACKAGE ARGS...``: the build to add, and ARGS."""
    entry = inputs.entry
    if entry is None or not runs_toolchain(entry, {"go"}, {"run"}) or entry.argv[1] != "run":
        return None
    rest = entry.argv[2:]
    if any(arg.startswith("-") for arg in rest[:1]):
        raise Refusal("`go run` has build flags the rewrite does not carry over")
    files = [arg for arg in rest if arg.endswith(".go")]
    package = tuple(files) if files and rest[: len(files)] == tuple(files) else rest[:1] or (".",)
    binary = resolve(_go_binary_name(list(package), inputs.ctx), inputs.workdir)
    build = added_build(inputs, "go", "build", "-o", binary, *package)
    return build, rest[len(package) :] if rest else ()


def _sets_cgo(inputs: Inputs, value: str) -> bool:
    assignment = f"CGO_ENABLED={value}"
    return any(
        i.assignments.get("CGO_ENABLED") == value for i in inputs.shipped.of_keyword("ENV", "ARG")
    ) or any(assignment in step.command.text for step in inputs.steps)


def plan_go(inputs: Inputs) -> Plan:
    builds = [
        s for s in inputs.steps if s.command.program == "go" and s.command.subcommand == "build"
    ]
    added = None if builds else _go_run_as_build(inputs)
    if added is not None:
        builds = [added[0]]
    if _sets_cgo(inputs, "1") or any(s.command.has("-race") for s in builds):
        raise Refusal("the build enables cgo, so the binary needs the C library it was built with")
    outputs = [_go_output(step, inputs.ctx) for step in builds]
    binary, command = choose_binary(inputs, outputs, "`go build`", {"go"}, {"run"})
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
