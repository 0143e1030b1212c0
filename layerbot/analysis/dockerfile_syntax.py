"""A Dockerfile's lines read the way BuildKit reads them, and the checks BuildKit makes.

Every rule stands on this, so it follows BuildKit's own parser rather than a guess of it
(links are to moby/buildkit, ``frontend/dockerfile/parser/``):

- ``parser.go`` ``Parse``/``processLine``: parser directives (``# syntax=``, ``# escape=``,
  ``# check=``) count only before any other line, each at most once, and ``escape`` is ``\\`` or
  a backtick; leading whitespace is dropped; a comment line is skipped, also inside a line
  continuation, and so is a blank line there (BuildKit only warns); a continuation still open at
  the end of the file ends the instruction.
- ``parser.go`` ``trimContinuationCharacter``: the escape character, then only spaces and tabs,
  at the end of a line continues it (``\\\\`` does not).
- ``parser.go`` ``heredocsFromLine``/``heredocFromMatch``: heredocs are looked for, on ``RUN``,
  ``COPY`` and ``ADD`` (also under ``ONBUILD``) in shell form only, on each shell *word*
  matching ``^(\\d*)<<(-?)([^<]*)$`` (``<<EOF``, ``3<<EOF``, ``<<-EOF``, ``<<'EOF'``,
  ``<<app.conf``; never ``'<<EOF'``, ``<<<word`` or ``$((1<<2))``); ``<< EOF`` takes the next
  word. ``<<-`` strips leading tabs from the terminator line.
- ``split_command.go`` ``extractBuilderFlags``: leading ``--flag[=value]`` words, ``--`` ends them.
- ``line_parsers.go`` ``parseNameVal``/``parseJSON``/``parseMaybeJSON`` and
  ``instructions/parse.go``: what BuildKit refuses before it builds anything (``ENV NAME`` with no
  value, a JSON array of non-strings, ``SHELL`` not in JSON form, ``FROM`` with two words,
  ``COPY`` with no destination, ``ONBUILD ONBUILD`` …) is a :class:`DockerfileError`.

https://github.com/moby/buildkit/blob/master/frontend/dockerfile/parser/parser.go
https://github.com/moby/buildkit/blob/master/frontend/dockerfile/parser/line_parsers.go
https://github.com/moby/buildkit/blob/master/frontend/dockerfile/instructions/parse.go
"""

from __future__ import annotations

import json
import re

from layerbot.analysis.model import InputError
from layerbot.analysis.record import Record
from layerbot.analysis.shell import raw_words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class DockerfileError(InputError):
    """The file is not a Dockerfile we can analyse; ``line`` points at the culprit."""


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
KNOWN_DIRECTIVES = ("syntax", "escape", "check")
INSTRUCTIONS = frozenset(
    {
        *("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK"),
        *("LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME"),
        "WORKDIR",
    }
)
# Our bound, not BuildKit's: the rules read each instruction as a whole, and no real one comes
# near this many lines; a hostile file that does is reported instead of analysed for minutes.
MAX_INSTRUCTION_LINES = 10_000
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC_WORD = re.compile(r"(\d*)<<(-?)([^<]*)")
# Heredocs only: kept as text, ``re`` compiles it when first used.
_NAME_PART = r"""(?s)'([^']*)(')?|"((?:\\.|[^"\\])*)(")?|\\(.?)|([^'"\\]+)"""
_FLAG_WORD = re.compile(r"""\s*(--(?:[^\s'"]|'[^']*'|"(?:\\.|[^"\\])*")*)""")
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")
_EXACTLY_ONE = frozenset({"MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"})
_AT_LEAST_ONE = frozenset({"ARG", "ENV", "LABEL", "EXPOSE", "VOLUME", "ONBUILD", "HEALTHCHECK"})
_JSON_CAPABLE = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})


class Heredoc(Record):
    __slots__ = ("body", "end_line", "line", "name")

    def __init__(self, name: str, body: str, line: int, end_line: int) -> None:
        self.name: Final = name
        self.body: Final = body
        self.line: Final = line
        self.end_line: Final = end_line


class RawInstruction(Record):
    """One instruction as read: ``rest`` is everything after the keyword, continuations joined;
    ``start``/``end`` are 0-based line indexes (heredoc bodies included)."""

    __slots__ = ("end", "heredocs", "keyword", "rest", "start")

    def __init__(
        self, keyword: str, rest: str, start: int, end: int, heredocs: tuple[Heredoc, ...]
    ) -> None:
        self.keyword: Final = keyword
        self.rest: Final = rest
        self.start: Final = start
        self.end: Final = end
        self.heredocs: Final = heredocs


class Lines(Record):
    __slots__ = ("comments", "directives", "instructions")

    def __init__(
        self,
        directives: dict[str, str],
        instructions: list[RawInstruction],
        comments: dict[int, str],
    ) -> None:
        self.directives: Final = directives
        self.instructions: Final = instructions
        self.comments: Final = comments


