"""What package managers leave behind in a layer, and which commands create and delete it.

One table shared by the ``package-cache`` rule (an install leaves its cache in its own layer)
and the ``cleanup-in-same-layer`` rule (a later layer deletes it, too late to shrink anything).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping

from layerbot.analysis import ecosystems
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.record import Record
from layerbot.analysis.runs import cache_mount_targets
from layerbot.analysis.shell import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

_INLINE = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\S+)")
_HOME = re.compile(r"^(?:~|\$HOME|\$\{HOME\}|/root|/home/[^/]+)(?=/|$)")
_APT = {"apt-get", "apt"}
_DNF = {"dnf", "microdnf", "tdnf"}
_APT_INSTALLS = {"install", "upgrade", "dist-upgrade", "full-upgrade", "build-dep"}
_CONDA = {"conda", "mamba", "micromamba"}
_COMPOSER_CLEAR = {"clear-cache", "clearcache", "cc"}
# apt options that take a value, so the value is not the action (``-o Opt=1 install``).
_APT_VALUE_OPTIONS = {"-o", "--option", "-c", "--config-file", "-t", "--target-release"}
# ``find`` tests that select only some files: what the others hold stays.
_FIND_FILTERS = {"-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-not", "!"}
_FIND_FILTERS |= {"-mtime", "-mmin", "-newer", "-size", "-user", "-group", "-perm", "-links"}
# What pip accepts as a boolean in an environment variable (pip's ``strtobool``).
_BOOLEANS = {"y", "yes", "t", "true", "on", "1", "n", "no", "f", "false", "off", "0"}


def normalise_path(path: str) -> str:
    """A path as a cache location: home spelled ``~``, no trailing ``/`` or ``/*``."""
    path = _HOME.sub("~", path.strip("\"'"))
    while path.endswith(("/*", "/")) and len(path) > 1:
        path = path[:-2] if path.endswith("/*") else path[:-1]
    return path


_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")


def expand(path: str, variables: Mapping[str, str]) -> str:
    """``path`` with the ``$NAME``/``${NAME}`` it names replaced by their ENV/ARG values
    (unknown names are kept), normalised as a cache location."""
    return normalise_path(_VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), path))


def removed_paths(command: Command) -> list[str]:
    """The paths an ``rm`` deletes, or a ``find`` with ``-delete``/``-exec rm`` (normalised)."""
    if command.program == "rm":
        return [normalise_path(arg) for arg in command.argv[1:] if not arg.startswith("-")]
    if command.program == "find" and _find_deletes(command.argv):
        starts = []
        for arg in command.argv[1:]:
            if arg.startswith(("-", "(", "!", "\\")):
                break
            starts.append(normalise_path(arg))
        return starts
    return []


def _find_deletes(argv: tuple[str, ...]) -> bool:
    """A ``find`` that deletes everything under its starting points (``-type f`` and
    ``-mindepth`` keep nothing worth keeping; a name or age filter keeps the rest)."""
    if any(arg in _FIND_FILTERS for arg in argv):
        return False
    if "-delete" in argv:
        return True
    return any(
        flag in {"-exec", "-execdir"} and index + 1 < len(argv) and argv[index + 1] == "rm"
        for index, flag in enumerate(argv)
    )


def apt_action(command: Command) -> str:
    """The apt action (``install`` in ``apt-get -o Opt=1 -y install``), skipping option values."""
    if command.program not in _APT:
        return ""
    argv = command.argv
    index = 1
    while index < len(argv):
        arg = argv[index]
        if arg in _APT_VALUE_OPTIONS:
            index += 2
            continue
        if not arg.startswith("-"):
            return arg
        index += 1
    return ""


def pip_cache_disabled(value: str) -> bool:
    """Whether ``PIP_NO_CACHE_DIR=value`` turns pip's cache off.

    pip turns it off for *every* boolean it accepts, the false ones included (``off``, ``0``,
    ``false``): kept for backwards compatibility since pip 19.0. Anything else makes pip fail.
    """
    return value.strip().lower() in _BOOLEANS


def program_family(program: str) -> str:
    """A program without its version suffix: ``pip`` for ``pip3.12``, ``python`` for
    ``python3``, as :attr:`Cache.programs` names them."""
    return program.rstrip("0123456789.")


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def _versioned(program: str, name: str) -> bool:
    """``name``, ``name3`` or ``name3.<digits>`` (``pip3.12``): asked of every command, so
    read with string methods rather than a regular expression."""
    return program in (name, name + "3") or (
        program.startswith(name + "3.") and program[len(name) + 2 :].isdecimal()
    )


def pip_install(command: Command) -> bool:
    """``pip install``, ``pip3 install`` and ``python -m pip install``."""
    argv = command.argv
    if _versioned(command.program, "pip"):
        return command.subcommand == "install"
    if _versioned(command.program, "python") and "-m" in argv:
        after = argv[argv.index("-m") + 1 :]
        return len(after) >= 2 and after[0] == "pip" and "install" in after[1:]
    return False


def apk_add(command: Command) -> bool:
    return command.program == "apk" and command.subcommand in {"add", "upgrade"}


def apt_update(command: Command) -> bool:
    """``apt-get update``, or an install with ``--update`` (apt 3.0 updates the lists first)."""
    action = apt_action(command)
    return action == "update" or (action in _APT_INSTALLS and command.has_flag("--update"))


def apt_install(command: Command) -> bool:
    return apt_action(command) in _APT_INSTALLS


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


def poetry_install(command: Command) -> bool:
    """``poetry install|sync|add|update`` without the global ``--no-cache`` option."""
    return (
        command.program == "poetry"
        and command.subcommand in {"install", "sync", "add", "update"}
        and not command.has_flag("--no-cache")
    )


def npm_install(command: Command) -> bool:
    return command.program == "npm" and command.subcommand in {"install", "i", "ci", "add"}


def yarn_install(command: Command) -> bool:
    """``yarn``, ``yarn install``, ``yarn add`` (a bare ``yarn`` installs; ``yarn -v`` does not)."""
    return (
        command.program == "yarn"
        and command.subcommand in {"", "install", "add"}
        and not command.about_itself
    )


def conda_install(command: Command) -> bool:
    """``conda``/``mamba``/``micromamba`` ``install``, ``create``, ``update``, ``env create``."""
    return command.program in _CONDA and (
        command.subcommand in {"install", "create", "update", "upgrade"}
        or (command.subcommand == "env" and command.has("create", "update"))
    )


def composer_install(command: Command) -> bool:
    return command.program == "composer" and command.subcommand in {
        "install",
        "update",
        "require",
        "create-project",
    }


class Cache(Record):
    """A package manager's leftovers: where they live, who writes and who deletes them."""

    __slots__ = (
        "cleans",
        "creates",
        "directories",
        "key",
        "label",
        "location_flags",
        "location_variables",
        "moved_parts",
        "needed_by",
        "programs",
    )

    def __init__(
        self,
        key: str,
        label: str,
        directories: tuple[str, ...],
        creates: Callable[[Command], bool],
        cleans: Callable[[Command], bool],
        programs: frozenset[str] | None,
        needed_by: Callable[[Command], bool] = lambda command: False,
        location_flags: tuple[str, ...] = (),
        location_variables: tuple[str, ...] = (),
        moved_parts: tuple[str, ...] = (),
    ) -> None:
        self.key: Final = key
        self.label: Final = label
        self.directories: Final = directories
        self.creates: Final = creates
        # The program families (:func:`program_family`) whose commands can write the cache, so
        # a RUN running none of them is not asked about it; ``None``: any command may.
        self.programs: Final = programs
        self.cleans: Final = cleans
        self.needed_by: Final = needed_by
        # Where a user moves the cache: a flag of the command, or an environment variable.
        self.location_flags: Final = location_flags
        self.location_variables: Final = location_variables
        # The folders of the moved location that hold the cache (all of it when empty).
        self.moved_parts: Final = moved_parts

    def clean_moved(self, location: str) -> str:
        """The ``rm`` that deletes the cache at a moved ``location``."""
        parts = [f"{location}/{part}" for part in self.moved_parts] or [location]
        return f"rm -rf {' '.join(parts)}"

    def removed_by(
        self,
        command: Command,
        directories: tuple[str, ...] = (),
        variables: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether ``command`` deletes this cache (or the directory that holds it), at its
        default place or at ``directories``; ``$NAME`` in the deleted paths is read from
        ``variables`` (``rm -rf $POETRY_CACHE_DIR`` after ``ENV POETRY_CACHE_DIR=…``)."""
        if self.cleans(command):
            return True
        removed = [expand(path, variables or {}) for path in removed_paths(command)]
        return _deletes(self, removed, directories)

    def moved_to(self, command: Command, variables: Mapping[str, str]) -> tuple[str, ...]:
        """Where ``command`` keeps this cache when a flag or a variable moves it (``pip
        --cache-dir``, ``yarn --cache-folder``, ``YARN_CACHE_FOLDER``...): none if not moved."""
        for index, arg in enumerate(command.argv):
            for flag in self.location_flags:
                if arg.startswith(flag + "="):
                    return (normalise_path(arg.split("=", 1)[1]),)
                if arg == flag and index + 1 < len(command.argv):
                    return (normalise_path(command.argv[index + 1]),)
        inline = dict(_INLINE.findall(command.text))
        for name in self.location_variables:
            value = inline.get(name) or variables.get(name)
            if value:
                return (normalise_path(value),)
        return ()


def _downloads(command: Command) -> bool:
    """Whether an install may download: not one that never uses the network (``npm ci
    --offline``, ``pip install --no-index``; the ecosystem table's ``offline_flags``), which
    writes no download cache."""
    step = ecosystems.classify(command)
    return step is None or not ecosystems.installs_offline(step)


def _apk_uses_index(command: Command) -> bool:
    """An ``apk add`` that reads (and may refresh) the local index; ``--no-cache`` fetches one
    in memory and ``--no-network`` installs from files without any."""
    return apk_add(command) and not command.has_flag("--no-cache", "--no-network")


def _apk_writes_index(command: Command) -> bool:
    """``apk update`` or an ``apk add`` that keeps the index in /var/cache/apk."""
    if command.program != "apk" or command.has_flag("--no-cache", "--no-network"):
        return False
    return command.subcommand == "update" or apk_add(command)


CACHES = (
    Cache(
        key="apt-lists",
        label="apt package lists (/var/lib/apt/lists)",
        directories=("/var/lib/apt/lists",),
        creates=apt_update,
        # apt 3.0 (Debian 13): ``distclean`` also deletes the package lists
        cleans=lambda c: apt_action(c) in {"distclean", "dist-clean"},
        programs=frozenset(_APT),
        needed_by=lambda c: apt_install(c) or c.program == "apt-cache",
    ),
    Cache(
        key="apt-archives",
        label="downloaded .deb archives (/var/cache/apt)",
        directories=("/var/cache/apt",),
        creates=apt_install,
        cleans=lambda c: apt_action(c) in {"clean", "autoclean", "distclean", "dist-clean"},
        programs=frozenset(_APT),
    ),
    Cache(
        key="apk",
        label="the apk index and cache (/var/cache/apk)",
        directories=("/var/cache/apk", "/etc/apk/cache"),
        creates=_apk_writes_index,
        cleans=lambda c: c.program == "apk" and c.subcommand == "cache" and c.has("clean", "purge"),
        programs=frozenset({"apk"}),
        needed_by=_apk_uses_index,
    ),
    Cache(
        key="pip",
        label="pip's download and wheel cache (~/.cache/pip)",
        directories=("~/.cache/pip",),
        creates=lambda c: (
            pip_install(c) and not c.has_flag("--no-cache-dir", "--no-cache") and _downloads(c)
        ),
        cleans=lambda c: (
            c.program.startswith("pip") and c.subcommand == "cache" and c.has("purge", "remove")
        ),
        programs=frozenset({"pip", "python"}),
        location_flags=("--cache-dir",),
        location_variables=("PIP_CACHE_DIR",),
    ),
    Cache(
        key="uv",
        label="uv's cache (~/.cache/uv)",
        directories=("~/.cache/uv",),
        creates=lambda c: uv_install(c) and not c.has_flag("--no-cache", "-n"),
        cleans=lambda c: c.program == "uv" and c.subcommand == "cache",
        programs=frozenset({"uv"}),
        location_flags=("--cache-dir",),
        location_variables=("UV_CACHE_DIR",),
    ),
    Cache(
        key="poetry",
        label="Poetry's download cache (~/.cache/pypoetry/cache and artifacts)",
        # not the whole folder: Poetry's virtualenvs live beside them, in `virtualenvs`
        directories=("~/.cache/pypoetry/cache", "~/.cache/pypoetry/artifacts"),
        creates=poetry_install,
        cleans=lambda c: c.program == "poetry" and c.subcommand == "cache" and c.has("clear"),
        programs=frozenset({"poetry"}),
        location_variables=("POETRY_CACHE_DIR",),
        moved_parts=("cache", "artifacts"),
    ),
    Cache(
        key="npm",
        label="npm's cache (~/.npm)",
        directories=("~/.npm",),
        creates=lambda c: npm_install(c) and _downloads(c),
        cleans=lambda c: c.program == "npm" and c.subcommand == "cache" and c.has("clean", "rm"),
        programs=frozenset({"npm"}),
        location_flags=("--cache",),
        location_variables=("npm_config_cache", "NPM_CONFIG_CACHE"),
    ),
    Cache(
        key="yarn",
        label="yarn's cache (/usr/local/share/.cache/yarn)",
        directories=("/usr/local/share/.cache/yarn", "~/.cache/yarn"),
        creates=lambda c: yarn_install(c) and _downloads(c),
        cleans=lambda c: c.program == "yarn" and c.subcommand == "cache" and c.has("clean"),
        programs=frozenset({"yarn"}),
        location_flags=("--cache-folder",),
        location_variables=("YARN_CACHE_FOLDER",),
    ),
    Cache(
        key="yum",
        label="the yum/dnf metadata and package cache (/var/cache/yum, /var/cache/dnf)",
        directories=("/var/cache/yum", "/var/cache/dnf"),
        creates=yum_install,
        cleans=lambda c: c.program in {"yum", *_DNF} and c.subcommand == "clean",
        programs=frozenset({"yum", *_DNF}),
    ),
    Cache(
        key="zypper",
        label="zypper's package cache (/var/cache/zypp)",
        directories=("/var/cache/zypp",),
        creates=zypper_install,
        cleans=lambda c: c.program == "zypper" and c.subcommand in {"clean", "cc"},
        programs=frozenset({"zypper"}),
    ),
    Cache(
        key="conda",
        label="conda's package tarballs and extracted packages (/opt/conda/pkgs)",
        directories=("/opt/conda/pkgs", "~/.conda/pkgs"),
        creates=conda_install,
        cleans=lambda c: c.program in _CONDA and c.subcommand == "clean",
        programs=frozenset(_CONDA),
        location_variables=("CONDA_PKGS_DIRS",),
    ),
    Cache(
        key="composer",
        label="Composer's download cache (~/.composer/cache)",
        directories=("~/.composer/cache", "~/.cache/composer"),
        creates=lambda c: (
            composer_install(c)
            and not c.has_flag("--no-cache")
            and "COMPOSER_CACHE_DIR=/dev/null" not in c.text
        ),
        cleans=lambda c: c.program == "composer" and c.subcommand in _COMPOSER_CLEAR,
        programs=frozenset({"composer"}),
        location_variables=("COMPOSER_CACHE_DIR",),
    ),
    Cache(
        key="tmp",
        label="files under /tmp",
        directories=("/tmp",),
        creates=lambda c: "/tmp" in c.text,
        cleans=lambda c: False,
        programs=None,
        needed_by=lambda c: "/tmp" in c.text and not removed_paths(c),
    ),
)


def covered_by_mount(run: Instruction, cache: Cache, directories: tuple[str, ...] = ()) -> bool:
    """Whether a BuildKit cache or tmpfs mount on ``run`` holds the cache (so nothing lands in
    the layer), at its default place or at ``directories`` (where a flag or variable moved it)."""
    targets = [normalise_path(t) for t in cache_mount_targets(run, ("cache", "tmpfs"))]
    return any(
        _within(directory, target)
        for directory in directories or cache.directories
        for target in targets
    )


def _deletes(cache: Cache, removed: list[str], directories: tuple[str, ...] = ()) -> bool:
    """Whether deleting the ``removed`` paths (expanded) deletes ``cache``, at its default
    place or at ``directories`` (see :meth:`Cache.removed_by`)."""
    return any(
        _within(path, directory) or _within(directory, path)
        for path in removed
        for directory in (*cache.directories, *directories)
    )


@functools.lru_cache(maxsize=4096)
def caches_removed_by(command: Command) -> tuple[Cache, ...]:
    """The caches ``command`` deletes at their default places, in table order: the clean-up
    rule asks it of every command of every RUN, and most delete nothing (so the paths it
    deletes are read once, not once per cache)."""
    removed = [expand(path, {}) for path in removed_paths(command)]
    return tuple(
        cache for cache in CACHES if cache.cleans(command) or (removed and _deletes(cache, removed))
    )


@functools.lru_cache(maxsize=32)  # asked for each cache by each RUN the package-cache rule reads
def cache_named(key: str) -> Cache:
    return next(cache for cache in CACHES if cache.key == key)
