"""What every language planner shares: the plan it returns, what it is handed, and the
checks on start commands and build outputs all of them make."""

from __future__ import annotations

import posixpath
import shlex

from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.record import Record
from layerbot.analysis.shell import Command
from layerbot.analysis.shipped import Entry, ShippedImage, Step, resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# Folders on the default PATH of both the build images and the runtime images.
_PATH_DIRS = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}


class Refusal(Exception):
    """Why no safe rewrite exists; the message completes "No automatic fix: ..."."""


class Plan(Record):
    """What the runtime stage needs from one ecosystem's planner.

    ``copies`` are (path in the builder, path in the runtime image). ``command`` replaces the
    start command (exec form) when the original ran the toolchain or had none.
    ``packages`` are installed in the runtime image; ``builder_lines`` go right after the
    builder's FROM, ``builder_tail`` at its end (a build step when the original only ran the
    toolchain at start), and ``builder_image`` replaces its image when the build must be pinned.
    """

    __slots__ = (
        "artifact",
        "builder_image",
        "builder_lines",
        "builder_tail",
        "command",
        "copies",
        "packages",
        "runtime_image",
        "setup",
        "workdir",
    )

    def __init__(
        self,
        runtime_image: str,
        copies: tuple[tuple[str, str], ...],
        artifact: str,
        command: tuple[str, ...] | None = None,
        packages: tuple[str, ...] = (),
        setup: tuple[str, ...] = (),
        builder_lines: tuple[str, ...] = (),
        builder_tail: tuple[str, ...] = (),
        builder_image: str | None = None,
        workdir: str | None = None,
    ) -> None:
        self.runtime_image: Final = runtime_image
        self.copies: Final = copies
        self.artifact: Final = artifact
        self.command: Final = command
        self.packages: Final = packages
        self.setup: Final = setup
        self.builder_lines: Final = builder_lines
        self.builder_tail: Final = builder_tail
        self.builder_image: Final = builder_image
        self.workdir: Final = workdir


class Rewrite:
    __slots__ = ("builder", "plan", "text")

    def __init__(self, text: str, plan: Plan, builder: str) -> None:
        self.text = text
        self.plan = plan
        self.builder = builder


class Inputs:
    __slots__ = ("ctx", "shipped", "steps", "workdir")

    def __init__(
        self,
        ctx: DockerfileContext,
        shipped: ShippedImage,
        steps: list[Step],
        workdir: str,
    ) -> None:
        self.ctx = ctx
        self.shipped = shipped
        self.steps = steps
        self.workdir = workdir

    @property
    def entry(self) -> Entry | None:
        return self.shipped.entry()

    def entry_path(self, candidates: list[str]) -> str | None:
        """The start command's program as an absolute path: a path, or a bare name that one of
        ``candidates`` provides from a standard ``PATH`` folder."""
        entry = self.entry
        if entry is None:
            return None
        if "/" in entry.program:
            return resolve(entry.program, self.workdir)
        in_path = [
            c
            for c in candidates
            if posixpath.basename(c) == entry.program and posixpath.dirname(c) in _PATH_DIRS
        ]
        return in_path[0] if in_path else None


def runs_toolchain(entry: Entry | None, programs: set[str], subcommands: set[str]) -> bool:
    if entry is None:
        return False
    program = posixpath.basename(entry.program)
    return program in programs and any(arg in subcommands for arg in entry.argv[1:3])


def added_build(inputs: Inputs, *argv: str) -> Step:
    """A build step the rewrite appends to the builder; it runs in the final WORKDIR."""
    entry = inputs.entry
    assert entry is not None
    return Step(Command(argv, shlex.join(argv)), inputs.workdir, entry.instruction)


def run_options(argv: tuple[str, ...], flags: set[str], valued: set[str]) -> dict[str, str]:
    """The options of a toolchain ``run`` command (up to ``--``), refusing unknown ones:
    a rewrite that silently dropped a profile or a feature flag would change the app."""
    options: dict[str, str] = {}
    words = argv[: argv.index("--")] if "--" in argv else argv
    # The subcommand may follow options (`mvn -B spring-boot:run`): read the words around it.
    run = next((n for n, word in enumerate(words[1:], 1) if not word.startswith("-")), 1)
    words = (*words[:run], *words[run + 1 :])
    index = 1
    while index < len(words):
        word = words[index]
        name, _, value = word.partition("=")
        if name in valued:
            if not value and index + 1 < len(words):
                index += 1
                value = words[index]
            options[name] = value
        elif word not in flags:
            raise Refusal(f"`{' '.join(argv[:2])}` has options the rewrite does not carry over")
        index += 1
    return options


def program_arguments(argv: tuple[str, ...]) -> tuple[str, ...]:
    """What follows ``--`` in ``cargo run ... -- ARGS`` or ``dotnet run ... -- ARGS``."""
    return argv[argv.index("--") + 1 :] if "--" in argv else ()


def choose_binary(
    inputs: Inputs, outputs: list[str], build: str, programs: set[str], runs: set[str]
) -> tuple[str, tuple[str, ...] | None]:
    """The binary the container runs, and a new start command when the old one cannot stay."""
    if not outputs:
        raise Refusal(f"no {build} step produces a binary to copy")
    started = inputs.entry_path(outputs)
    if started in outputs:
        return started, None
    entry = inputs.entry
    if entry is not None and not runs_toolchain(entry, programs, runs):
        raise Refusal(f"the start command `{entry.program}` is not the binary the build writes")
    if len(set(outputs)) > 1:
        raise Refusal(f"several {build} steps write binaries and none is started by name")
    return outputs[-1], (outputs[-1],)