class _Directives:
    """BuildKit's ``directives.possibleParserDirective``: looked for until the first line that is
    not one."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}
        self.done = False
        self.escape = "\\"

    def see(self, line: str, number: int) -> None:
        if self.done:
            return
        match = _DIRECTIVE.match(line)
        key = match.group(1).lower() if match else ""
        if not match or key not in KNOWN_DIRECTIVES:
            self.done = True
            return
        if key in self.found:
            raise DockerfileError(f"only one {key} parser directive can be used", number)
        value = match.group(2)
        if key == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(
                    f"invalid escape token {value!r} does not match ` or \\", number
                )
            self.escape = value
        self.found[key] = value


def _continued(line: str, escape: str) -> tuple[str, bool]:
    """The line without its continuation mark, and whether it had one."""
    trimmed = line.rstrip(" \t")
    if not trimmed.endswith(escape) or trimmed.endswith(escape * 2):
        return line, False
    return trimmed[:-1], True


def read(text: str) -> Lines:
    """The directives, the instructions and the comment lines of a Dockerfile."""
    lines = text.splitlines()
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    directives = _Directives()
    comments: dict[int, str] = {}
    found: list[RawInstruction] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].lstrip()
        if not directives.done:  # looked for only at the top: skip the call after that
            directives.see(stripped, index + 1)
        index += 1
        if stripped.startswith("#"):
            comments[index] = stripped[1:].strip()
            continue
        if not stripped:
            continue
        start = index - 1
        piece, continued = _continued(stripped, directives.escape)
        parts = [piece]
        while continued and index < len(lines):
            line = lines[index]
            if not directives.done:
                directives.see(line, index + 1)
            index += 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue  # BuildKit skips blank and comment lines inside a continuation
            piece, continued = _continued(line, directives.escape)
            parts.append(piece)
            if index - start > MAX_INSTRUCTION_LINES:
                raise DockerfileError(
                    f"the instruction on line {start + 1} continues over more than "
                    f"{MAX_INSTRUCTION_LINES:,} lines",
                    start + 1,
                )
        joined = "".join(parts)
        if not joined.strip():  # BuildKit: an instruction with no name is an unknown one
            raise DockerfileError(
                f"line {start + 1} continues into nothing: no instruction to continue", start + 1
            )
        keyword, *more = joined.split(None, 1)  # ``FROM\timage`` too
        keyword, rest = keyword.upper(), more[0].strip() if more else ""
        docs, index = _heredocs(keyword, rest, lines, index, start + 1)
        found.append(RawInstruction(keyword, rest, start, index - 1, docs))
    return Lines(directives.found, found, comments)


def split_flags(rest: str) -> tuple[list[str], str]:
    """BuildKit's ``extractBuilderFlags``: the leading ``--name[=value]`` words and the rest."""
    flags: list[str] = []
    position = 0
    while match := _FLAG_WORD.match(rest, position):
        position = match.end()
        if match.group(1) == "--":
            break
        flags.append(match.group(1))
    return flags, rest[position:].strip()


def json_array(arguments: str) -> list[str] | None:
    """The JSON array of an exec-form argument list, ``None`` for shell form (BuildKit's
    ``parseJSON``: text that is not a valid JSON array is shell form); an array holding
    anything but strings is an error (``errDockerfileNotStringArray``)."""
    if not arguments.startswith("["):
        return None
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return None
    if not isinstance(parsed, list):
        return None
    if not all(isinstance(item, str) for item in parsed):
        raise ValueError("when using JSON array syntax, arrays must be comprised of strings only")
    return parsed


def _heredocs(
    keyword: str, rest: str, lines: list[str], index: int, line: int
) -> tuple[tuple[Heredoc, ...], int]:
    """The heredocs the instruction opens, their bodies read from ``lines[index:]``."""
    if keyword == "ONBUILD":
        keyword, *more = rest.split(None, 1) or [""]
        keyword, rest = keyword.upper(), more[0] if more else ""
    if keyword not in _HEREDOC_INSTRUCTIONS or "<<" not in rest:
        return (), index
    arguments = split_flags(rest)[1]
    try:
        if json_array(arguments) is not None:
            return (), index
    except ValueError:
        return (), index  # reported by check()
    docs = []
    for name, chomp in heredoc_names(arguments, line):
        body: list[str] = []
        while True:
            if index >= len(lines):
                raise DockerfileError(
                    f"heredoc <<{name} opened on line {line} is never closed", line
                )
            candidate = lines[index].lstrip("\t") if chomp else lines[index]
            index += 1
            if candidate == name:
                break
            body.append(lines[index - 1])
        docs.append(Heredoc(name, "\n".join(body), index - len(body), index))
    return tuple(docs), index


def heredoc_names(arguments: str, line: int) -> list[tuple[str, bool]]:
    """(name, strips tabs) of each heredoc word in shell-form ``arguments``."""
    return [(_heredoc_name(raw, line), chomp) for raw, chomp in split_heredocs(arguments)[1]]


