"""A RUN deletes files an earlier layer created, so the image does not get smaller.

## What it does
Flags a `RUN` that deletes package-manager leftovers (the apt lists, `/var/cache/apt`, the apk
cache, pip/uv/npm/yarn caches, the yum/dnf/zypper caches), files under `/tmp`, or build
dependencies (`apk del` of an `apk add --virtual` group, `apt-get purge` of installed packages)
that an *earlier* `RUN` created, in the same stage or in a stage it is built `FROM`.

What the earlier `RUN` already deleted itself (`... && rm -rf /var/lib/apt/lists/*`), kept
out with a flag (`apk add --no-cache`, `pip --no-cache-dir`) or held in a cache mount is in
no layer: deleting it again later is a harmless no-op and is not reported. So is a later
`apt-get clean` (or `rm -rf /var/cache/apt/*`) on its own: the Debian and Ubuntu images
delete the downloaded `.deb` archives after every install themselves, unless the Dockerfile
turned that off (removed `/etc/apt/apt.conf.d/docker-clean` or set
`APT::Keep-Downloaded-Packages`). Deletions are read
in every spelling: `rm` with any flags and quoting, `find <dir> -delete`, `find -exec rm`, and
the package managers' own clean commands (`apt-get clean`/`distclean`, `yum clean all`,
`npm cache clean`, `conda clean`, `composer clear-cache` ...).

## Why it matters
An image is a stack of read-only layers, and each layer only records what changed. Deleting a
file in a later layer adds a "whiteout" entry that hides it, but the bytes stay in the layer
that created them, are pushed, pulled and stored with the image. Cleanup only saves space when
it happens in the same `RUN` (the same layer) that created the files. The design article this
tool follows shows exactly this: `RUN rm -rf /var/cache/apk/*` on its own saves nothing.

## Example
```dockerfile
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl
RUN rm -rf /var/lib/apt/lists/*
```

## Use instead
```dockerfile
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && rm -rf /var/lib/apt/lists/*
```

## Fix safety
The fix moves the deleting commands to the end of the `RUN` that created the files (`&& rm
-rf ...`) and drops them from the later `RUN` (the whole `RUN` when nothing else is left).
When the two RUNs are adjacent this is one contiguous change. It is only offered when no
instruction in between uses the files (an `apt-get install` needs the lists, an `apk add`
needs the index, a build needs its build dependencies): then the final file system is the
same and only the image gets smaller, so the fix is **safe**. Moving a `/tmp` cleanup is
marked **review**, because we cannot see every program that writes to `/tmp`. When the
deletion cannot move but the two RUNs are adjacent, the fix merges them into one `RUN`
(**safe**: adjacent RUNs run the same commands in the same order). Otherwise there is no fix.

Only stages whose layers ship (the final stage and the stages it is built `FROM`) are
checked. An index update in a `RUN` of its own is `update-with-install`'s to report, even
when a later `RUN` deletes the lists. This rule owns "deleted in a later layer":
`package-cache` does not also report a cache that a later `RUN` deletes, and `merge-runs`
leaves such RUNs to this rule.

## References
- Docker docs, "Storage drivers: images and layers": each layer is only a set of differences
  from the layer before it; deleting a file in a later layer hides it but does not remove it
  from the earlier layer.
- Docker docs, "Building best practices: RUN / apt-get": remove `/var/lib/apt/lists` in the
  same `RUN` as `apt-get update`, since the cache "isn't stored in a layer" only then.
- Docker docs, "Dockerfile reference: RUN": every `RUN` executes in a new layer on top of the
  current image and commits the result.
- Docker docs, "Building best practices: apt-get": "Official Debian and Ubuntu images
  automatically run `apt-get clean`, so explicit invocation is not required"; "Dockerfile
  reference: RUN --mount=type=cache" keeps apt's downloads only after removing
  `/etc/apt/apt.conf.d/docker-clean` and setting `Binary::apt::APT::Keep-Downloaded-Packages`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from layerbot.analysis import runs, shell
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Dockerfile, Instruction, Stage
from layerbot.analysis.memo import per_parse
from layerbot.analysis.model import Finding, Fix, FixAvailability, Safety, Severity
from layerbot.analysis.package_caches import (
    Cache,
    caches_removed_by,
    covered_by_mount,
    removed_paths,
)
from layerbot.analysis.record import Record
from layerbot.analysis.rules.update_with_install import lone_updates
from layerbot.analysis.shell import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

NAME = "cleanup-in-same-layer"
SEVERITY = Severity.MINOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Delete the files in the RUN that creates them"

# Programs whose RUN is a fallback home for a cache cleanup when no RUN visibly created it
# (``apk update && apk add --no-cache ...`` followed by ``RUN rm -rf /var/cache/apk/*``).
_MANAGERS = {
    "apt-lists": {"apt-get", "apt"},
    "apt-archives": {"apt-get", "apt"},
    "apk": {"apk"},
    "pip": {"pip", "pip3"},
    "uv": {"uv"},
    "npm": {"npm"},
    "yarn": {"yarn"},
    "yum": {"yum", "dnf", "microdnf", "tdnf"},
    "zypper": {"zypper"},
    "conda": {"conda", "mamba", "micromamba"},
    "composer": {"composer"},
}


_WRITERS = {"RUN", "COPY", "ADD"}
# Flags with which a package manager keeps no cache at all.
_KEEPS_NOTHING = ("--no-cache", "--no-cache-dir", "--no-network")


class LateRemoval(Record):
    """A deleting command in ``run`` whose files ``creator`` (an earlier RUN) created."""

    __slots__ = ("command", "creator", "inferred", "movable", "position", "risky", "run", "what")

    def __init__(
        self,
        run: Instruction,
        position: int,
        command: Command,
        creator: Instruction,
        what: str,
        movable: bool,
        risky: bool,
        inferred: bool = False,
    ) -> None:
        self.run: Final = run
        self.position: Final = position
        self.command: Final = command
        self.creator: Final = creator
        self.what: Final = what
        self.movable: Final = movable
        self.risky: Final = risky
        self.inferred: Final = inferred


def _creates(cache: Cache, command: Command) -> bool:
    return cache.creates(command) and not cache.removed_by(command)


def _runs_one_of(programs: set[str], command: Command) -> bool:
    """A package manager run that may leave files we cannot name (not one told to keep none)."""
    return command.program in programs and not command.has_flag(*_KEEPS_NOTHING)


def _left_by(earlier: list[Instruction], cache: Cache) -> tuple[bool, Instruction | None]:
    """Whether an earlier RUN touched ``cache``, and the RUN whose layer holds it.

    The latest RUN that creates or deletes the cache decides: if it deleted the cache after
    creating it (or a cache mount held it), no layer holds it and a later deletion is no
    late clean-up, just a no-op.
    """
    for run in reversed(earlier):
        commands = runs.run_commands(run)
        created = [n for n, c in enumerate(commands) if _creates(cache, c)]
        removed = [n for n, c in enumerate(commands) if cache.removed_by(c)]
        if not created and not removed:
            continue
        if (removed and (not created or removed[-1] > created[-1])) or covered_by_mount(run, cache):
            return True, None
        return True, run
    return False, None


def _build_dependencies(command: Command) -> tuple[str, set[str]] | None:
    """(manager, names) that ``apk del`` / ``apt-get purge|remove`` deletes."""
    if command.program == "apk" and command.subcommand == "del":
        return "apk", {arg for arg in command.argv[2:] if not arg.startswith("-")}
    if command.program in {"apt-get", "apt"} and command.subcommand in {"purge", "remove"}:
        names = {arg for arg in command.argv[2:] if not arg.startswith("-")}
        return "apt", {name for name in names if name not in {"purge", "remove"}}
    return None


def _installs(manager: str, names: set[str], command: Command) -> bool:
    if manager == "apk" and command.program == "apk" and command.subcommand == "add":
        group = command.option("--virtual", "-t")
        return group in names or bool(set(command.argv[2:]) & names)
    if manager == "apt" and command.program in {"apt-get", "apt"}:
        return command.subcommand == "install" and bool(set(command.argv) & names)
    return False


def _latest(earlier: list[Instruction], wanted: Callable[[Command], bool]) -> Instruction | None:
    for run in reversed(earlier):
        if any(wanted(command) for command in runs.run_commands(run)):
            return run
    return None


def layer_chain(doc: Dockerfile, stage: Stage) -> list[Instruction]:
    """The instructions whose layers ``stage`` is made of: its ``FROM <stage>`` parents' too."""
    chain = [stage]
    while (parent := doc.base_stage(chain[-1])) is not None:
        chain.append(parent)
    return [i for s in reversed(chain) for i in s.instructions]


