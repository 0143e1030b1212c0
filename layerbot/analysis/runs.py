"""Reading and rewriting ``RUN`` instructions for the layer rules.

The package-cache, cleanup, update and merge rules all need the same few things: which stages
ship, which shell commands a RUN runs, whether a BuildKit cache mount covers a directory, and
edits that change a RUN's text while keeping its line layout (so a reviewer sees only the lines
that really change, and adjacent changes become one GitLab suggestion).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from layerbot.analysis import shell
from layerbot.analysis.dockerfile import Dockerfile, Instruction, Stage
from layerbot.analysis.model import Edit

# Builtins whose effect would leak into commands merged after them in one shell.
_STATEFUL = {"cd", "export", "set", "source", ".", "umask", "ulimit", "unset", "pushd", "popd"}
_FLAGS_PREFIX = re.compile(r"^RUN(?:\s+--[a-z][a-z0-9-]*(?:=\S*)?)*\s+", re.IGNORECASE)


def shipped_stages(doc: Dockerfile) -> list[Stage]:
    """The final stage and the stages it is built ``FROM``: their layers are the image."""
    chain = [doc.final_stage]
    while (parent := doc.base_stage(chain[-1])) is not None:
        chain.append(parent)
    return list(reversed(chain))


def shell_runs(stage: Stage) -> list[Instruction]:
    """The stage's shell-form RUNs without heredocs: the ones we can read and rewrite."""
    return [
        i
        for i in stage.instructions
        if i.keyword == "RUN" and not i.is_exec_form and not i.heredocs
    ]


def run_commands(run: Instruction) -> list[shell.Command]:
    """The simple commands a RUN runs (:attr:`Instruction.commands`: exec form included)."""
    return list(run.commands)


def cache_mount_targets(run: Instruction, kinds: tuple[str, ...] = ("cache",)) -> list[str]:
    """Targets of ``--mount=type=cache`` (or the other mount ``kinds``) on this RUN."""
    targets = []
    for options in run.mounts:
        if options.get("type") in kinds:
            target = options.get("target")
            if target:
                targets.append(target.rstrip("/") or "/")
    return targets


def is_stateful(run: Instruction) -> bool:
    """Whether the RUN changes shell state (cwd, environment, options) for what follows it."""
    return any(command.program in _STATEFUL for command in run_commands(run))


def only_and_chains(run: Instruction) -> bool:
    """Whether every top-level operator is ``&&``: the RUN fails as soon as a command fails."""
    return all(operator == "&&" for operator in shell.operators(run.arguments))


def has_inline_comment(run: Instruction) -> bool:
    """Comment lines inside a continued RUN: text edits near them are not worth the risk."""
    return any(line.lstrip().startswith("#") for line in run.original.splitlines()[1:])


def rewritable(doc: Dockerfile, run: Instruction) -> bool:
    """Whether we can rewrite the RUN's text: shell form, no heredoc, no comment lines, the
    backslash as escape character, and text that splits into exactly the lines of its span."""
    lines = run.original.splitlines()
    return (
        doc.directives.get("escape", "\\") == "\\"
        and not run.is_exec_form
        and not run.heredocs
        and len(lines) == run.end_line - run.line + 1
        and not has_inline_comment(run)
        and "#" not in shell.operators(run.arguments)
    )


def body_lines(run: Instruction) -> list[str]:
    return run.original.splitlines()


def flags_prefix(run: Instruction) -> str:
    """``RUN`` and its flags as written, up to the first character of the script."""
    match = _FLAGS_PREFIX.match(run.original)
    return match.group(0) if match else "RUN "


def continuation_indent(run: Instruction) -> str:
    """The indentation the RUN's continuation lines use (four spaces when it has none)."""
    for line in run.original.splitlines()[1:]:
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return "    "


def append_command(run: Instruction, command: str) -> list[str]:
    """The RUN's lines with ``&& command`` appended in the RUN's own continuation style."""
    return append_to_lines(body_lines(run), command)


