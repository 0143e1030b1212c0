"""A package index update in a RUN of its own, apart from the install it serves.

## What it does
Flags a `RUN` that runs `apt-get update` (or `apt update`), `apk update`, `yum`/`dnf
makecache` or `zypper refresh` without the install that needs the index in the same `RUN`.

Not flagged: an install that updates itself (`apt-get install --update`, apt 3.0), an
`apk update --no-cache` (it keeps no index), and an update whose index the same `RUN`
deletes (`apt-get update && ./install-deps.sh && rm -rf /var/lib/apt/lists/*`: a script we
cannot read installed from it, and no stale index is left for later layers).

Severity: major when a later `RUN` installs from the index (the stale-index problem below);
minor when nothing later in the stage installs from it, or when the install is an
`apk add --no-cache` that fetches its own index: then the update only adds weight.

## Why it matters
Docker reuses a `RUN` layer from the build cache as long as its command text is unchanged,
and the text `apt-get update` never changes. So once the update layer is cached, a later edit
of the `apt-get install` line installs from the index cached weeks ago: outdated packages, or
a failed build when the mirror no longer has those versions. Docker's best practices call this
out and ask for `apt-get update && apt-get install` in one `RUN` (cache busting). The separate
layer also ships the whole index in the image. With `apk add --no-cache` the separate
`apk update` is simply dead weight: `--no-cache` fetches a fresh index itself.

## Example
```dockerfile
FROM debian:bookworm-slim
RUN apt-get update
RUN apt-get install -y --no-install-recommends curl
```

## Use instead
```dockerfile
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl
```

## Fix safety
The fix moves the update into the `RUN` of the install it serves (just before the install
command) and drops it from its own `RUN` (the whole `RUN` when nothing else is left); adjacent
RUNs become one contiguous change. For `apk add --no-cache`, or an install `RUN` that already
updates, the fix only drops the update. It is **safe** when nothing but `ENV`/`ARG`/`LABEL`-like
instructions sit between the two RUNs, and **review** otherwise (an instruction in between,
such as one adding a package source, now runs before the update, so the install may see a
different index). There is no fix when a `RUN` in between cannot be read (exec form or
heredoc), or when no later `RUN` of the stage installs from it.

Package-cache leftovers of the merged `RUN` are `package-cache`'s to report; `merge-runs` does
not report the update-only RUN.

## References
- Docker docs, "Building best practices: apt-get": "Always combine `RUN apt-get update` with
  `apt-get install` in the same `RUN` statement"; using `apt-get update` alone in a `RUN`
  causes caching issues and later `apt-get install` instructions to fail.
- Docker docs, "Docker build cache": a `RUN` is reused from the cache when its command string
  is unchanged; the files it would produce are not compared.
- Alpine Linux wiki, "Alpine Package Keeper": `apk add --no-cache` updates the index from the
  network without keeping it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from layerbot.analysis import runs
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction, Stage
from layerbot.analysis.memo import per_parse
from layerbot.analysis.model import Finding, Fix, FixAvailability, Safety, Severity
from layerbot.analysis.package_caches import (
    Cache,
    apk_add,
    apt_install,
    apt_update,
    cache_named,
    yum_install,
    zypper_install,
)
from layerbot.analysis.record import Record
from layerbot.analysis.shell import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

NAME = "update-with-install"
SEVERITY = Severity.MAJOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Update the package index in the RUN that installs"

# Instructions that neither run commands nor change files: moving an update past them is exact.
_INERT = {"ENV", "ARG", "LABEL", "EXPOSE", "USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"}


class Family(Record):
    """A package manager: its index update and the commands that install from the index."""

    __slots__ = ("index", "installs", "is_install", "is_update", "name", "programs", "updates")

    def __init__(
        self,
        name: str,
        is_update: Callable[[Command], bool],
        is_install: Callable[[Command], bool],
        programs: str,
        installs: str,
        updates: str,
        index: Cache,
    ) -> None:
        self.name: Final = name
        self.is_update: Final = is_update
        self.is_install: Final = is_install
        # Regex alternatives for :func:`runs.command_pattern`: its programs and subcommands.
        self.programs: Final = programs
        self.installs: Final = installs
        self.updates: Final = updates
        self.index: Final = index

    @property
    def install_pattern(self) -> re.Pattern[str]:
        return runs.command_pattern(self.programs, self.installs)

    @property
    def update_pattern(self) -> re.Pattern[str]:
        return runs.command_pattern(self.programs, self.updates)


FAMILIES = (
    Family(
        "apt-get",
        apt_update,
        lambda c: apt_install(c) or c.program == "apt-cache",
        "apt-get|apt",
        "install|upgrade|dist-upgrade|full-upgrade|build-dep",
        "update",
        cache_named("apt-lists"),
    ),
    Family(
        "apk",
        # ``--no-cache`` keeps no index: nothing goes stale, nothing ships
        lambda c: c.program == "apk" and c.subcommand == "update" and not c.has_flag("--no-cache"),
        apk_add,
        "apk",
        "add|upgrade",
        "update",
        cache_named("apk"),
    ),
    Family(
        "yum",
        lambda c: c.program in {"yum", "dnf", "microdnf"} and c.subcommand == "makecache",
        lambda c: yum_install(c) and c.subcommand != "makecache",
        "yum|dnf|microdnf",
        "install|update|upgrade|groupinstall|reinstall",
        "makecache",
        cache_named("yum"),
    ),
    Family(
        "zypper",
        lambda c: c.program == "zypper" and c.subcommand in {"refresh", "ref"},
        lambda c: zypper_install(c) and c.subcommand not in {"refresh", "ref"},
        "zypper",
        "install|in|update|up|dist-upgrade|dup",
        "refresh|ref",
        cache_named("zypper"),
    ),
)


class LoneUpdate(Record):
    """An index update in ``run`` that no install in the same RUN uses."""

    __slots__ = ("family", "run", "served", "update")

    def __init__(
        self, run: Instruction, family: Family, update: Command, served: Instruction | None
    ) -> None:
        self.run: Final = run
        self.family: Final = family
        self.update: Final = update
        self.served: Final = served


@per_parse
def lone_updates(stage: Stage) -> list[LoneUpdate]:
    """Updates that run apart from their install, with the RUN of that install if any."""
    found = []
    all_runs = [i for i in stage.instructions if i.keyword == "RUN" and not i.is_exec_form]
    for index, run in enumerate(all_runs):
        commands = runs.run_commands(run)
        for family in FAMILIES:
            updates = [n for n, c in enumerate(commands) if family.is_update(c)]
            if not updates or any(family.is_install(c) for c in commands[updates[0] :]):
                continue
            if any(family.index.removed_by(c) for c in commands[updates[-1] + 1 :]):
                continue  # a script installed from it, and the index is gone with this RUN
            served = next(
                (
                    later
                    for later in all_runs[index + 1 :]
                    if any(family.is_install(c) for c in runs.run_commands(later))
                ),
                None,
            )
            found.append(LoneUpdate(run, family, commands[updates[0]], served))
    return found


def is_update_only(run: Instruction) -> bool:
    """Whether every command of the RUN is a package index update."""
    commands = runs.run_commands(run)
    return bool(commands) and all(
        any(f.is_update(c) and not f.is_install(c) for f in FAMILIES) for c in commands
    )


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    doc = ctx.doc
    for index in sorted(doc.used_stages()):
        stage = doc.stages[index]
        for lone in lone_updates(stage):
            yield _finding(ctx, stage, lone)


def _finding(ctx: DockerfileContext, stage: Stage, lone: LoneUpdate) -> Finding:
    update = lone.update.text
    served = lone.served
    if served is None:
        message = (
            f"`{update}` runs in a RUN of its own and nothing later in this stage installs "
            "from it: the index only adds weight to the image."
        )
        return ctx.finding(NAME, Severity.MINOR, lone.run, message)
    no_cache_apk = lone.family.name == "apk" and _installs_without_cache(served)
    if no_cache_apk:
        message = (
            f"`{update}` runs in a RUN of its own, but the `apk add --no-cache` on line "
            f"{served.line} fetches a fresh index itself: this layer only ships a stale index."
        )
        severity = Severity.MINOR
    else:
        message = (
            f"`{update}` runs in a RUN of its own, apart from the install on line "
            f"{served.line}: once this layer is cached, later changes to the install use a "
            "stale package index (outdated packages, or a build that fails when the mirror "
            "drops them). Update and install in the same RUN."
        )
        severity = SEVERITY
    return ctx.finding(
        NAME,
        severity,
        lone.run,
        message,
        impact="the install can use a package index of any age, cached with this layer",
        fix=_fix(ctx, stage, lone, served, drop_only=no_cache_apk),
    )


def _installs_without_cache(run: Instruction) -> bool:
    adds = [c for c in runs.run_commands(run) if apk_add(c)]
    return bool(adds) and all(c.has_flag("--no-cache") for c in adds)


def _fix(
    ctx: DockerfileContext,
    stage: Stage,
    lone: LoneUpdate,
    served: Instruction,
    *,
    drop_only: bool,
) -> Fix | None:
    if not (runs.rewritable(ctx.doc, lone.run) and runs.rewritable(ctx.doc, served)):
        return None
    between = [i for i in stage.instructions if lone.run.line < i.line < served.line]
    if any(i.keyword == "RUN" and (i.is_exec_form or i.heredocs) for i in between):
        return None
    changes: dict[Instruction, list[str] | None] = {}
    if is_update_only(lone.run):
        changes[lone.run] = None
    else:
        kept = runs.remove_from_run(lone.run, lone.family.update_pattern)
        if kept == runs.body_lines(lone.run):
            return None
        changes[lone.run] = kept
    already = any(lone.family.is_update(c) for c in runs.run_commands(served))
    if not (drop_only or already):
        match = lone.family.install_pattern.search(runs.script_text(served))
        inserted = (
            runs.insert_before_command(served, match, f"{lone.update.text} && ") if match else None
        )
        if inserted is None:
            return None
        changes[served] = inserted
    safe = all(i.keyword in _INERT for i in between)
    description = (
        "Drop the separate update"
        if drop_only or already
        else f"Run `{lone.update.text}` in the RUN of the install on line {served.line}"
    )
    return Fix(description, Safety.SAFE if safe else Safety.REVIEW, runs.rewrite(ctx.doc, changes))