@per_parse
def late_removals(doc: Dockerfile, stage: Stage) -> list[LateRemoval]:
    """Every deletion in ``stage`` of files an earlier RUN created (in it or a parent stage)."""
    found: list[LateRemoval] = []
    chain = layer_chain(doc, stage)
    all_runs = [i for i in chain if i.keyword == "RUN"]
    for index, run in enumerate(all_runs):
        if run.stage != stage.index:
            continue
        # Sliced only for a deleting command: slicing for every RUN was quadratic.
        earlier = partial(_first, all_runs, index)
        commands = runs.run_commands(run)
        for position, command in enumerate(commands):
            found.extend(_removals_of(chain, earlier, run, commands, position, command))
    return found


def _first(instructions: list[Instruction], count: int) -> list[Instruction]:
    return instructions[:count]


def _removals_of(
    chain: list[Instruction],
    earlier: Callable[[], list[Instruction]],
    run: Instruction,
    commands: list[Command],
    position: int,
    command: Command,
) -> Iterator[LateRemoval]:
    before = commands[:position]
    dependencies = _build_dependencies(command)
    if dependencies is not None:
        manager, names = dependencies
        if any(_installs(manager, names, c) for c in before):
            return
        creator = _latest(earlier(), lambda c: _installs(manager, names, c))
        if creator is not None:
            in_between = _between(chain, creator, run)
            nothing_between = not any(i.keyword in _WRITERS for i in in_between) and all(
                _build_dependencies(c) is not None for c in before
            )
            yield LateRemoval(
                run, position, command, creator, "build dependencies", nothing_between, False
            )
        return
    for cache in caches_removed_by(command):
        if any(_creates(cache, c) for c in before):
            continue
        if cache.key == "apt-archives" and not _keeps_downloaded_debs(chain, run):
            continue  # Debian and Ubuntu images delete the archives after every install
        touched, creator = _left_by(earlier(), cache)
        inferred = not touched
        if not touched and cache.key in _MANAGERS:
            creator = _latest(earlier(), partial(_runs_one_of, _MANAGERS[cache.key]))
        if creator is None:
            continue
        between = _between(chain, creator, run)
        users = [c for i in between if i.keyword == "RUN" for c in runs.run_commands(i)]
        users += before
        movable = not any(cache.needed_by(c) for c in users) and not any(
            i.keyword == "RUN" and (i.is_exec_form or i.heredocs) for i in between
        )
        if cache.key == "tmp":
            movable = movable and not any("/tmp" in i.value for i in between)
        yield LateRemoval(
            run, position, command, creator, cache.label, movable, cache.key == "tmp", inferred
        )
        return


