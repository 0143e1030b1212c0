"""The one shell reader: which commands a ``RUN`` or a CI script runs, with which words.

Continuations are folded; the script is cut at the control operators that stand outside
quotes, backticks and ``$(...)`` substitutions (``&&``, ``||``, ``;``, ``;;``, ``|``, ``|&``,
a lone ``&``, newlines, and the parentheses of a subshell); comments (an unquoted ``#`` that
starts a word, to the end of its line) are dropped; each simple command is tokenised like
:mod:`shlex`. Loops and functions are read as flat text: a rule that needs more than "which
programs with which arguments" should not be written against shell. Every scan is one pass of a
regular expression whose alternatives start with different characters, so hostile input (100,000
nested quotes or parentheses) costs linear time. Rules ask this module; they do not re-parse.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from functools import lru_cache

from layerbot.analysis.memo import cached_property
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# ``$(...)`` (``$((...))`` too) with one level of parentheses inside: one word, never cut.
_QUOTED = r"'[^']*'|" + r'"(?:\\.|[^"\\])*"'
_SUBSTITUTION = rf"""\$\((?:[^()'"\\]|\\.|{_QUOTED}|\((?:[^()'"\\]|\\.|{_QUOTED})*\))*\)"""
# Quoted strings, backticks and substitutions are matched first so that operators inside them
# do not split a command. A lone ``&`` runs the command before it in the background (not
# ``2>&1``, ``&>file`` or ``|&``); ``(`` opens a subshell where a command starts. A heredoc
# (``<<EOF``, ``<<-'EOF'``; not the here-string ``<<<``) makes the lines after its command
# line, to its terminator, data: they are no commands.
_OPERATORS = re.compile(
    rf"""{_QUOTED}|\\.|`(?:\\.|[^`\\])*`|{_SUBSTITUTION}"""
    r"""|(&&|\|\||;;?|\|&?|(?<![<>])&(?!>)|\n|(?<![^\s;&|()])\(|\))"""
    r"""|(?<![^\s;&|()])(#[^\n]*)"""
    r"""|(?<!<)<<(?!<)(-?)[ \t]*(?:'([^'\n]*)'|"([^"\n]*)"|\\?([^\s;&|()<>'"`]+))""",
    re.DOTALL,
)
# Where a match of ``_OPERATORS`` can start. Its alternatives open with groups and
# lookbehinds, so a search tries every one of them at every character; the scan jumps
# between these characters instead, about five times faster on real scripts.
_OPERATOR_START = re.compile(r"""[\\'"`$&|;\n()#<]""")
# A word is a run of unquoted characters, quoted strings, escapes and substitutions (linear,
# unlike shlex, whose per-character concatenation is quadratic on a hostile one-megabyte word).
_WORD = re.compile(
    rf"""(?:{_SUBSTITUTION}|[^\s'"`\\$]+|\$|'[^']*'?|"(?:\\.|[^"\\])*"?|`(?:\\.|[^`\\])*`?|\\.?)+""",
    re.DOTALL,
)
_PART = re.compile(r"""'([^']*)'?|"((?:\\.|[^"\\])*)"?|\\(.?)|([^'"\\]+)""", re.DOTALL)
# One token of :func:`raw_words`: a quoted string (maybe never closed), an escape, the opening
# of a ``$(`` substitution, a parenthesis, a run of whitespace or of plain characters.
_RAW_TOKEN = re.compile(
    r"""'[^']*'?|"(?:\\.|[^"\\])*"?|`(?:\\.|[^`\\])*`?|\\.?|\$\(|[()]|\s+|[^\s'"`\\$()]+|\$""",
    re.DOTALL,
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_ESCAPED = re.compile(r"\\(.)")
_CONTINUATION = re.compile(r"\\\r?\n")
# xargs options whose value is the next word (``-n 1``, ``-I {}``).
_XARGS_VALUE_OPTIONS = {"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter"}
_ABOUT_ITSELF = ("--version", "-v", "-V", "--help", "-h")
_WRAPPERS = {"sudo", "exec", "time", "nice", "nohup", "env", "command", "then", "do", "else"}
_WRAPPERS |= {"if", "elif", "while", "until", "!"}  # ``if ! apt-get install ...; then``
_USER_SWITCHES = {"gosu", "su-exec"}
# Shell reserved words in front of a command (``then npm ci``): syntax, not part of its text.
_KEYWORDS = re.compile(r"^(?:(?:then|do|else|if|elif|while|until|!)\s+)+")


class Command(Record):
    """One simple command: ``argv`` without leading ``VAR=value`` assignments or ``sudo``."""

    __slots__ = ("__dict__", "argv", "text")

    def __init__(self, argv: tuple[str, ...], text: str) -> None:
        self.argv: Final = argv
        self.text: Final = text

    @cached_property
    def program(self) -> str:
        """``apt-get`` for ``/usr/bin/apt-get``; asked for by every rule, so worked out once."""
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""

    def has(self, *words: str) -> bool:
        return any(word in self.argv for word in words)

    def has_flag(self, *flags: str) -> bool:
        """A long or short flag, also as ``--flag=value`` or bundled short flags (``-qy``)."""
        for arg in self.argv[1:]:
            for flag in flags:
                if arg == flag or arg.startswith(flag + "="):
                    return True
                short = len(flag) == 2 and flag[0] == "-" and flag[1] != "-"
                bundled = arg.startswith("-") and not arg.startswith("--")
                if short and bundled and flag[1] in arg[1:]:
                    return True
        return False

    def option(self, *names: str) -> str | None:
        """The value of the first of ``names`` given, as ``--name value`` or ``--name=value``."""
        argv = self.argv
        for index, arg in enumerate(argv[1:], start=1):
            for name in names:
                if arg == name and index + 1 < len(argv):
                    return argv[index + 1]
                if arg.startswith(name + "="):
                    return arg.split("=", 1)[1]
        return None

    def arguments(self, valued: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """The words after the program that are neither flags nor the values of the ``valued``
        flags (``build ./cmd`` for ``go build -o /out ./cmd`` with ``-o`` valued)."""
        found: list[str] = []
        skip = False
        for arg in self.argv[1:]:
            if skip:
                skip = False
            elif arg.startswith("-"):
                skip = arg in valued
            else:
                found.append(arg)
        return found

    def operands(self, valued: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """:meth:`arguments` after the subcommand (the packages of
        ``apk add --virtual .deps gcc``: ``gcc``)."""
        return self.arguments(valued)[1:]

    @property
    def about_itself(self) -> bool:
        """``yarn --version``, ``bundle -v``, ``npm help``: a smoke test, not a real run."""
        return self.subcommand in {"", "version", "help"} and self.has_flag(*_ABOUT_ITSELF)

    @property
    def subcommand(self) -> str:
        """The first non-flag argument after the program (``install`` in ``pip -q install``)."""
        for arg in self.argv[1:]:
            if not arg.startswith("-"):
                return arg
        return ""


def _unquote(word: str) -> str:
    if "'" not in word and '"' not in word and "\\" not in word:
        return word  # the common case: nothing to unquote
    parts = []
    for single, double, escaped, plain in _PART.findall(word):
        if "\\" in double:
            double = _ESCAPED.sub(r"\1", double)
        parts.append(single or double or escaped or plain)
    return "".join(parts)


def split_words(text: str) -> list[str]:
    """Shell words of one simple command, quotes removed; an unquoted ``#`` word ends it."""
    return list(_words(text))


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    """Several rules split the same ``COPY`` or ``ARG`` arguments: split each text once."""
    words = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word.startswith("#"):
            break
        words.append(_unquote(word))
    return tuple(words)


def raw_words(text: str) -> list[str]:
    """Words split at unquoted whitespace, quotes and escapes kept as written (what BuildKit's
    heredoc finder looks at: ``'<<EOF'`` is a quoted word, ``<<EOF`` is not). A ``$(...)`` or
    ``$((...))`` substitution belongs to its word, the whitespace inside it included."""
    words: list[str] = []
    current: list[str] = []
    depth = 0
    for match in _RAW_TOKEN.finditer(text):
        token = match.group(0)
        if token[0].isspace() and not depth:
            if current:
                words.append("".join(current))
                current = []
            continue
        if token == "$(" or (token == "(" and depth):
            depth += 1
        elif token == ")" and depth:
            depth -= 1
        current.append(token)
    if current:
        words.append("".join(current))
    return words


def _fold_continuations(script: str) -> str:
    return _CONTINUATION.sub(" ", script) if "\\" in script else script


@lru_cache(maxsize=4096)
def _cut(script: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``script`` (continuations folded) cut at the control operators that stand outside
    quotes, and those operators in order (a comment shows as ``#``)."""
    script = _fold_continuations(script)
    pieces, operators, start, position = [], [], 0, 0
    heredocs: list[tuple[str, bool]] = []
    while match := _next_operator(script, position):
        position = match.end()
        if match.group(4) is not None or match.group(5) is not None or match.group(6):
            name = match.group(4) or match.group(5) or match.group(6) or ""
            heredocs.append((name, match.group(3) == "-"))
            continue
        operator = match.group(1) or (match.group(2) and "#")
        if not operator:
            continue
        pieces.append(script[start : match.start()])
        operators.append(operator)
        start = position
        if operator == "\n" and heredocs:
            start = position = _after_heredocs(script, position, heredocs)
            heredocs = []
    pieces.append(script[start:])
    return tuple(pieces), tuple(operators)


def _next_operator(script: str, position: int) -> re.Match[str] | None:
    """``_OPERATORS.search(script, position)``, trying only where a match can start."""
    while start := _OPERATOR_START.search(script, position):
        match = _OPERATORS.match(script, start.start())
        if match is not None:
            return match
        position = start.start() + 1
    return None


def _after_heredocs(script: str, position: int, heredocs: list[tuple[str, bool]]) -> int:
    """Where the script goes on after the bodies of ``heredocs`` that start at ``position``."""
    for name, strips_tabs in heredocs:
        while position < len(script):
            end = script.find("\n", position)
            end = len(script) if end == -1 else end
            line = script[position:end]
            position = end + 1
            if (line.lstrip("\t") if strips_tabs else line) == name:
                break
    return min(position, len(script))


def operators(script: str) -> list[str]:
    """The control operators outside quotes, in order (``&&``, ``||``, ``;``, ``|``, ``&``,
    ``\\n``, ``(`` and ``)`` of subshells); a comment shows up as ``#``."""
    return list(_cut(script)[1])


def _runner_removed(argv: list[str]) -> list[str]:
    """The command a runner runs: ``xargs -rt apk add ...`` runs ``apk add ...`` (with more
    arguments from its input), ``gosu node yarn ...`` and ``su-exec app npm ...`` run the tool
    as that user."""
    if argv and argv[0] in _USER_SWITCHES and len(argv) > 2 and not argv[1].startswith("-"):
        return argv[2:]
    if not argv or argv[0] != "xargs":
        return argv
    index = 1
    while index < len(argv) and argv[index].startswith("-"):
        index += 2 if argv[index] in _XARGS_VALUE_OPTIONS else 1
    return argv[index:]


# ``["sh", "-c", "script"]``: an exec form that runs a shell script.
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "fish"})


def exec_commands(argv: Sequence[str]) -> list[Command]:
    """The commands of an exec form (``RUN ["make", "all"]``, a CI ``entrypoint:``): one
    command, or the script's commands when it runs ``sh -c script`` (``-lc`` too)."""
    if len(argv) >= 3 and posixpath.basename(argv[0]) in SHELLS and argv[1] in {"-c", "-lc"}:
        return commands(argv[2])
    return [Command(tuple(argv), shlex.join(argv))] if argv else []


def commands(script: str) -> list[Command]:
    """The simple commands in ``script``, in order."""
    return list(_parsed(script))


@lru_cache(maxsize=4096)
def _parsed(script: str) -> tuple[Command, ...]:
    """Several rules read the same RUN: parse each script text once."""
    found: list[Command] = []
    for piece in _cut(script)[0]:
        text = piece.strip()
        if not text or text.startswith("#"):
            continue
        argv = split_words(text)
        start = 0  # an index, not pop(0): linear on ``sudo sudo sudo ...``
        while start < len(argv) and (
            _ASSIGNMENT.match(argv[start]) or argv[start] in _WRAPPERS or argv[start] in "({"
        ):
            start += 1
        argv = _runner_removed(argv[start:])
        if argv and argv != ["}"]:  # the end of a ``{ ...; }`` group runs nothing
            found.append(Command(tuple(argv), _KEYWORDS.sub("", text)))
    return tuple(found)
