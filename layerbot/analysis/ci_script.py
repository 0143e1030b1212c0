"""A CI job's script as simple commands, with its variables resolved.

Each job's script lines are split into simple commands (:mod:`layerbot.analysis.shell`) after
folding line continuations, also the ``\\ `` that a YAML folded block leaves behind. ``$VAR`` and
``${VAR}`` are resolved from the job's variables (global and job ``variables:``, and plain
``NAME=value`` / ``export NAME=value`` lines of its scripts); what cannot be resolved stays as
written. The flags of a command are read into ``(name, value)`` pairs the way docker, buildah
and kaniko take them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from layerbot.analysis import shell
from layerbot.analysis.ci_jobs import Job, ScriptLine
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# Flags that never take a separate value (everything else starting with '-' does).
_BOOLEAN_FLAGS = frozenset(
    {
        "--push",
        "--load",
        "--pull",
        "--no-cache",
        "--rm",
        "--force-rm",
        "-q",
        "--quiet",
        "--squash",
        "--compress",
        "--disable-content-trust",
        "--layers",
        "--no-push",
        "--cache",
        "--cache-copy-layers",
        "--cache-run-layers",
        "--reproducible",
        "--single-snapshot",
        "--cleanup",
        "--use-new-run",
        "--skip-tls-verify",
        "--insecure",
        "--insecure-pull",
        "--skip-unused-stages",
        "--tls",
        "--tlsverify",
        "-D",
        "--debug",
        "-a",
        "--all-tags",
        "--parallel",
        "--no-rm",
    }
)
_SHORT = {
    "-t": "--tag",
    "-f": "--file",
    "-o": "--output",
    "-q": "--quiet",
    "-a": "--all-tags",
    "-d": "--destination",
    "-c": "--context",
}
_DOCKER_GLOBAL_VALUE_FLAGS = frozenset(
    {"-H", "--host", "--config", "--context", "-c", "--log-level", "-l", "--builder"}
    | {"--tlscacert", "--tlscert", "--tlskey", "--storage-driver", "--root", "--runroot"}
    | {"--registries-conf", "--cgroup-manager", "--storage-opt", "--file", "-f", "-p"}
    | {"--project-name", "--project-directory", "--env-file", "--profile"}
    | {"--addr", "--tlsservername", "--tlsdir", "--timeout"}  # buildctl's
)
# Programs whose first words name a sub-command (``buildctl-daemonless.sh`` starts a
# buildkitd for the one command and passes its arguments to ``buildctl``).
_SUBCOMMAND_PROGRAMS = frozenset(
    {"docker", "docker-compose", "buildah", "buildctl", "buildctl-daemonless.sh"}
)
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
# ``NAME=value`` as a command of its own (not the ``NAME=value cmd`` prefix of one command).
_ASSIGNMENT = re.compile(
    r"(?:^|[;&|\n]|\bexport)[ \t]*([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"\n]*\"|'[^'\n]*'|[^\s;&|]*)"
    r"[ \t]*(?=$|[;&|\n])",
    re.MULTILINE,
)
_CONTINUATION = re.compile(r"\\[ \t]*\r?\n|\\ (?=[ \t]*-)")
MAX_EXPANSION_ROUNDS = 8
MAX_EXPANDED_LENGTH = 4096


class Step(Record):
    """One simple command of a job, in run order, with its words resolved."""

    __slots__ = (
        "command",
        "cwd",
        "index",
        "item",
        "last_in_item",
        "position",
        "resolved",
        "script",
    )

    def __init__(
        self,
        index: int,
        script: ScriptLine,
        command: shell.Command,
        resolved: tuple[str, ...],
        cwd: str | None,
        item: int,
        position: int,
        last_in_item: bool,
    ) -> None:
        self.index: Final = index
        self.script: Final = script
        self.command: Final = command
        self.resolved: Final = resolved
        self.cwd: Final = cwd
        self.item: Final = item  # which script entry of the job
        self.position: Final = position  # which command of that entry
        self.last_in_item: Final = last_in_item

    @property
    def first_in_item(self) -> bool:
        return self.position == 0

    @property
    def written(self) -> tuple[str, ...]:
        return self.command.argv


class Flags(Record):
    """``(name, value)`` pairs with short names made long, and the positional arguments."""

    __slots__ = ("pairs", "positionals")

    def __init__(self, pairs: tuple[tuple[str, str], ...], positionals: tuple[str, ...]) -> None:
        self.pairs: Final = pairs
        self.positionals: Final = positionals

    def values(self, *names: str) -> list[str]:
        return [value for name, value in self.pairs if name in names]

    def on(self, name: str) -> bool:
        """A boolean flag given as ``--name``, ``--name=true`` or ``--name=1``."""
        return any(value.lower() in ("", "true", "1") for value in self.values(name))


def parse_flags(words: tuple[str, ...]) -> Flags:
    pairs: list[tuple[str, str]] = []
    positionals: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            continue
        name, equals, value = word.partition("=")
        if len(name) > 2 and not name.startswith("--"):  # -tfoo
            name, value, equals = name[:2], name[2:], "="
        name = _SHORT.get(name, name)
        if not equals and name not in _BOOLEAN_FLAGS and word not in _BOOLEAN_FLAGS:
            value = words[index] if index < len(words) else ""
            index += 1
        pairs.append((name, value))
    return Flags(tuple(pairs), tuple(positionals))


def after_word(words: tuple[str, ...], word: str) -> int:
    return words.index(word) + 1 if word in words else len(words)


def expand(text: str, variables: dict[str, str]) -> str:
    """``$VAR``/``${VAR}`` replaced by known values; unknown ones kept. Nesting is bounded in
    rounds and in length, so a variable that refers to itself cannot blow up."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    for _ in range(MAX_EXPANSION_ROUNDS):
        expanded = _VARIABLE.sub(substitute, text)
        if expanded == text or len(expanded) > MAX_EXPANDED_LENGTH:
            break  # done, or a variable that names itself: keep the last sane text
        text = expanded
    return text