def _keeps_downloaded_debs(chain: list[Instruction], run: Instruction) -> bool:
    """Whether apt keeps the ``.deb`` archives it downloads before ``run``: the Debian and
    Ubuntu images (and all built on them) ship ``/etc/apt/apt.conf.d/docker-clean``, which
    deletes them after every install, unless a RUN removed that file or turned on
    ``APT::Keep-Downloaded-Packages`` (Docker's cache-mount recipe does both)."""
    for instruction in chain:
        if instruction.line >= run.line:
            return False
        if instruction.keyword != "RUN":
            continue
        for command in runs.run_commands(instruction):
            if "Keep-Downloaded-Packages" in command.text:
                return True
            if command.program == "rm" and any(a.endswith("docker-clean") for a in command.argv):
                return True
    return False


def _between(
    chain: list[Instruction], first: Instruction, second: Instruction
) -> list[Instruction]:
    return [i for i in chain if first.line < i.line < second.line]


@per_parse
def _lone_update_runs(doc: Dockerfile) -> list[Instruction]:
    """The RUNs of the used stages that update an index apart from the install it serves:
    the same for every stage a rule asks about, so worked out once per file."""
    return [
        update.run
        for index in doc.used_stages()
        for update in lone_updates(doc.stages[index])
        if update.served is not None
    ]


@per_parse
def reported_removals(doc: Dockerfile, stage: Stage) -> list[LateRemoval]:
    """The late removals this rule reports: those of a lone index update are not ours (asked
    by the package-cache and merge rules too)."""
    lone = set(_lone_update_runs(doc))
    return [r for r in late_removals(doc, stage) if r.creator not in lone]


