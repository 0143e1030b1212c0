"""Parsing a Dockerfile into stages and instructions with exact line spans.

``dockerfile-parse`` does the line work (continuations, comments, the ``# escape=`` directive);
on top of it we restore what it does not know: heredocs (BuildKit's ``RUN <<EOF``), the parser
directives at the top, stage names, ``ARG`` before the first ``FROM`` and ``COPY --from``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from functools import cached_property

from dockerfile_parse import DockerfileParser

from layerbot.analysis.fixes import check_line_breaks
from layerbot.analysis.image_ref import ImageRef, parse_image
from layerbot.analysis.model import InputError
from layerbot.analysis.shell import split_words


class DockerfileError(InputError):
    """The file is not a Dockerfile we can analyse; ``line`` points at the culprit."""


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG = re.compile(r"--([a-z][a-z0-9-]*)(?:=(\S*))?")
# ``$NAME``, ``${NAME}``, ``${NAME:-word}`` (and ``-``, ``:+``, ``+``), as BuildKit expands them.
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)

KNOWN_DIRECTIVES = ("syntax", "escape", "check")
INSTRUCTIONS = frozenset(
    {
        *("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK"),
        *("LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME"),
        "WORKDIR",
    }
)

# dockerfile-parse joins continuation lines by repeated concatenation, which is quadratic in
# one instruction's length; no real instruction comes near this many lines.
MAX_INSTRUCTION_LINES = 10_000


@dataclass(frozen=True)
class Heredoc:
    name: str
    body: str
    line: int
    end_line: int


@dataclass(frozen=True)
class Instruction:
    """One instruction. ``line``/``end_line`` are 1-based and cover continuations and heredocs."""

    keyword: str
    value: str
    line: int
    end_line: int
    original: str
    stage: int
    heredocs: tuple[Heredoc, ...] = ()

    # Every rule reads the flags and arguments of every instruction: split the value once.
    @cached_property
    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` flags (``--mount`` may repeat: see :meth:`flag_values`)."""
        return dict(self._split_value[0])

    def flag_values(self, name: str) -> list[str]:
        return [value for flag, value in self._split_value[0] if flag == name]

    @cached_property
    def _split_value(self) -> tuple[tuple[tuple[str, str], ...], str]:
        """The leading flags as (name, value) pairs, and the rest of the value."""
        tokens = self.value.split()
        pairs = []
        while tokens and (match := _FLAG.fullmatch(tokens[0])):
            pairs.append((match.group(1), match.group(2) or ""))
            tokens.pop(0)
        return tuple(pairs), " ".join(tokens)

    @property
    def arguments(self) -> str:
        """The value without its leading flags."""
        return self._split_value[1]

    @property
    def is_exec_form(self) -> bool:
        return self.arguments.lstrip().startswith("[")

    def exec_args(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, or ``None`` for shell form."""
        import json

        if not self.is_exec_form:
            return None
        try:
            parsed = json.loads(self.arguments)
        except ValueError:
            return None
        return [str(item) for item in parsed] if isinstance(parsed, list) else None

    @property
    def script(self) -> str:
        """What a RUN executes: its shell text, heredoc bodies included."""
        text = self.arguments
        for doc in self.heredocs:
            text += "\n" + doc.body
        return text

    def copy_sources(self) -> list[str]:
        """Source paths of a COPY/ADD (everything but the destination)."""
        args = self.exec_args()
        if args is None:
            args = split_words(self.arguments)
        args = [arg for arg in args if not arg.startswith("<<")]
        return args[:-1] if len(args) > 1 else []

    def copy_destination(self) -> str | None:
        args = self.exec_args()
        if args is None:
            args = split_words(self.arguments)
        return args[-1] if len(args) > 1 else None


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    from_instruction: Instruction
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def image(self) -> ImageRef:
        return parse_image(self.base)

    @property
    def body(self) -> list[Instruction]:
        """The stage's instructions after its FROM."""
        return self.instructions[1:]

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    path: str
    text: str
    lines: list[str]
    directives: dict[str, str]
    global_args: list[Instruction]
    stages: list[Stage]
    comments: dict[int, str]

    @property
    def instructions(self) -> list[Instruction]:
        return [*self.global_args, *(i for s in self.stages for i in s.instructions)]

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    def stage_named(self, name: str) -> Stage | None:
        lowered = name.lower()
        for stage in self.stages:
            if stage.name and stage.name.lower() == lowered:
                return stage
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None

    def base_stage(self, stage: Stage) -> Stage | None:
        """The earlier stage this one builds ``FROM``, if any."""
        found = self.stage_named(stage.base)
        return found if found is not None and found.index < stage.index else None

    def resolved_base(self, stage: Stage) -> ImageRef:
        """The base image with ``ARG`` defaults from before the first FROM substituted.

        A variable with no default stays as written (``$BASE``): its value comes from the
        build (``--build-arg``), and we cannot know it. ``${NAME:-word}`` gives ``word`` then.
        A default may use the ARGs declared before it (``ARG IMAGE=debian:${VERSION}``).
        """
        defaults: dict[str, str] = {}

        def substitute(match: re.Match[str]) -> str:
            name, operator, word = match.group(1) or match.group(4), match.group(2), match.group(3)
            value = defaults.get(name)
            if operator in {":-", "-"}:
                return word if value is None or (operator == ":-" and not value) else value
            if operator in {":+", "+"}:
                return "" if value is None or (operator == ":+" and not value) else word
            return match.group(0) if value is None else value

        for arg in self.global_args:
            for word in split_words(arg.arguments):
                name, equals, default = word.partition("=")
                if equals:
                    defaults[name] = _VARIABLE.sub(substitute, default)
                else:
                    defaults.pop(name, None)
        return parse_image(_VARIABLE.sub(substitute, stage.base))

    def used_stages(self) -> set[int]:
        """Indexes of stages the final image depends on (FROM chains and COPY --from)."""
        return set(self._used_stages)

    @cached_property
    def _used_stages(self) -> frozenset[int]:
        needed: set[int] = set()
        pending = [self.final_stage.index]
        while pending:
            index = pending.pop()
            if index in needed:
                continue
            needed.add(index)
            stage = self.stages[index]
            parent = self.base_stage(stage)
            if parent is not None:
                pending.append(parent.index)
            for instruction in stage.instructions:
                source = instruction.flags.get("from") if instruction.keyword in {"COPY"} else None
                if source:
                    found = self.stage_named(source)
                    if found is not None and found.index < stage.index:
                        pending.append(found.index)
                for mount in instruction.flag_values("mount"):
                    match = re.search(r"(?:^|,)from=([^,]+)", mount)
                    found = self.stage_named(match.group(1)) if match else None
                    if found is not None and found.index < stage.index:
                        pending.append(found.index)
        return frozenset(needed)

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


def _directives(lines: list[str]) -> dict[str, str]:
    """Parser directives: ``# key=value`` comments before any other line."""
    found: dict[str, str] = {}
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if not match or match.group(1).lower() not in KNOWN_DIRECTIVES:
            break
        found.setdefault(match.group(1).lower(), match.group(2))
    return found


def _attach_heredocs(
    entries: list[dict[str, object]], lines: list[str]
) -> list[tuple[dict[str, object], tuple[Heredoc, ...], int]]:
    """Fold the lines of each heredoc body back into the instruction that opened it."""
    result: list[tuple[dict[str, object], tuple[Heredoc, ...], int]] = []
    skip_until = -1
    for entry in entries:
        start = int(str(entry["startline"]))
        end = int(str(entry["endline"]))
        if start <= skip_until:
            continue
        docs: list[Heredoc] = []
        keyword = str(entry["instruction"])
        if keyword in {"RUN", "COPY", "ADD"}:
            cursor = end + 1
            for match in _HEREDOC.finditer(str(entry["content"])):
                strip_tabs, terminator = match.group(1) == "-", match.group(3)
                body: list[str] = []
                while True:
                    if cursor >= len(lines):
                        raise DockerfileError(
                            f"heredoc <<{terminator} opened on line {start + 1} is never closed",
                            start + 1,
                        )
                    candidate = lines[cursor].lstrip("\t") if strip_tabs else lines[cursor]
                    if candidate.rstrip("\r") == terminator:
                        break
                    body.append(lines[cursor])
                    cursor += 1
                docs.append(Heredoc(terminator, "\n".join(body), end + 2, cursor + 1))
                end = cursor
                cursor += 1
            skip_until = end
        result.append((entry, tuple(docs), end))
    return result


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text; raises :class:`DockerfileError` on what Docker would reject."""
    if "\x00" in text:
        raise DockerfileError("the file contains NUL bytes; it is not a text Dockerfile")
    try:
        check_line_breaks(text)
    except InputError as error:
        raise DockerfileError(str(error), error.line) from None
    lines = text.splitlines()
    directives = _directives(lines)
    _check_continuations(lines, "`" if directives.get("escape") == "`" else "\\")
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8", "surrogateescape")))
    structure = sorted(parser.structure, key=lambda e: int(e["startline"]))

    comments: dict[int, str] = {}
    code = []
    for entry in structure:
        if entry["instruction"] == "COMMENT":
            comments[int(entry["startline"]) + 1] = str(entry["value"])
        else:
            code.append(entry)

    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for entry, docs, end in _attach_heredocs(code, lines):
        start = int(str(entry["startline"]))
        keyword = str(entry["instruction"]).upper()
        if keyword not in INSTRUCTIONS:
            raise DockerfileError(
                f"unknown instruction {keyword[:40]} on line {start + 1}", start + 1
            )
        for doc_line in range(start + 1, end + 2):
            comments.pop(doc_line, None)
        instruction = Instruction(
            keyword=keyword,
            value=" ".join(str(entry["value"]).split()),
            line=start + 1,
            end_line=end + 1,
            original="\n".join(lines[start : end + 1]),
            stage=len(stages) - (0 if keyword == "FROM" else 1),
            heredocs=docs,
        )
        if keyword == "FROM":
            stages.append(_new_stage(instruction, len(stages)))
        elif not stages:
            if keyword != "ARG":
                raise DockerfileError(
                    f"{keyword} on line {instruction.line} comes before the first FROM",
                    instruction.line,
                )
            global_args.append(instruction)
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError("no FROM instruction: this is not a Dockerfile")
    _check_every_line_read(lines, [*global_args, *(i for s in stages for i in s.instructions)])
    return Dockerfile(path, text, lines, directives, global_args, stages, comments)


def _check_every_line_read(lines: list[str], instructions: list[Instruction]) -> None:
    """A line that is no instruction, comment or blank (dockerfile-parse skips a lone word such
    as ``EXPOSE`` or ``]``) is an error to Docker, and would make our spans lie."""
    read = {n for i in instructions for n in range(i.line, i.end_line + 1)}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and number not in read:
            raise DockerfileError(
                f"line {number} is not a complete instruction: {stripped[:40]!r}", number
            )


def _check_continuations(lines: list[str], escape: str) -> None:
    run = 0
    for number, line in enumerate(lines, start=1):
        run = run + 1 if line.rstrip().endswith(escape) else 0
        if run > MAX_INSTRUCTION_LINES:
            start = number - run + 1
            raise DockerfileError(
                f"the instruction on line {start} continues over more than "
                f"{MAX_INSTRUCTION_LINES:,} lines",
                start,
            )


def _new_stage(instruction: Instruction, index: int) -> Stage:
    tokens = instruction.arguments.split()
    if not tokens:
        raise DockerfileError(f"FROM on line {instruction.line} names no image", instruction.line)
    name = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else None
    return Stage(index, tokens[0], name, instruction, [instruction])
