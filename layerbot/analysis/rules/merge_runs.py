"""Consecutive RUNs that set up the system and could be one RUN.

## What it does
Flags two or more `RUN` instructions in a row, in a stage that ships, that all do system
set-up: installing or removing OS packages (apt, apk, yum/dnf, zypper), creating users and
groups, making directories, changing owners and modes, links, certificates and locales, and
downloading and unpacking a tool. It is advice (`info`).

## Why it matters
Every `RUN` is a layer. Set-up steps that always change together are better as one `RUN`:
one layer instead of several, files that one step deletes never stored by another, and one
cache entry to invalidate instead of a chain. Docker's best practices recommend combining
related commands (`apt-get update && apt-get install ...`) in one `RUN`.

Merging is not always better. A `RUN` is cached as a unit, so a slow step merged with one that
changes often re-runs whenever the other changes. This rule therefore only merges set-up steps
(which change rarely), never merges across any other instruction (`COPY`, `ADD`, `ENV`,
`WORKDIR` ... change what later steps see and are where the cache is invalidated), and never
merges dependency downloads (`npm ci`, `pip install`, `go mod download`, `bundle install` ...)
or build steps: those belong in their own layers, ordered as `dependency-layer-order`
describes.

## Example
```dockerfile
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && rm -rf /var/lib/apt/lists/*
RUN groupadd -r app && useradd -r -g app app
RUN mkdir -p /srv/app && chown app:app /srv/app
```

## Use instead
```dockerfile
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && rm -rf /var/lib/apt/lists/* \\
    && groupadd -r app && useradd -r -g app app \\
    && mkdir -p /srv/app && chown app:app /srv/app
```

## Fix safety
The fix chains the RUNs with `&&`, keeping each one's lines as written; it is **safe**: the
same commands run in the same order and the build stops at the same failing command. It is
only offered when that holds: the RUNs carry the same `--mount`/`--network` flags, only the
last one changes shell state (`cd`, `export`, `set`), and every RUN after the first is a plain
`&&` chain.

An `apt-get update` in a `RUN` of its own is left to `update-with-install`, and a `RUN` that
deletes what an earlier one created to `cleanup-in-same-layer` (a `RUN` that only deletes
files is never grouped, even when the files come from a lone update); neither is part of a
group here.

## References
- Docker docs, "Building best practices: Minimize the number of layers" and "apt-get":
  only `RUN`, `COPY` and `ADD` create layers; combine related commands in one `RUN`.
- Docker docs, "Docker build cache": a changed instruction invalidates the cache for it and
  every instruction after it.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis import runs, shell
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Dockerfile, Instruction, Stage
from layerbot.analysis.model import Finding, Fix, FixAvailability, Safety, Severity
from layerbot.analysis.rules.cleanup_in_same_layer import (
    is_cleanup_only,
    late_removals,
    reported_removals,
)
from layerbot.analysis.rules.update_with_install import is_update_only
from layerbot.analysis.shell import Command

NAME = "merge-runs"
SEVERITY = Severity.INFO
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.ALWAYS
FIX_TITLE = "Chain the RUNs into one with `&&`"

_PACKAGE_MANAGERS = {"apt-get", "apt", "apk", "yum", "dnf", "microdnf", "zypper", "dpkg"}
_SETUP = {
    "useradd",
    "adduser",
    "groupadd",
    "addgroup",
    "usermod",
    "mkdir",
    "chown",
    "chmod",
    "chgrp",
    "ln",
    "touch",
    "update-ca-certificates",
    "locale-gen",
    "update-locale",
    "dpkg-reconfigure",
    "ldconfig",
    "curl",
    "wget",
    "tar",
    "unzip",
    "gpg",
    "echo",
    "true",
    "rm",
    "install",
    "setcap",
    "a2enmod",
    "docker-php-ext-install",
    "docker-php-ext-configure",
    "docker-php-ext-enable",
}


def _is_setup(command: Command) -> bool:
    return command.program in _PACKAGE_MANAGERS or command.program in _SETUP


def _candidates(doc: Dockerfile, stage: Stage) -> set[Instruction]:
    """RUNs of the stage that are pure set-up and that no other rule reports."""
    owned = {removal.run for removal in reported_removals(doc, stage)} | {
        removal.run for removal in late_removals(doc, stage) if is_cleanup_only(removal.run)
    }
    result = set()
    for run in runs.shell_runs(stage):
        commands = runs.run_commands(run)
        if (
            commands
            and all(_is_setup(c) for c in commands)
            and run not in owned
            and not is_update_only(run)
            and runs.rewritable(doc, run)
            and "&" not in shell.operators(run.script)
        ):
            result.add(run)
    return result


def _joins(group: list[Instruction], run: Instruction, doc_lines: list[str]) -> bool:
    """Whether ``run``, the instruction right after the group's last, can join the group."""
    previous = group[-1]
    blank_only = all(not line.strip() for line in doc_lines[previous.end_line : run.line - 1])
    return (
        blank_only
        and runs.same_run_flags(previous, run)
        and not runs.is_stateful(previous)
        and runs.only_and_chains(run)
    )


def groups(doc: Dockerfile, stage: Stage) -> list[list[Instruction]]:
    """Maximal runs of consecutive set-up RUNs that can be chained into one."""
    candidates = _candidates(doc, stage)
    found: list[list[Instruction]] = []
    current: list[Instruction] = []
    for instruction in stage.body:
        if instruction not in candidates:
            if len(current) > 1:
                found.append(current)
            current = []
            continue
        # ``current`` only ever ends with the instruction just before this one.
        if current and _joins(current, instruction, doc.lines):
            current.append(instruction)
        else:
            if len(current) > 1:
                found.append(current)
            current = [instruction]
    if len(current) > 1:
        found.append(current)
    return found


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    for stage in runs.shipped_stages(ctx.doc):
        for group in groups(ctx.doc, stage):
            yield _finding(ctx, group)


def _finding(ctx: DockerfileContext, group: list[Instruction]) -> Finding:
    first, last = group[0], group[-1]
    lines = runs.body_lines(first)
    indent = runs.continuation_indent(first)
    for run in group[1:]:
        lines = runs.merged_lines(lines, indent, run)
    changes: dict[Instruction, list[str] | None] = {run: None for run in group[1:]}
    changes[first] = lines
    count = len(group)
    return ctx.finding(
        NAME,
        SEVERITY,
        first,
        f"{count} consecutive RUNs (lines {first.line}-{last.end_line}) only set up the "
        f"system; one RUN makes one layer instead of {count}.",
        impact=f"{count - 1} fewer layers; files one step deletes are never stored by another",
        fix=Fix(
            f"Chain the {count} RUNs into one with `&&`",
            Safety.SAFE,
            runs.rewrite(ctx.doc, changes),
        ),
        end=last,
    )