def split_heredocs(arguments: str) -> tuple[list[str], list[tuple[str, bool]]]:
    """The shell words of ``arguments`` that open no heredoc, and (raw name, strips tabs) of
    each heredoc opener (``<<EOF``, ``3<<-'EOF'``; ``<< EOF`` takes the next word)."""
    words = raw_words(arguments)
    kept: list[str] = []
    openers: list[tuple[str, bool]] = []
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        match = _HEREDOC_WORD.fullmatch(word)
        name = match.group(3) if match else ""
        if match and not name and position < len(words) and "<" not in words[position]:
            name = words[position]  # ``<< EOF``
            position += 1
        if name:
            openers.append((name, match is not None and match.group(2) == "-"))
        else:
            kept.append(word)
    return kept, openers


def _heredoc_name(word: str, line: int) -> str:
    """``'EOF'``, ``"EOF"``, ``E"O"F`` and ``E\\OF`` all name ``EOF``; an open quote is an error."""
    parts = []
    for match in re.finditer(_NAME_PART, word):
        single, single_end, double, double_end, escaped, plain = match.groups()
        opener = match.group(0)[0]
        if (opener == "'" and single_end is None) or (opener == '"' and double_end is None):
            raise DockerfileError(f"heredoc name {word!r} on line {line} has an open quote", line)
        if opener == "'":
            parts.append(single)
        elif opener == '"':
            parts.append(re.sub(r"\\(.)", r"\1", double))
        else:
            parts.append(escaped if opener == "\\" else plain)
    return "".join(parts)


def check(instruction: RawInstruction) -> None:
    """Raise :class:`DockerfileError` where BuildKit refuses the instruction
    (``instructions/parse.go``; the messages say BuildKit's reason in our words)."""
    keyword, line = instruction.keyword, instruction.start + 1
    if keyword not in INSTRUCTIONS:
        raise DockerfileError(f"unknown instruction {keyword[:40]} on line {line}", line)
    arguments = split_flags(instruction.rest)[1]
    reason = _refusal(keyword, arguments)
    if reason:
        raise DockerfileError(f"{keyword} on line {line} {reason}", line)


def _refusal(keyword: str, arguments: str) -> str | None:
    """Why BuildKit refuses ``keyword arguments``, or ``None``."""
    try:
        exec_form = json_array(arguments) if keyword in _JSON_CAPABLE else None
    except ValueError as error:
        return f"is refused: {error}"
    if not arguments and (keyword in _EXACTLY_ONE or keyword in _AT_LEAST_ONE):
        return "needs an argument"
    if keyword in {"ENV", "LABEL"}:
        return _name_value_refusal(keyword, arguments)
    if keyword == "FROM":
        words = arguments.split()
        if not words:
            return "names no image"
        if len(words) == 3 and words[1].lower() == "as":
            if not _STAGE_NAME.fullmatch(words[2].lower()):
                return f"names its stage {words[2][:40]!r}: a stage name starts with a letter"
        elif len(words) != 1:
            return "takes an image and optionally `AS name`, nothing else"
    if keyword in {"COPY", "ADD"}:
        sources = exec_form if exec_form is not None else arguments.split()
        if len(sources) < 2:
            return "has no destination"
        destination = _HEREDOC_WORD.fullmatch(sources[-1])
        if destination is not None and destination.group(3):
            return "has a heredoc as its destination"
    if keyword == "VOLUME" and exec_form == []:
        return "needs an argument"
    if keyword == "SHELL" and not exec_form:
        return 'must be a JSON array of strings (`SHELL ["/bin/sh", "-c"]`)'
    if keyword == "HEALTHCHECK":
        return _healthcheck_refusal(arguments)
    if keyword == "ONBUILD":
        trigger = arguments.split()[0].upper()
        if trigger in {"ONBUILD", "FROM", "MAINTAINER"}:
            return f"cannot trigger {trigger}"
    return None


def _name_value_refusal(keyword: str, arguments: str) -> str | None:
    """``line_parsers.go`` ``parseNameVal``: ``NAME value`` (the old form) or ``NAME=value ...``."""
    words = raw_words(arguments)
    if "=" not in words[0]:
        if len(arguments.split(None, 1)) < 2:
            return (
                f"needs a value: `{keyword} {words[0][:40]}` sets nothing (`{keyword} NAME=value`)"
            )
        return None
    for word in words:
        if "=" not in word:
            return f"mixes `NAME=value` with {word[:40]!r}, which has no `=`"
    return None


def _healthcheck_refusal(arguments: str) -> str | None:
    kind, _, command = arguments.partition(" ")
    if kind.upper() == "NONE":
        return "NONE takes no arguments" if command.strip() else None
    if kind.upper() != "CMD":
        return f"has the unknown type {kind[:40]!r} (CMD or NONE)"
    try:
        exec_form = json_array(command.strip())
    except ValueError as error:
        return f"is refused: {error}"
    return "CMD names no command" if not command.strip() or exec_form == [] else None
