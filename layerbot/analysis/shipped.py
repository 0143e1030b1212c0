"""What the final image is made of: its stage chain, working directory, commands and entry.

The multi-stage rule and its fix both need to follow the final stage back through
``FROM <stage>`` to the image it really starts from, know the working directory each build
command runs in (``WORKDIR`` and ``cd``), and read the command the container starts with.
"""

from __future__ import annotations

import posixpath
import re

from layerbot.analysis.dockerfile import Dockerfile, Instruction, Stage
from layerbot.analysis.image_ref import ImageRef
from layerbot.analysis.record import Record
from layerbot.analysis.runs import shipped_stages
from layerbot.analysis.shell import Command, commands, exec_commands, split_words
from layerbot.analysis.toolchains import image_workdir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

_SHELL_OPERATORS = re.compile(r"&&|\|\||[;|&<>`]|\$\(")


class Step(Record):
    """A shell command of a shipped RUN and the directory it runs in (``None``: unknown)."""

    __slots__ = ("command", "cwd", "instruction")

    def __init__(self, command: Command, cwd: str | None, instruction: Instruction) -> None:
        self.command: Final = command
        self.cwd: Final = cwd
        self.instruction: Final = instruction


class Entry(Record):
    """The container's start command: the instruction holding the program, and its argv."""

    __slots__ = ("argv", "instruction")

    def __init__(self, instruction: Instruction, argv: tuple[str, ...]) -> None:
        self.instruction: Final = instruction
        self.argv: Final = argv

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""


def resolve(path: str, cwd: str) -> str:
    return posixpath.normpath(posixpath.join(cwd, path))


class ShippedImage:
    """The final stage and the stages it is built FROM, oldest first."""

    __slots__ = ("chain", "doc", "image")

    def __init__(self, doc: Dockerfile, chain: list[Stage], image: ImageRef) -> None:
        self.doc = doc
        self.chain = chain
        self.image = image

    @classmethod
    def of(cls, doc: Dockerfile) -> ShippedImage:
        chain = shipped_stages(doc)
        return cls(doc, chain, doc.resolved_base(chain[0]))

    @property
    def final(self) -> Stage:
        return self.chain[-1]

    @property
    def instructions(self) -> list[Instruction]:
        return [i for stage in self.chain for i in stage.body]

    def of_keyword(self, *keywords: str) -> list[Instruction]:
        return [i for stage in self.chain for i in stage.body if i.keyword in keywords]

    def last(self, keyword: str) -> Instruction | None:
        found = self.of_keyword(keyword)
        return found[-1] if found else None

    def _walk(self) -> tuple[list[Step], dict[int, str | None], str | None]:
        """The RUN commands with their directories, the WORKDIR before each instruction (by
        line) and the final WORKDIR."""
        cwd: str | None = image_workdir(self.image)
        steps: list[Step] = []
        before: dict[int, str | None] = {}
        for stage, instruction in ((s, i) for s in self.chain for i in s.body):
            before[instruction.line] = cwd
            if instruction.keyword == "WORKDIR":
                target = self.doc.expanded(stage, instruction.workdir_path(), instruction.line)
                cwd = None if cwd is None or "$" in target else resolve(target, cwd)
            elif instruction.keyword == "RUN" and instruction.is_exec_form:
                # `RUN ["gradle", "build"]`: no shell, so no `cd` either.
                argv = instruction.exec_args() or []
                steps.extend(Step(command, cwd, instruction) for command in exec_commands(argv))
            elif instruction.keyword == "RUN":
                here = cwd
                for command in commands(instruction.script):
                    if command.program == "cd":
                        target = command.argv[1] if len(command.argv) > 1 else "~"
                        target = self.doc.expanded(stage, target, instruction.line)
                        ok = here is not None and not target.startswith(("$", "~", "-"))
                        here = resolve(target, here) if ok and here is not None else None
                    else:
                        steps.append(Step(command, here, instruction))
        return steps, before, cwd

    @property
    def steps(self) -> list[Step]:
        return self._walk()[0]

    def workdir_at(self, instruction: Instruction) -> str | None:
        """The working directory ``instruction`` runs in."""
        return self._walk()[1].get(instruction.line)

    @property
    def workdir(self) -> str | None:
        """The working directory the container starts in, ``None`` when it uses variables."""
        return self._walk()[2]

    def entry(self) -> Entry | None:
        """ENTRYPOINT's program if there is one, else CMD's; ``None`` for shell pipelines."""
        holder = self.last("ENTRYPOINT") or self.last("CMD")
        if holder is None:
            return None
        argv = holder.exec_args()
        script = holder.arguments if argv is None else None
        if argv is not None and argv[:2] in (["/bin/sh", "-c"], ["sh", "-c"]) and len(argv) == 3:
            script = argv[2]
        if script is not None:
            if _SHELL_OPERATORS.search(script):
                return None
            argv = split_words(script)
        return Entry(holder, (*argv, *self.default_arguments(holder))) if argv else None

    def default_arguments(self, entrypoint: Instruction) -> list[str]:
        """The exec-form CMD an exec-form ENTRYPOINT receives as its arguments
        (``ENTRYPOINT ["mvn"]`` + ``CMD ["spring-boot:run"]``)."""
        cmd = self.last("CMD")
        if entrypoint.keyword != "ENTRYPOINT" or not entrypoint.is_exec_form or cmd is None:
            return []
        if self._stage_of(cmd) < self._stage_of(entrypoint):
            return []  # an ENTRYPOINT set in a later stage resets the inherited CMD, as in Docker
        return cmd.exec_args() or []

    def _stage_of(self, instruction: Instruction) -> int:
        return next(
            n for n, stage in enumerate(self.chain) if any(i is instruction for i in stage.body)
        )
