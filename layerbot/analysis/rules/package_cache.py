"""A package install leaves the package manager's cache in its layer.

## What it does
Flags a `RUN` in a stage that ships (the final stage and the stages it is built `FROM`) when
an install keeps its package manager's leftovers in the layer:

- `apk add` / `apk upgrade` without `--no-cache` (or `--no-network`, which installs from local
  files and fetches no index), and `apk update` next to an `apk add --no-cache` (pointless:
  `--no-cache` fetches a fresh index anyway);
- `apt-get update` (or `apt-get install --update`) and an install, with the lists never
  deleted in the same `RUN`: `rm -rf /var/lib/apt/lists/*` in any spelling (quoted, with
  other paths, `find /var/lib/apt/lists -delete`) and `apt-get distclean` count, `apt-get
  clean` does not (it only empties `/var/cache/apt`);
- `pip install` without `--no-cache-dir` (or its prefix `--no-cache`), unless
  `PIP_NO_CACHE_DIR` is set to any boolean pip accepts (`1`, `true`, `off`, `0`...: pip
  disables the cache for all of them); `uv sync` and `uv pip install` without `--no-cache`
  (unless `UV_NO_CACHE` is true); `poetry install`/`sync`/`add`/`update` without the global
  `--no-cache` option and with Poetry's download cache (`cache` and `artifacts` under
  `~/.cache/pypoetry` or `POETRY_CACHE_DIR`; its `virtualenvs` folder is the environment
  itself, never deleted by the fix) left in place;
- `yum`/`dnf`/`microdnf`/`tdnf` installs without `clean all`, `zypper install` without
  `zypper clean`, `conda`/`mamba` installs without `conda clean`;
- `gem install` without `--no-document` (the official `ruby` images already configure
  `--no-document` in their gemrc, so installs there are fine);
- `npm install`/`npm ci` without `npm cache clean --force`, `yarn install` without
  `yarn cache clean`.

It also reports, as `info`, `apt-get install` without `--no-install-recommends`, and an
`apk update` beside `apk add --no-cache` in a RUN that deletes `/var/cache/apk` itself: nothing
stays in the layer, the update only downloads an index for nothing.

What is not an install is not flagged: smoke tests such as `yarn --version`, `npm --version`
or `pip --version`; nor is an install that never uses the network (`npm ci --offline`, `yarn
install --offline`, `pip install --no-index` from local `--find-links`), which downloads
nothing into the cache. Comments are read as the shell reads them: `... # && rm -rf ...` deletes
nothing. A BuildKit cache or tmpfs mount on the cache directory (`--mount=type=cache` on
`/root/.cache/pip`, `/var/cache/apk`, `/var/lib/apt` ..., `--mount=type=tmpfs` on
`/var/lib/apt/lists`) keeps the cache out of the layer,
and so does deleting it at the place a flag or variable moved it to (`--cache-dir`,
`--cache-folder`, `PIP_CACHE_DIR`, `YARN_CACHE_FOLDER` ...).

## Why it matters
Everything a `RUN` leaves on disk is committed into its layer and shipped with the image. The
apt lists alone are tens of megabytes; pip, npm, yarn and conda caches hold a second copy of
every package downloaded. None of it is used at run time, and deleting it in a later `RUN`
does not help (see `cleanup-in-same-layer`).

## Example
```dockerfile
FROM python:3.12-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5
RUN pip install -r requirements.txt
```

## Use instead
```dockerfile
FROM python:3.12-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \\
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir -r requirements.txt
```

## Fix safety
The cache fixes are **safe**: they edit only the lines of the `RUN` that change (a flag after
the subcommand, `&& rm -rf /var/lib/apt/lists/*` or `&& <tool> clean` appended in the RUN's
own continuation style, `apk update &&` removed), and the installed packages are the same.
Adding `--no-install-recommends` is **review**: apt then installs fewer packages, and a
program may have relied on a recommended one.

A cache that a *later* `RUN` deletes is left to `cleanup-in-same-layer`, and an `apt-get
update` in a `RUN` of its own to `update-with-install`, so one problem is reported once.

## References
- Docker docs, "Building best practices: apt-get": combine `apt-get update` and
  `apt-get install` in one `RUN` and clean up with `rm -rf /var/lib/apt/lists/*` in the same
  `RUN`; Debian and Ubuntu images run `apt-get clean` automatically.
- Debian 13 release notes / apt 3.0: `apt-get distclean` (alias `dist-clean`) removes the files
  under `/var/lib/apt/lists` but the release files, for finalising images; `apt-get install
  --update` updates the lists first.
- Docker docs, "Optimize cache usage in builds: Use cache mounts": `RUN --mount=type=cache`
  keeps package caches between builds without storing them in the image; "Dockerfile
  reference: RUN --mount=type=tmpfs" mounts a tmpfs that is not part of the layer.
- Alpine Linux wiki, "Alpine Package Keeper": `--no-cache` means do not use or keep a local
  cache, and fetches the index from the network; `--no-network` uses no network (no index).
- npm docs, "config" (`offline`: no network requests during install); Yarn 1 docs, "yarn
  install" (`--offline`); pip docs, "pip install" (`--no-index`: only the `--find-links`
  locations).
- pip docs, "Caching": `--no-cache-dir` and the `PIP_NO_CACHE_DIR` environment variable; pip
  pull request 5884 (pip 19.0): every boolean value of `PIP_NO_CACHE_DIR`, false ones
  included, disables the cache.
- uv docs, "Caching": `--no-cache` / `UV_NO_CACHE`, and the cache mount on `/root/.cache/uv`
  recommended in uv's Docker guide.
- conda docs, "conda clean": removes unused packages and tarballs from the package cache.
- Poetry docs, "Configuration: cache-dir" (default `~/.cache/pypoetry` on Linux,
  `POETRY_CACHE_DIR`) and "Commands: global options" (`--no-cache`).
- The official `ruby` image's Dockerfile writes `gem: --no-document` to
  `/usr/local/etc/gemrc` ("skip installing gem documentation").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

from layerbot.analysis import package_caches, runs, shell
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction, Stage
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity
from layerbot.analysis.package_caches import (
    Cache,
    cache_named,
    covered_by_mount,
    pip_cache_disabled,
    program_family,
)
from layerbot.analysis.record import Record
from layerbot.analysis.rules.cleanup_in_same_layer import reported_removals
from layerbot.analysis.rules.update_with_install import is_update_only
from layerbot.analysis.shell import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

NAME = "package-cache"
SEVERITY = Severity.MINOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Remove the package cache in the same RUN"

Transform = Callable[[str], str]

# The commands the fixes edit, as the programs and subcommands of ``runs.command_pattern``,
# which compiles one when a fix first needs it.
_APK_ADD = ("apk", "add|upgrade")
_APK_UPDATE = ("apk", "update")
_APT_INSTALL = ("apt-get|apt", "install")
_PIP_INSTALL = (r"pip3?(?:\.\d+)?|python3?(?:\.\d+)?(?:[ \t]+-\S+)*[ \t]+-m[ \t]+pip", "install")
_GEM_INSTALL = ("gem", "install")
_UV_INSTALL = ("uv", r"sync|pip[ \t]+install")
_NO_RECOMMENDS = re.compile(r"Install-Recommends=(?:false|0|no)", re.IGNORECASE)
# Settings an earlier RUN (or a parent stage) writes into a config file.
_CONFIGURED = {
    "pip-no-cache": re.compile(r"pip3?\s+config\s+set\s+\S*no-cache-dir|no-cache-dir\s*=\s*\w"),
    "gem-no-document": re.compile(r"no-document|\.gemrc|/gemrc"),
    "apt-no-recommends": _NO_RECOMMENDS,
}
# A word each of those settings holds (lower-cased): most instructions hold none of them.
_CONFIGURED_WORDS = ("no-cache-dir", "no-document", "gemrc", "recommend")
# uv reads these as true (clap's boolish values); pip has its own rule (see package_caches).
_TRUTHY = {"1", "true", "yes", "y", "on"}
# Official images that configure their package manager already: ruby's writes
# ``gem: --no-document`` into /usr/local/etc/gemrc.
_IMAGE_SETTINGS = {"ruby": frozenset({"gem-no-document"})}


def _settings_in(instruction: Instruction) -> frozenset[str]:
    """What ``instruction`` turns on for the installs after it."""
    text = instruction.original
    found: set[str] = set()
    lowered = text.lower()
    if any(word in lowered for word in _CONFIGURED_WORDS):
        found = {name for name, pattern in _CONFIGURED.items() if pattern.search(text)}
    variables = instruction.assignments
    if "PIP_NO_CACHE_DIR" in variables and pip_cache_disabled(variables["PIP_NO_CACHE_DIR"]):
        found.add("pip-no-cache")
    if variables.get("UV_NO_CACHE", "").lower() in _TRUTHY:
        found.add("uv-no-cache")
    return frozenset(found)


class Problem(Record):
    """One leftover in a RUN and the text change that avoids it. ``leaves_files`` is false for
    waste the RUN itself deletes again (an index downloaded only to be removed)."""

    __slots__ = ("description", "leaves_files", "transform")

    def __init__(self, description: str, transform: Transform, leaves_files: bool = True) -> None:
        self.description: Final = description
        self.transform: Final = transform
        self.leaves_files: Final = leaves_files


class RunView:
    """A RUN with what comes after it in its stage: who cleans which cache, and when."""

    __slots__ = ("commands", "deleted_later", "earlier", "programs", "run", "variables")

    def __init__(
        self,
        run: Instruction,
        commands: list[Command],
        earlier: frozenset[str],
        deleted_later: frozenset[str],
        variables: Mapping[str, str],
    ) -> None:
        self.run = run
        self.commands = commands
        self.earlier = earlier
        self.deleted_later = deleted_later
        self.variables = variables
        self.programs = frozenset(program_family(command.program) for command in commands)

    def runs_any(self, programs: frozenset[str] | None) -> bool:
        """Whether a command of the RUN is one of ``programs`` (``None``: any): most RUNs run
        no package manager, and are then not asked about each cache command by command."""
        return programs is None or not programs.isdisjoint(self.programs)

    def left_behind(self, cache: Cache, position: int) -> bool:
        """Whether the cache a command at ``position`` writes stays in this RUN's layer.

        A cache that a later RUN deletes is reported by ``cleanup-in-same-layer`` instead.
        """
        moved = cache.moved_to(self.commands[position], self.variables)
        if covered_by_mount(self.run, cache, moved) or cache.label in self.deleted_later:
            return False
        return not any(
            cache.removed_by(command, moved, self.variables)
            for command in self.commands[position + 1 :]
        )


def _flag(command: tuple[str, str], flag: str, *present: str) -> Transform:
    return lambda text: runs.add_flag(
        text, runs.command_pattern(*command), flag, present or (flag,)
    )


def _without(command: tuple[str, str]) -> Transform:
    return lambda text: runs.remove_command(text, runs.command_pattern(*command))


def _append(command: str) -> Transform:
    return lambda text: "\n".join(runs.append_to_lines(text.splitlines(), command))


def _positions(view: RunView, test: Callable[[Command], bool]) -> list[int]:
    return [n for n, command in enumerate(view.commands) if test(command)]


def _apk(view: RunView) -> Iterator[Problem]:
    cache = cache_named("apk")
    if not view.runs_any(cache.programs):
        return
    adds = _positions(view, package_caches.apk_add)
    if not adds or covered_by_mount(view.run, cache):
        return
    updates = _positions(view, lambda c: c.subcommand == "update" and cache.creates(c))
    lacking = [n for n in adds if cache.creates(view.commands[n])]
    if any(view.left_behind(cache, n) for n in lacking):
        yield Problem(
            "`apk add` without `--no-cache` keeps the apk index in the layer",
            lambda text: _without(_APK_UPDATE)(_flag(_APK_ADD, "--no-cache")(text)),
        )
    elif updates and not lacking:
        kept = view.left_behind(cache, updates[-1])
        yield Problem(
            "`apk update` is pointless with `apk add --no-cache`, which fetches a fresh index "
            "itself: the update only "
            + ("writes an index into the layer" if kept else "downloads an index to delete"),
            _without(_APK_UPDATE),
            leaves_files=kept,
        )


def _apt_lists(view: RunView) -> Iterator[Problem]:
    cache = cache_named("apt-lists")
    if not view.runs_any(cache.programs):
        return
    updates = _positions(view, cache.creates)
    if not updates:
        return
    installs = _positions(view, package_caches.apt_install)
    if any(n >= updates[0] for n in installs) and view.left_behind(cache, updates[-1]):
        yield Problem(
            "the apt package lists from `apt-get update` stay in the layer (tens of MB)",
            _append("rm -rf /var/lib/apt/lists/*"),
        )


def _pip(view: RunView) -> Iterator[Problem]:
    cache = cache_named("pip")
    if "pip-no-cache" in view.earlier or not view.runs_any(cache.programs):
        return
    lacking = [
        n
        for n in _positions(view, cache.creates)
        if not _inline_pip_setting(view.commands[n]) and view.left_behind(cache, n)
    ]
    if lacking:
        yield Problem(
            "`pip install` without `--no-cache-dir` keeps a second copy of every downloaded "
            "package in ~/.cache/pip",
            _flag(_PIP_INSTALL, "--no-cache-dir"),
        )


def _inline_pip_setting(command: Command) -> bool:
    """``PIP_NO_CACHE_DIR=1 pip install ...``: the variable set for this command only."""
    setting = re.search(r"(?:^|\s)PIP_NO_CACHE_DIR=(\S*)", command.text)
    return setting is not None and pip_cache_disabled(setting.group(1).strip("\"'"))


def _uv(view: RunView) -> Iterator[Problem]:
    cache = cache_named("uv")
    if "uv-no-cache" in view.earlier or not view.runs_any(cache.programs):
        return
    if any(
        "UV_NO_CACHE" not in view.commands[n].text and view.left_behind(cache, n)
        for n in _positions(view, cache.creates)
    ):
        yield Problem(
            "`uv sync`/`uv pip install` without `--no-cache` keeps uv's cache in ~/.cache/uv",
            _flag(_UV_INSTALL, "--no-cache", "--no-cache", "-n"),
        )


def _appended_clean(
    view: RunView, key: str, command: Callable[[Command], str]
) -> Iterator[Problem]:
    cache = cache_named(key)
    if not view.runs_any(cache.programs):
        return
    left = [n for n in _positions(view, cache.creates) if view.left_behind(cache, n)]
    if left:
        last = view.commands[left[-1]]
        moved = cache.moved_to(last, view.variables)
        if moved:  # the tool's own clean command would empty the default place
            clean = cache.clean_moved(moved[0])
            what = f"{cache.label.split(' (')[0]} (moved to {moved[0]})"
        else:
            clean, what = command(last), cache.label
        yield Problem(f"{what} stays in the layer; `{clean}` removes it", _append(clean))


def _gem(view: RunView) -> Iterator[Problem]:
    if "gem-no-document" in view.earlier or "gem" not in view.programs:
        return
    installs = _positions(view, lambda c: c.program == "gem" and c.subcommand == "install")
    if any(not view.commands[n].has_flag("--no-document", "-N", "--no-rdoc") for n in installs):
        yield Problem(
            "`gem install` without `--no-document` generates and keeps documentation",
            _flag(_GEM_INSTALL, "--no-document", "--no-document", "-N", "--no-rdoc"),
        )


def _problems(view: RunView) -> list[Problem]:
    if is_update_only(view.run):
        return []  # an index update on its own is update-with-install's to report
    return [
        *_apk(view),
        *_apt_lists(view),
        *_pip(view),
        *_uv(view),
        *_appended_clean(view, "yum", lambda c: f"{c.program} clean all"),
        *_appended_clean(view, "zypper", lambda c: "zypper clean --all"),
        *_appended_clean(
            view, "poetry", lambda c: "rm -rf ~/.cache/pypoetry/cache ~/.cache/pypoetry/artifacts"
        ),
        *_appended_clean(view, "npm", lambda c: "npm cache clean --force"),
        *_appended_clean(view, "yarn", lambda c: "yarn cache clean"),
        *_appended_clean(view, "conda", lambda c: f"{c.program} clean --all --yes"),
        *_gem(view),
    ]


def _views(
    stage: Stage,
    settings: list[frozenset[str]],
    inherited: frozenset[str],
    variables: dict[str, str],
    deleted: dict[int, set[str]],
) -> Iterator[RunView]:
    """Each RUN of the stage with the settings made before it (kept as we go: linear).

    ``settings`` are what each instruction of the stage turns on; ``variables`` the ENV/ARG
    values so far, which the stages after this one inherit.
    """
    earlier = set(inherited)
    for run, turned_on in zip(stage.instructions, settings, strict=True):
        if run.keyword == "RUN" and not run.is_exec_form:
            deleted_later = frozenset(deleted.get(id(run), ()))
            commands = runs.run_commands(run)
            yield RunView(run, commands, frozenset(earlier), deleted_later, dict(variables))
        earlier |= turned_on
        variables.update(run.assignments)


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    shipped = runs.shipped_stages(ctx.doc)
    base = ctx.doc.resolved_base(shipped[0])
    official = base.official_name or base.repository
    inherited = _IMAGE_SETTINGS.get(official, frozenset())
    deleted: dict[int, set[str]] = {}
    for stage in shipped:
        for removal in reported_removals(ctx.doc, stage):
            deleted.setdefault(id(removal.creator), set()).add(removal.what)
    variables: dict[str, str] = {}
    for stage in shipped:
        settings = [_settings_in(i) for i in stage.instructions]
        for view in _views(stage, settings, inherited, variables, deleted):
            yield from _findings(ctx, view)
        inherited = inherited.union(*settings)


def _findings(ctx: DockerfileContext, view: RunView) -> Iterator[Finding]:
    run = view.run
    problems = _problems(view)
    if any(p.leaves_files for p in problems):
        message = "This RUN leaves package-manager files in its layer: " + "; ".join(
            p.description for p in problems
        )
        edit = _edit(ctx, run, [p.transform for p in problems])
        fix = (
            Fix("Remove the package cache in the same RUN", Safety.SAFE, (edit,)) if edit else None
        )
        impact = "every pull and push of the image carries files nothing uses at run time"
        yield ctx.finding(NAME, SEVERITY, run, message, impact=impact, fix=fix)
    elif problems:  # nothing stays in the layer: wasted build work, advice only
        edit = _edit(ctx, run, [p.transform for p in problems])
        yield ctx.finding(
            NAME,
            Severity.INFO,
            run,
            "; ".join(p.description for p in problems),
            impact="every build of this step downloads a package index it never uses",
            fix=Fix("Drop the download nothing uses", Safety.SAFE, (edit,)) if edit else None,
        )
    if not view.runs_any(cache_named("apt-archives").programs):
        return
    installs = _positions(view, lambda c: package_caches.apt_action(c) == "install")
    if (
        any(
            not view.commands[n].has_flag("--no-install-recommends")
            and not _NO_RECOMMENDS.search(view.commands[n].text)
            for n in installs
        )
        and "apt-no-recommends" not in view.earlier
    ):
        edit = _edit(ctx, run, [_flag(_APT_INSTALL, "--no-install-recommends")])
        yield ctx.finding(
            NAME,
            Severity.INFO,
            run,
            "`apt-get install` without `--no-install-recommends` also installs every "
            "recommended package, which the program rarely needs",
            impact="recommended packages often add tens of MB",
            fix=Fix("Install without recommended packages", Safety.REVIEW, (edit,))
            if edit
            else None,
        )


def _edit(ctx: DockerfileContext, run: Instruction, transforms: list[Transform]) -> Edit | None:
    """The RUN's text after ``transforms``, as one edit of only the lines that change."""
    if not runs.rewritable(ctx.doc, run) or "&" in shell.operators(run.script):
        return None
    text = run.original
    for transform in transforms:
        text = transform(text)
    return runs.trimmed_edit(run.original.splitlines(), text.splitlines(), run.line)