def docker_words(argv: tuple[str, ...]) -> list[str]:
    """The sub-command words of a ``docker``/``docker-compose``/``buildah``/``buildctl`` call,
    flags skipped."""
    if not argv or argv[0].rsplit("/", 1)[-1] not in _SUBCOMMAND_PROGRAMS:
        return []
    words: list[str] = []
    index = 1
    while index < len(argv) and len(words) < 3:
        word = argv[index]
        index += 1
        if word.startswith("-"):
            if "=" not in word and word in _DOCKER_GLOBAL_VALUE_FLAGS:
                index += 1
            continue
        words.append(word)
    return words


def _script_text(line: ScriptLine) -> str:
    return _CONTINUATION.sub(" ", line.text)


def job_variables(job: Job) -> dict[str, str]:
    variables = dict(job.variables)
    for line in job.scripts:
        for match in _ASSIGNMENT.finditer(_script_text(line)):
            variables[match.group(1)] = match.group(2).strip("\"'")
    return {name: expand(value, variables) for name, value in variables.items()}


def script_steps(job: Job, variables: dict[str, str]) -> Iterator[Step]:
    index = 0
    cwd: str | None = "."
    steps_section = ""
    for item, line in enumerate(job.scripts):
        if line.section == "after_script" and steps_section != line.section:
            cwd = "."  # after_script runs in a new shell, in the project directory
        steps_section = line.section
        commands = shell.commands(_script_text(line))
        for position, command in enumerate(commands):
            resolved = tuple(expand(word, variables) for word in command.argv)
            last = position == len(commands) - 1
            yield Step(index, line, command, resolved, cwd, item, position, last)
            index += 1
            if resolved[:1] == ("cd",):
                cwd = _change_directory(cwd, resolved[1] if len(resolved) > 1 else "")


def _change_directory(cwd: str | None, target: str) -> str | None:
    target = project_path(target)
    if cwd is None or not target or target.startswith("/") or "$" in target:
        return None
    return posixpath.normpath(posixpath.join(cwd, target))


def project_path(path: str) -> str:
    """``$CI_PROJECT_DIR/x`` as the repository path ``./x``."""
    return re.sub(r"^\$\{?CI_PROJECT_DIR\}?", ".", path.removeprefix("dir://"))


def job_steps(job: Job) -> tuple[Step, ...]:
    """Every simple command the job runs, in order, with its variables resolved."""
    return tuple(script_steps(job, job_variables(job)))
