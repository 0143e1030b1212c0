"""A Dockerfile as stages and instructions with exact line spans.

The lines are read as BuildKit reads them (:mod:`layerbot.analysis.dockerfile_syntax`:
directives, continuations, comments, heredocs, and what BuildKit refuses); here they become
stages, stage names, ``ARG`` before the first ``FROM`` and ``COPY --from`` links.
"""

from __future__ import annotations

import posixpath
import re

from layerbot.analysis.dockerfile_syntax import (
    INSTRUCTIONS,
    DockerfileError,
    Heredoc,
    RawInstruction,
    check,
    json_array,
    read,
    split_flags,
    split_heredocs,
)
from layerbot.analysis.fixes import check_line_breaks
from layerbot.analysis.image_ref import ImageRef, parse_image
from layerbot.analysis.memo import cached_property
from layerbot.analysis.model import InputError
from layerbot.analysis.record import Record
from layerbot.analysis.shell import (
    SHELLS,
    Command,
    commands,
    exec_commands,
    split_words,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["INSTRUCTIONS", "Dockerfile", "DockerfileError", "Heredoc", "Instruction", "parse"]


# Other spellings BuildKit accepts for a ``--mount`` option (``commands_runmount.go``).
_MOUNT_KEYS = {"dst": "target", "destination": "target", "src": "source"}


def mount_options(mount: str) -> dict[str, str]:
    """A ``--mount`` value as BuildKit reads it (``type=cache,target=/root/.npm``): keys
    lower-cased, ``dst``/``destination`` read as ``target``, ``src`` as ``source``; a bare key
    (``ro``) has the value ``""``. The one reader of ``--mount``, for RUNs and CI scripts.
    https://github.com/moby/buildkit/blob/master/frontend/dockerfile/instructions/commands_runmount.go
    """
    options: dict[str, str] = {}
    for part in mount.split(","):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        options[_MOUNT_KEYS.get(key, key)] = value.strip().strip("\"'")
    return options


# ``$NAME``, ``${NAME}``, ``${NAME:-word}`` (and ``-``, ``:+``, ``+``), as BuildKit expands them.
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def _expand(text: str, values: dict[str, str]) -> str:
    """``text`` with ``values`` substituted for its variables; an unknown one stays as written,
    unless a ``${NAME:-word}`` form says what it gives then."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, word = match.group(1) or match.group(4), match.group(2), match.group(3)
        value = values.get(name)
        if operator in {":-", "-"}:
            return word if value is None or (operator == ":-" and not value) else value
        if operator in {":+", "+"}:
            return "" if value is None or (operator == ":+" and not value) else word
        return match.group(0) if value is None else value

    return _VARIABLE.sub(substitute, text) if "$" in text else text


class Instruction(Record):
    """One instruction. ``line``/``end_line`` are 1-based and cover continuations and heredocs."""

    __slots__ = (
        "__dict__",
        "end_line",
        "heredocs",
        "keyword",
        "line",
        "original",
        "stage",
        "value",
    )

    def __init__(
        self,
        keyword: str,
        value: str,
        line: int,
        end_line: int,
        original: str,
        stage: int,
        heredocs: tuple[Heredoc, ...] = (),
    ) -> None:
        self.keyword: Final = keyword
        self.value: Final = value
        self.line: Final = line
        self.end_line: Final = end_line
        self.original: Final = original
        self.stage: Final = stage
        self.heredocs: Final = heredocs

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
        words, rest = split_flags(self.value)
        pairs = tuple((name, value) for name, _, value in (w[2:].partition("=") for w in words))
        return pairs, rest

    @property
    def arguments(self) -> str:
        """The value without its leading flags."""
        return self._split_value[1]

    @property
    def is_exec_form(self) -> bool:
        return self.arguments.lstrip().startswith("[")

    def exec_args(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, or ``None`` for shell form."""
        try:
            return json_array(self.arguments)
        except ValueError:  # refused by the parser; only an Instruction built by hand has it
            return None

    @cached_property
    def mounts(self) -> tuple[dict[str, str], ...]:
        """The options of each ``--mount`` flag (see :func:`mount_options`)."""
        return tuple(mount_options(mount) for mount in self.flag_values("mount"))

    @cached_property
    def commands(self) -> tuple[Command, ...]:
        """The simple commands a RUN, CMD or ENTRYPOINT runs, read once for every rule: the
        shell form's script (heredoc bodies included), or the exec form as one command, whose
        ``["sh", "-c", script]`` runs ``script``."""
        argv = self.exec_args()
        return tuple(commands(self.script) if argv is None else exec_commands(argv))

    @cached_property
    def assignments(self) -> dict[str, str]:
        """The variables an ``ENV`` (or an ``ARG`` with a default) sets for what follows it."""
        if self.keyword not in {"ENV", "ARG"}:
            return {}
        words = split_words(self.arguments)
        if self.keyword == "ENV" and len(words) >= 2 and "=" not in words[0]:
            return {words[0]: " ".join(words[1:])}  # the legacy ``ENV NAME value`` form
        pairs = (word.partition("=") for word in words)
        return {name: value for name, equals, value in pairs if equals}

    @property
    def script(self) -> str:
        """What a RUN executes as shell: its text, and the heredoc bodies a shell runs
        (``RUN <<EOF``, which BuildKit runs as the script, or ``RUN bash <<EOF``), not those fed
        to another program (``RUN python3 <<EOF``, ``RUN cat <<EOF > /etc/app.conf``)."""
        if not self.heredocs:
            return self.arguments
        command_line = " ".join(split_heredocs(self.arguments)[0])
        first = commands(command_line)[:1]
        if first and posixpath.basename(first[0].program) not in SHELLS:
            return self.arguments
        return command_line + "".join("\n" + doc.body for doc in self.heredocs)

    def copy_sources(self) -> list[str]:
        """Source paths of a COPY/ADD (everything but the destination)."""
        args = self.exec_args()
        if args is None:
            args = split_words(self.arguments)
        args = [arg for arg in args if not arg.startswith("<<")]
        return args[:-1] if len(args) > 1 else []

    def workdir_path(self) -> str:
        """A WORKDIR's folder with its quotes removed, as BuildKit's word processing removes
        them (``WORKDIR "/srv/app"`` is ``/srv/app``; Dockerfile reference, "Environment
        replacement")."""
        return " ".join(split_words(self.arguments))

    def copy_destination(self) -> str | None:
        args = self.exec_args()
        if args is None:
            args = split_words(self.arguments)
        return args[-1] if len(args) > 1 else None


class Stage:
    # A ``__dict__`` for the answers ``memo.per_parse`` keeps on the stage.
    __slots__ = ("__dict__", "base", "from_instruction", "index", "instructions", "name")

    def __init__(
        self,
        index: int,
        base: str,
        name: str | None,
        from_instruction: Instruction,
        instructions: list[Instruction],
    ) -> None:
        self.index = index
        self.base = base
        self.name = name
        self.from_instruction = from_instruction
        self.instructions = instructions

    @property
    def image(self) -> ImageRef:
        return parse_image(self.base)

    @property
    def body(self) -> list[Instruction]:
        """The stage's instructions after its FROM."""
        return self.instructions[1:]

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


class Dockerfile:
    __slots__ = (
        "__dict__",
        "comments",
        "directives",
        "global_args",
        "lines",
        "path",
        "stages",
        "text",
    )

    def __init__(
        self,
        path: str,
        text: str,
        lines: list[str],
        directives: dict[str, str],
        global_args: list[Instruction],
        stages: list[Stage],
        comments: dict[int, str],
    ) -> None:
        self.path = path
        self.text = text
        self.lines = lines
        self.directives = directives
        self.global_args = global_args
        self.stages = stages
        self.comments = comments

    @property
    def instructions(self) -> list[Instruction]:
        return [*self.global_args, *(i for s in self.stages for i in s.instructions)]

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    @cached_property
    def _stages_by_name(self) -> dict[str, Stage]:
        """Named stages by lowered name, the first of a name winning: every rule asks for the
        stage behind each ``FROM``, ``COPY --from`` and mount, some for each instruction."""
        named: dict[str, Stage] = {}
        for stage in self.stages:
            if stage.name:
                named.setdefault(stage.name.lower(), stage)
        return named

    def stage_named(self, name: str) -> Stage | None:
        found = self._stages_by_name.get(name.lower())
        if found is not None:
            return found
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
        # Asked for each stage by most rules, some per instruction: resolved once per base.
        found = self._resolved_bases.get(stage.base)
        if found is None:
            found = self._resolved_bases[stage.base] = self._resolve(stage.base)
        return found

    @cached_property
    def _resolved_bases(self) -> dict[str, ImageRef]:
        return {}

    def _resolve(self, base: str) -> ImageRef:
        return parse_image(_expand(base, self._global_defaults))

    @cached_property
    def _global_defaults(self) -> dict[str, str]:
        """What the ARGs before the first FROM default to."""
        defaults: dict[str, str] = {}
        for arg in self.global_args:
            for word in split_words(arg.arguments):
                name, equals, default = word.partition("=")
                if equals:
                    defaults[name] = _expand(default, defaults)
                else:
                    defaults.pop(name, None)
        return defaults

    def expanded(self, stage: Stage, text: str, line: int) -> str:
        """``text`` with the variables the stage's ENV and ARG set before ``line`` replaced, as
        BuildKit replaces them in WORKDIR, COPY and ADD (Dockerfile reference, "Environment
        replacement"); a RUN's shell sees the same values, ENV being in its environment. An
        ARG declared without a value in the stage takes the default of the ARG of that name
        before the first FROM, and the ENV of the stage it is built FROM carry over (they are
        in that image). What the build passes (``--build-arg``) cannot be known: a variable
        with no value stays as written."""
        if "$" not in text:
            return text
        values = self._inherited_env(stage)
        for instruction in stage.body:
            if instruction.line >= line:
                break
            if instruction.keyword == "ARG":
                for word in split_words(instruction.arguments):
                    name, equals, _ = word.partition("=")
                    if not equals and name in self._global_defaults:
                        values[name] = self._global_defaults[name]
            for name, value in instruction.assignments.items():
                values[name] = _expand(value, values)
        return _expand(text, values)

    def _inherited_env(self, stage: Stage) -> dict[str, str]:
        """The ENV values the stage's base stage (and its own base...) set."""
        parent = self.base_stage(stage)
        if parent is None:
            return {}
        values = self._inherited_env(parent)
        for instruction in parent.body:
            if instruction.keyword == "ENV":
                for name, value in instruction.assignments.items():
                    values[name] = _expand(value, values)
        return values

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
                for mount in instruction.mounts:
                    found = self.stage_named(mount["from"]) if mount.get("from") else None
                    if found is not None and found.index < stage.index:
                        pending.append(found.index)
        return frozenset(needed)

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text; raises :class:`DockerfileError` on what BuildKit would reject."""
    if "\x00" in text:
        raise DockerfileError("the file contains NUL bytes; it is not a text Dockerfile")
    try:
        check_line_breaks(text)
    except InputError as error:
        raise DockerfileError(str(error), error.line) from None
    read_lines = read(text)
    lines = text.splitlines()
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for raw in read_lines.instructions:
        check(raw)
        instruction = _instruction(raw, lines, len(stages))
        if raw.keyword == "FROM":
            stages.append(_new_stage(instruction, len(stages)))
        elif not stages:
            if raw.keyword != "ARG":
                raise DockerfileError(
                    f"{raw.keyword} on line {instruction.line} comes before the first FROM",
                    instruction.line,
                )
            global_args.append(instruction)
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError("no FROM instruction: this is not a Dockerfile")
    return Dockerfile(
        path, text, lines, read_lines.directives, global_args, stages, read_lines.comments
    )


def _instruction(raw: RawInstruction, lines: list[str], stages: int) -> Instruction:
    return Instruction(
        keyword=raw.keyword,
        value=" ".join(raw.rest.split()),
        line=raw.start + 1,
        end_line=raw.end + 1,
        original="\n".join(lines[raw.start : raw.end + 1]),
        stage=stages - (0 if raw.keyword == "FROM" else 1),
        heredocs=raw.heredocs,
    )


def _new_stage(instruction: Instruction, index: int) -> Stage:
    tokens = instruction.arguments.split()
    if not tokens:
        raise DockerfileError(f"FROM on line {instruction.line} names no image", instruction.line)
    name = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else None
    return Stage(index, tokens[0], name, instruction, [instruction])