def append_to_lines(lines: list[str], command: str) -> list[str]:
    """``lines`` of a RUN with ``&& command`` appended, laid out like the lines before it.

    A one-line RUN stays one line; a continued RUN gets one more continuation line, with
    ``&&`` leading or trailing as the RUN already writes it.
    """
    lines = [*lines[:-1], _without_final_semicolon(lines[-1])]
    if len(lines) == 1:
        return [f"{lines[0].rstrip()} && {command}"]
    last = lines[-1].rstrip()
    indent = last[: len(last) - len(last.lstrip())] or "    "
    if lines[-2].rstrip().endswith(("&& \\", "&&\\")):
        return [*lines[:-1], f"{last} && \\", f"{indent}{command}"]
    return [*lines[:-1], f"{last} \\", f"{indent}&& {command}"]


def _without_final_semicolon(line: str) -> str:
    """``a;`` ends like ``a``: the RUN's status is ``a``'s either way, and ``a; && b`` is not
    shell."""
    line = line.rstrip()
    return line[:-1].rstrip() if line.endswith(";") and not line.endswith(";;") else line


def script_text(run: Instruction) -> str:
    """The RUN's original text after ``RUN`` and its flags, line breaks kept."""
    return run.original[len(flags_prefix(run)) :]


def remove_from_run(run: Instruction, pattern: re.Pattern[str]) -> list[str]:
    """The RUN's lines without the commands ``pattern`` matches (see :func:`remove_command`)."""
    return (flags_prefix(run) + remove_command(script_text(run), pattern)).splitlines()


def rewrite(doc: Dockerfile, changes: Mapping[Instruction, list[str] | None]) -> tuple[Edit, ...]:
    """Edits that give each changed instruction its new lines (``None`` deletes it).

    Changes separated only by blank lines become one edit, so two adjacent RUNs merged into
    one are a single contiguous replacement (one GitLab suggestion). Each edit is trimmed to
    the lines that really change.
    """
    ordered = sorted(changes, key=lambda i: i.line)
    clusters: list[list[Instruction]] = []
    for instruction in ordered:
        if clusters and _only_blank_between(doc, clusters[-1][-1], instruction):
            clusters[-1].append(instruction)
        else:
            clusters.append([instruction])
    edits = []
    for cluster in clusters:
        start, end = cluster[0].line, cluster[-1].end_line
        new: list[str] = []
        for position, instruction in enumerate(cluster):
            replacement = changes[instruction]
            if position > 0:
                previous = cluster[position - 1]
                gap = doc.lines[previous.end_line : instruction.line - 1]
                if replacement is not None and changes[previous] is not None:
                    new.extend(gap)
            new.extend(replacement or [])
        edit = trimmed_edit(doc.lines[start - 1 : end], new, start)
        if edit is not None:
            edits.append(edit)
    return tuple(edits)


def _only_blank_between(doc: Dockerfile, first: Instruction, second: Instruction) -> bool:
    return all(not line.strip() for line in doc.lines[first.end_line : second.line - 1])


def trimmed_edit(old: list[str], new: list[str], start: int) -> Edit | None:
    """One edit turning ``old`` (starting at line ``start``) into ``new``, minus shared ends."""
    if old == new:
        return None
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old), len(new)) - prefix
        and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]
    ):
        suffix += 1
    first = start + prefix
    last = start + len(old) - suffix - 1
    return Edit(first, last, tuple(new[prefix : len(new) - suffix]))


# Variable assignments that open a simple command, just before its program.
_LEADING_ASSIGNMENTS = re.compile(r"(?:(?<=\s)|^)(?:[A-Za-z_][A-Za-z0-9_]*=\S*[ \t]+)+$")


def insert_before_command(run: Instruction, match: re.Match[str], text: str) -> list[str] | None:
    """The RUN's lines with ``text`` inserted before a command found by ``match``.

    ``match`` is a match in :func:`script_text`; the command's own variable assignments
    (``DEBIAN_FRONTEND=noninteractive apt-get install``) stay with it. ``None`` when the
    command follows ``||``, ``|`` or ``&``: prefixing it there would change which commands run.
    """
    script = script_text(run)
    assignments = _LEADING_ASSIGNMENTS.search(script[: match.start()])
    start = assignments.start() if assignments else match.start()
    before = re.sub(r"\\\r?\n", " ", script[:start]).rstrip()
    if before and not before.endswith(("&&", ";", "then", "do", "else", "{", "(")):
        return None
    new_script = script[:start] + text + script[start:]
    return (flags_prefix(run) + new_script).splitlines()


