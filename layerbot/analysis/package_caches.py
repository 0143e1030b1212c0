"""What package managers leave behind in a layer, and which commands create and delete it.

One table shared by the ``package-cache`` rule (an install leaves its cache in its own layer)
and the ``cleanup-in-same-layer`` rule (a later layer deletes it, too late to shrink anything).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.runs import cache_mount_targets
from layerbot.analysis.shell import Command

_HOME = re.compile(r"^(?:~|\$HOME|\$\{HOME\}|/root)(?=/|$)")
_APT = {"apt-get", "apt"}
_DNF = {"dnf", "microdnf"}


def normalise_path(path: str) -> str:
    """A path as a cache location: home spelled ``~``, no trailing ``/`` or ``/*``."""
    path = _HOME.sub("~", path.strip("\"'"))
    while path.endswith(("/*", "/")) and len(path) > 1:
        path = path[:-2] if path.endswith("/*") else path[:-1]
    return path


def removed_paths(command: Command) -> list[str]:
    """The paths an ``rm`` deletes (normalised), or none for any other command."""
    if command.program != "rm":
        return []
    return [normalise_path(arg) for arg in command.argv[1:] if not arg.startswith("-")]


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def pip_install(command: Command) -> bool:
    """``pip install``, ``pip3 install`` and ``python -m pip install``."""
    argv = command.argv
    if re.fullmatch(r"pip(?:3(?:\.\d+)?)?", command.program):
        return command.subcommand == "install"
    if re.fullmatch(r"python(?:3(?:\.\d+)?)?", command.program) and "-m" in argv:
        after = argv[argv.index("-m") + 1 :]
        return len(after) >= 2 and after[0] == "pip" and "install" in after[1:]
    return False


def apk_add(command: Command) -> bool:
    return command.program == "apk" and command.subcommand in {"add", "upgrade"}


def apt_install(command: Command) -> bool:
    return command.program in _APT and command.subcommand in {
        "install",
        "upgrade",
        "dist-upgrade",
        "full-upgrade",
        "build-dep",
    }


def yum_install(command: Command) -> bool:
    return command.program in {"yum", *_DNF} and command.subcommand in {
        "install",
        "update",
        "upgrade",
        "groupinstall",
        "reinstall",
        "makecache",
    }


def zypper_install(command: Command) -> bool:
    return command.program == "zypper" and command.subcommand in {
        "install",
        "in",
        "update",
        "up",
        "refresh",
        "ref",
        "dist-upgrade",
        "dup",
    }


def uv_install(command: Command) -> bool:
    """``uv sync`` and ``uv pip install``."""
    if command.program != "uv":
        return False
    return command.subcommand == "sync" or (
        command.subcommand == "pip" and "install" in command.argv
    )


def npm_install(command: Command) -> bool:
    return command.program == "npm" and command.subcommand in {"install", "i", "ci", "add"}


def yarn_install(command: Command) -> bool:
    return command.program == "yarn" and command.subcommand in {"", "install", "add"}


@dataclass(frozen=True)
class Cache:
    """A package manager's leftovers: where they live, who writes and who deletes them."""

    key: str
    label: str
    directories: tuple[str, ...]
    creates: Callable[[Command], bool]
    cleans: Callable[[Command], bool]
    needed_by: Callable[[Command], bool] = lambda command: False

    def removed_by(self, command: Command) -> bool:
        """Whether ``command`` deletes this cache (or the directory that holds it)."""
        if self.cleans(command):
            return True
        return any(
            _within(path, directory) or _within(directory, path)
            for path in removed_paths(command)
            for directory in self.directories
        )


def _apk_uses_index(command: Command) -> bool:
    return apk_add(command) and not command.has_flag("--no-cache")


CACHES = (
    Cache(
        key="apt-lists",
        label="apt package lists (/var/lib/apt/lists)",
        directories=("/var/lib/apt/lists",),
        creates=lambda c: c.program in _APT and c.subcommand == "update",
        cleans=lambda c: False,
        needed_by=lambda c: apt_install(c) or c.program == "apt-cache",
    ),
    Cache(
        key="apt-archives",
        label="downloaded .deb archives (/var/cache/apt)",
        directories=("/var/cache/apt",),
        creates=apt_install,
        cleans=lambda c: c.program in _APT and c.subcommand in {"clean", "autoclean"},
    ),
    Cache(
        key="apk",
        label="the apk index and cache (/var/cache/apk)",
        directories=("/var/cache/apk", "/etc/apk/cache"),
        creates=lambda c: (
            c.program == "apk"
            and (c.subcommand == "update" or (apk_add(c) and not c.has_flag("--no-cache")))
        ),
        cleans=lambda c: c.program == "apk" and c.subcommand == "cache",
        needed_by=_apk_uses_index,
    ),
    Cache(
        key="pip",
        label="pip's download and wheel cache (~/.cache/pip)",
        directories=("~/.cache/pip",),
        creates=lambda c: pip_install(c) and not c.has_flag("--no-cache-dir"),
        cleans=lambda c: c.program.startswith("pip") and c.subcommand == "cache",
    ),
    Cache(
        key="uv",
        label="uv's cache (~/.cache/uv)",
        directories=("~/.cache/uv",),
        creates=lambda c: uv_install(c) and not c.has_flag("--no-cache", "-n"),
        cleans=lambda c: c.program == "uv" and c.subcommand == "cache",
    ),
    Cache(
        key="npm",
        label="npm's cache (~/.npm)",
        directories=("~/.npm",),
        creates=npm_install,
        cleans=lambda c: c.program == "npm" and c.subcommand == "cache",
    ),
    Cache(
        key="yarn",
        label="yarn's cache (/usr/local/share/.cache/yarn)",
        directories=("/usr/local/share/.cache/yarn", "~/.cache/yarn"),
        creates=yarn_install,
        cleans=lambda c: c.program == "yarn" and c.subcommand == "cache",
    ),
    Cache(
        key="yum",
        label="the yum/dnf metadata and package cache (/var/cache/yum, /var/cache/dnf)",
        directories=("/var/cache/yum", "/var/cache/dnf"),
        creates=yum_install,
        cleans=lambda c: c.program in {"yum", *_DNF} and c.subcommand == "clean",
    ),
    Cache(
        key="zypper",
        label="zypper's package cache (/var/cache/zypp)",
        directories=("/var/cache/zypp",),
        creates=zypper_install,
        cleans=lambda c: c.program == "zypper" and c.subcommand in {"clean", "cc"},
    ),
    Cache(
        key="tmp",
        label="files under /tmp",
        directories=("/tmp",),
        creates=lambda c: "/tmp" in c.text,
        cleans=lambda c: False,
        needed_by=lambda c: "/tmp" in c.text and not removed_paths(c),
    ),
)


def covered_by_mount(run: Instruction, cache: Cache) -> bool:
    """Whether a BuildKit cache mount on ``run`` holds the cache (so nothing lands in the layer)."""
    targets = [normalise_path(target) for target in cache_mount_targets(run)]
    return any(_within(directory, target) for directory in cache.directories for target in targets)


def cache_named(key: str) -> Cache:
    return next(cache for cache in CACHES if cache.key == key)
