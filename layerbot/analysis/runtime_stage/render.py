"""Writing the rewrite: the builder keeps the original final stage, the runtime stage gets
the plan's artifact and the container metadata."""

from __future__ import annotations

import json
import re

from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.runtime_stage.plan import Inputs, Plan, Refusal
from layerbot.analysis.shipped import resolve

METADATA = ("EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "LABEL", "STOPSIGNAL")
_BUILD_ONLY_ENV = re.compile(
    r"^(?:GO[A-Z0-9_]*|CGO_[A-Z_]+|CARGO_[A-Z_]*|RUSTUP_[A-Z_]*|RUSTFLAGS|MAVEN_[A-Z_]*|"
    r"GRADLE_[A-Z_]*|DOTNET_CLI_[A-Z_]*|NUGET_[A-Z_]*|NPM_CONFIG_[A-Z_]*)$"
)


class Rewrite:
    __slots__ = ("builder", "plan", "text")

    def __init__(self, text: str, plan: Plan, builder: str) -> None:
        self.text = text
        self.plan = plan
        self.builder = builder


# Rendering -------------------------------------------------------------------------------


def _leading_comments(inputs: Inputs, instruction: Instruction) -> list[int]:
    """Line numbers of the comment block right above ``instruction``."""
    doc = inputs.shipped.doc
    found: list[int] = []
    line = instruction.line - 1
    while line >= 1 and doc.line_text(line).lstrip().startswith("#") and line in doc.comments:
        found.insert(0, line)
        line -= 1
    return found


def _with_comments(inputs: Inputs, instruction: Instruction) -> list[str]:
    doc = inputs.shipped.doc
    return [doc.line_text(n) for n in _leading_comments(inputs, instruction)] + (
        instruction.original.splitlines()
    )


def builder_name(inputs: Inputs) -> str:
    final = inputs.shipped.final
    if final.name:
        return final.name
    taken = {s.name.lower() for s in inputs.shipped.doc.stages if s.name}
    return next(n for n in ("builder", "build-stage", "builder-stage") if n not in taken)


def _env_is_runtime(instruction: Instruction) -> bool:
    names = list(instruction.assignments)
    return not all(_BUILD_ONLY_ENV.match(name) for name in names)


def _user_setup(inputs: Inputs, runtime_image: str) -> list[str]:
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
    uid = creations[-1].option("-u", "--uid")
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


def _runtime_packages(inputs: Inputs, plan: Plan) -> list[str]:
    """The plan's packages, plus curl or wget when the HEALTHCHECK calls them."""
    packages = list(plan.packages)
    check = inputs.shipped.last("HEALTHCHECK")
    for tool in ("curl", "wget"):
        if check is not None and re.search(rf"\b{tool}\b", check.arguments):
            busybox = tool == "wget" and "alpine" in plan.runtime_image
            if not busybox and tool not in packages:
                packages.append(tool)
    return packages


def _carried_copies(inputs: Inputs) -> list[Instruction]:
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


def render_runtime(inputs: Inputs, plan: Plan, builder: str) -> list[str]:
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


def _render_entry(inputs: Inputs, plan: Plan) -> list[str]:
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
            if entry is not None and shipped.default_arguments(entry.instruction):
                continue  # the CMD held the arguments of the start command rewritten above
            lines.extend(_with_comments(inputs, instruction))
    return lines or [rendered]


def render_builder(inputs: Inputs, plan: Plan, builder: str) -> list[str]:
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