def is_cleanup_only(run: Instruction) -> bool:
    """Whether every command of the RUN deletes files or packages (a cleanup layer)."""
    commands = runs.run_commands(run)
    return bool(commands) and all(
        _build_dependencies(c) is not None or bool(caches_removed_by(c)) for c in commands
    )


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    for stage in runs.shipped_stages(ctx.doc):
        removals = reported_removals(ctx.doc, stage)
        for run in dict.fromkeys(removal.run for removal in removals):
            mine = [removal for removal in removals if removal.run is run]
            yield _finding(ctx, run, mine)


def _listed(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _finding(ctx: DockerfileContext, run: Instruction, removals: list[LateRemoval]) -> Finding:
    creators = sorted({r.creator.line for r in removals})
    where = ", ".join(f"line {line}" for line in creators)
    commands = list(dict.fromkeys(f"`{r.command.text}`" for r in removals))
    deletes = f"{_listed(commands)} {'deletes' if len(commands) == 1 else 'delete'}"
    what = _listed(list(dict.fromkeys(r.what for r in removals)))
    if all(r.inferred for r in removals):
        message = (
            f"{deletes} {what} in a layer of its own: whatever the "
            f"package manager left there is already committed by the RUN on {where} (or the "
            "base image), and layers are additive, so this RUN cannot make the image smaller. "
            "Delete the files in that RUN."
        )
    else:
        message = (
            f"{deletes} {what} created by the RUN on {where}: "
            "layers are additive, so the files still ship in that earlier layer and the image "
            "does not get smaller. Delete them in the RUN that creates them."
        )
    impact = (
        f"the deleted files stay in the layer of {where}; this RUN only adds a layer that "
        "hides them"
    )
    return ctx.finding(NAME, SEVERITY, run, message, impact=impact, fix=_fix(ctx, run, removals))


def _fix(ctx: DockerfileContext, run: Instruction, removals: list[LateRemoval]) -> Fix | None:
    creators = {removal.creator for removal in removals}
    if not all(runs.rewritable(ctx.doc, i) for i in (run, *creators)):
        return None
    if all(r.movable and _appendable(r) for r in removals) and runs.only_and_chains(run):
        return _move(ctx, run, removals)
    creator = removals[0].creator
    if (
        len(creators) == 1
        and runs.adjacent(ctx.doc, creator, run)
        and runs.same_run_flags(creator, run)
        and not runs.is_stateful(creator)
        and runs.only_and_chains(run)
        and "&" not in shell.operators(creator.script)
    ):
        return Fix(
            description=f"Merge this RUN into the RUN on line {creator.line}, so the files "
            "are deleted in the layer that creates them",
            safety=Safety.SAFE,
            edits=runs.rewrite(
                ctx.doc,
                {
                    creator: runs.merged_lines(
                        runs.body_lines(creator), runs.continuation_indent(creator), run
                    ),
                    run: None,
                },
            ),
        )
    return None


def _appendable(removal: LateRemoval) -> bool:
    """A command we can append to its creator: no ``&`` there, no shell state in the way."""
    creator = removal.creator
    if "&" in shell.operators(creator.script):
        return False
    relative = (
        any(not path.startswith("/") for path in removed_paths(removal.command))
        or "$" in removal.command.text
    )
    return not (runs.is_stateful(creator) and relative)


def _move(ctx: DockerfileContext, run: Instruction, removals: list[LateRemoval]) -> Fix:
    changes: dict[Instruction, list[str] | None] = {}
    for creator in dict.fromkeys(r.creator for r in removals):
        moved = " && ".join(r.command.text for r in removals if r.creator is creator)
        changes[creator] = runs.append_command(creator, moved)
    moved_positions = {r.position for r in removals}
    remaining = [c.text for n, c in enumerate(runs.run_commands(run)) if n not in moved_positions]
    changes[run] = runs.chained_lines(run, remaining) if remaining else None
    creator_lines = ", ".join(f"line {c.line}" for c in dict.fromkeys(r.creator for r in removals))
    return Fix(
        description=f"Delete the files in the RUN that creates them ({creator_lines})"
        + ("" if remaining else " and drop this RUN"),
        safety=Safety.REVIEW if any(r.risky for r in removals) else Safety.SAFE,
        edits=runs.rewrite(ctx.doc, changes),
    )