def merged_lines(first: list[str], indent: str, second: Instruction) -> list[str]:
    """The lines ``first`` of a RUN followed by ``second``'s script, chained with ``&&``.

    ``second``'s lines stay as written; its ``RUN`` (and flags) becomes ``&&`` at ``indent``.
    ``first`` is extended in place and returned: merging n RUNs one by one costs n, not n².
    """
    tail = script_text(second).splitlines()
    first[-1] = f"{_without_final_semicolon(first[-1])} \\"
    first.append(f"{indent}&& {tail[0].lstrip()}")
    first.extend(tail[1:])
    return first


def chained_lines(run: Instruction, texts: list[str]) -> list[str]:
    """A RUN with ``run``'s flags running ``texts`` joined by ``&&``, laid out like ``run``."""
    prefix = flags_prefix(run)
    if len(body_lines(run)) == 1:
        return [prefix + " && ".join(texts)]
    indent = continuation_indent(run)
    lines = [prefix + texts[0]]
    lines.extend(f"{indent}&& {text}" for text in texts[1:])
    return [line + " \\" for line in lines[:-1]] + [lines[-1]]


def adjacent(doc: Dockerfile, first: Instruction, second: Instruction) -> bool:
    """Whether ``second`` directly follows ``first`` (only blank lines between)."""
    return second.line > first.end_line and _only_blank_between(doc, first, second)


def same_run_flags(first: Instruction, second: Instruction) -> bool:
    """Whether both RUNs carry the same ``--mount``/``--network``/``--security`` flags."""
    return flags_prefix(first).split()[1:] == flags_prefix(second).split()[1:]


_SEPARATOR = r"(?:[ \t]|\\\r?\n)"
_COMMAND_END = re.compile(r"&&|\|\||[;|]|(?<!\\)\n")


@functools.cache
def command_pattern(program: str, subcommands: str) -> re.Pattern[str]:
    """A command ``program [-options] subcommand`` in script text (``program`` is a regex).

    Compiled once, when a fix first edits such a command: each takes 0.3 ms to compile, and a
    check meets one or two package managers of the dozen the rules know.
    """
    return re.compile(
        rf"(?<![\w./-])(?:/\S*/)?(?:{program})(?:{_SEPARATOR}+-\S+)*{_SEPARATOR}+"
        rf"(?:{subcommands})(?=\s|$|;|&|\|)"
    )


def add_flag(text: str, pattern: re.Pattern[str], flag: str, present: tuple[str, ...]) -> str:
    """``flag`` inserted after every command matching ``pattern`` that has none of ``present``."""
    for match in reversed(list(pattern.finditer(text))):
        end = _COMMAND_END.search(text, match.end())
        segment = text[match.start() : end.start() if end else len(text)]
        found = shell.commands(segment)
        if found and found[0].has_flag(*present):
            continue
        text = text[: match.end()] + f" {flag}" + text[match.end() :]
    return text


def remove_command(text: str, pattern: re.Pattern[str]) -> str:
    """``text`` without the commands ``pattern`` matches when ``&&`` or ``;`` follows them.

    The operator after the command goes too, with the line break when the command ended its
    line, so ``apk update && \\`` + ``apk add ...`` becomes ``apk add ...``.
    """
    following = re.compile(
        rf"(?:{_SEPARATOR}+-\S+)*[ \t]*(?:\\\r?\n[ \t]*)?(?:&&|;)[ \t]*(?:\\\r?\n[ \t]*)?"
    )
    for match in reversed(list(pattern.finditer(text))):
        tail = following.match(text, match.end())
        if tail:
            text = text[: match.start()] + text[tail.end() :]
    return text
