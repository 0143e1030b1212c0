"""Just enough shell to see which commands a ``RUN`` or a CI script runs.

We split on the control operators (``&&``, ``||``, ``;``, ``|``, ``&``, newlines), drop
comments (an unquoted ``#`` that starts a word, to the end of its line) and tokenise each
simple command like :mod:`shlex`. Subshells, loops and functions are read as flat text: a rule
that needs more than "which programs with which arguments" should not be written against shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

# Quoted strings are matched first so that operators inside them do not split a command. A lone
# ``&`` runs the command before it in the background (not ``2>&1``, ``&>file`` or ``|&``).
_OPERATORS = re.compile(
    r"""'[^']*'|"(?:\\.|[^"\\])*"|\\.|(&&|\|\||;|\|&?|(?<![<>])&(?!>)|\n)"""
    r"""|(?<![^\s;&|()])(#[^\n]*)""",
    re.DOTALL,
)
# A word is a run of unquoted characters, quoted strings and escapes (linear, unlike shlex,
# whose per-character concatenation is quadratic on a hostile one-megabyte word).
_WORD = re.compile(r"""(?:[^\s'"\\]+|'[^']*'?|"(?:\\.|[^"\\])*"?|\\.?)+""", re.DOTALL)
_PART = re.compile(r"""'([^']*)'?|"((?:\\.|[^"\\])*)"?|\\(.?)|([^'"\\]+)""", re.DOTALL)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_ESCAPED = re.compile(r"\\(.)")
_CONTINUATION = re.compile(r"\\\r?\n")
# xargs options whose value is the next word (``-n 1``, ``-I {}``).
_XARGS_VALUE_OPTIONS = {"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter"}
_ABOUT_ITSELF = ("--version", "-v", "-V", "--help", "-h")
_WRAPPERS = {"sudo", "exec", "time", "nice", "nohup", "env", "command", "then", "do", "else"}
_WRAPPERS |= {"if", "elif", "while", "until", "!"}  # ``if ! apt-get install ...; then``
_USER_SWITCHES = {"gosu", "su-exec"}


@dataclass(frozen=True)
class Command:
    """One simple command: ``argv`` without leading ``VAR=value`` assignments or ``sudo``."""

    argv: tuple[str, ...]
    text: str

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

    def operands(self, valued: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """The words after the subcommand that are neither flags nor the values of the
        ``valued`` flags (the packages of ``apk add --virtual .deps gcc``: ``gcc``)."""
        found: list[str] = []
        skip = seen_subcommand = False
        for arg in self.argv[1:]:
            if skip:
                skip = False
            elif arg.startswith("-"):
                skip = arg in valued
            elif not seen_subcommand:
                seen_subcommand = True
            else:
                found.append(arg)
        return found

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
    words = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word.startswith("#"):
            break
        words.append(_unquote(word))
    return words


def _fold_continuations(script: str) -> str:
    return _CONTINUATION.sub(" ", script) if "\\" in script else script


def _pieces(script: str) -> list[str]:
    """``script`` cut at control operators that stand outside quotes."""
    pieces, start = [], 0
    for match in _OPERATORS.finditer(script):
        if match.group(1) or match.group(2):
            pieces.append(script[start : match.start()])
            start = match.end()
    pieces.append(script[start:])
    return pieces


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


def commands(script: str) -> list[Command]:
    """The simple commands in ``script``, in order."""
    return list(_parsed(script))


@lru_cache(maxsize=4096)
def _parsed(script: str) -> tuple[Command, ...]:
    """Several rules read the same RUN: parse each script text once."""
    found: list[Command] = []
    for piece in _pieces(_fold_continuations(script)):
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
        if argv:
            found.append(Command(tuple(argv), text))
    return tuple(found)
