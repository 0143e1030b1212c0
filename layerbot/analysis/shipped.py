"""What the final image is made of: its stage chain, working directory, commands and entry.

The multi-stage rule and its fix both need to follow the final stage back through
``FROM <stage>`` to the image it really starts from, know the working directory each build
command runs in (``WORKDIR`` and ``cd``), and read the command the container starts with.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from layerbot.analysis.dockerfile import Dockerfile, Instruction, Stage
from layerbot.analysis.image_ref import ImageRef
from layerbot.analysis.runs import shipped_stages
from layerbot.analysis.shell import Command, commands, split_words
from layerbot.analysis.toolchains import repository_key

# Working directories the official images set; everything else starts at "/".
_IMAGE_WORKDIRS = {"golang": "/go"}
_SHELL_OPERATORS = re.compile(r"&&|\|\||[;|&<>`]|\$\(")


@dataclass(frozen=True)
class Step:
    """A shell command of a shipped RUN and the directory it runs in (``None``: unknown)."""

    command: Command
    cwd: str | None
    instruction: Instruction


@dataclass(frozen=True)
class Entry:
    """The container's start command: the instruction holding the program, and its argv."""

    instruction: Instruction
    argv: tuple[str, ...]

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""


def resolve(path: str, cwd: str) -> str:
    return posixpath.normpath(posixpath.join(cwd, path))


@dataclass
class ShippedImage:
    """The final stage and the stages it is built FROM, oldest first."""

    doc: Dockerfile
    chain: list[Stage]
    image: ImageRef

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
        cwd: str | None = _IMAGE_WORKDIRS.get(repository_key(self.image), "/")
        steps: list[Step] = []
        before: dict[int, str | None] = {}
        for instruction in self.instructions:
            before[instruction.line] = cwd
            if instruction.keyword == "WORKDIR":
                target = instruction.arguments.strip().strip("\"'")
                cwd = None if cwd is None or "$" in target else resolve(target, cwd)
            elif instruction.keyword == "RUN" and not instruction.is_exec_form:
                here = cwd
                for command in commands(instruction.script):
                    if command.program == "cd":
                        target = command.argv[1] if len(command.argv) > 1 else "~"
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
        return Entry(holder, tuple(argv)) if argv else None
