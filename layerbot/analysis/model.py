"""The vocabulary of the analysis core: findings, fixes and the repository view.

Everything here is plain data. Rules produce :class:`Finding` objects; the CLI, the report
formats and the merge-request planner only ever read them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """GitLab Code Quality's scale; ``info`` is advice that is fine to ignore."""

    INFO = "info"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = [Severity.INFO, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL]


class Safety(StrEnum):
    """Whether a fix keeps the image's meaning (``safe``) or changes what ships (``review``)."""

    SAFE = "safe"
    REVIEW = "review"


class FixAvailability(StrEnum):
    """Whether a rule's findings come with a fix: every one, some, or none (like ruff's)."""

    ALWAYS = "always"
    SOMETIMES = "sometimes"
    NEVER = "never"


@dataclass(frozen=True)
class Edit:
    """Replace lines ``start_line..end_line`` (1-based, inclusive) with ``new_lines``.

    ``end_line == start_line - 1`` is a pure insertion before ``start_line``; an empty
    ``new_lines`` deletes the range. Lines carry no trailing newline.
    """

    start_line: int
    end_line: int
    new_lines: tuple[str, ...]

    @property
    def is_insertion(self) -> bool:
        return self.end_line < self.start_line


@dataclass(frozen=True)
class Fix:
    """A change that resolves a finding.

    ``path`` is the file the edits apply to; it differs from the finding's path when a fix
    creates a companion file (a new ``.dockerignore``), in which case ``creates_file`` is set
    and the edits are made against an empty file.
    """

    description: str
    safety: Safety
    edits: tuple[Edit, ...]
    path: str | None = None
    creates_file: bool = False


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    path: str
    line: int
    end_line: int
    message: str
    impact: str | None = None
    fix: Fix | None = None


class InputError(ValueError):
    """A file we cannot analyse (not text, too large, malformed); ``line`` points at the cause."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Note:
    """Something the analysis could not do for a file (a remote include it did not fetch)."""

    path: str
    message: str


@dataclass
class AnalysisResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    files: int = 0


class RepoView:
    """Which files the repository holds, and the text of the small ones a rule may read.

    ``paths`` are repository-relative POSIX paths. ``reader`` returns a file's text or
    ``None`` when it cannot be read; results are cached, so a rule may ask twice for free.
    Rules ask through :meth:`exists`, :meth:`read` and :meth:`in_dir` only, so a view can also
    be backed by a working tree asked file by file (``layerbot.check.LocalRepoView``).
    """

    MAX_READ_BYTES = 256 * 1024

    def __init__(self, paths: Iterable[str], reader: Callable[[str], str | None]) -> None:
        self._paths = frozenset(posixpath.normpath(p).lstrip("/") for p in paths)
        self._reader = reader
        self._cache: dict[str, str | None] = {}

    @classmethod
    def from_files(cls, files: dict[str, str]) -> RepoView:
        """A view over an in-memory mapping of path to text (tests, fetched MR files)."""
        return cls(files.keys(), files.get)

    def exists(self, path: str) -> bool:
        return posixpath.normpath(path).lstrip("/") in self._paths

    def read(self, path: str) -> str | None:
        key = posixpath.normpath(path).lstrip("/")
        if key not in self._paths:
            return None
        if key not in self._cache:
            text = self._reader(key)
            self._cache[key] = text if text is None or len(text) <= self.MAX_READ_BYTES else None
        return self._cache[key]

    def in_dir(self, directory: str) -> list[str]:
        """Paths directly inside ``directory`` ('' or '.' for the root)."""
        base = "" if directory in ("", ".") else posixpath.normpath(directory).strip("/")
        return sorted(p for p in self._paths if posixpath.dirname(p) == base)


class ListedRepoView(RepoView):
    """A repository asked folder by folder, never walked whole.

    ``list_folder(directory)`` names the entries of one folder ('' is the root) and whether
    each is a file. A folder is listed once, and only when a rule asks about it and its parent
    lists it as a folder, so a working tree with virtualenvs or a 100,000-file monorepo on
    GitLab costs one listing per folder a rule looks into. Paths leaving the root (``..``,
    absolute) do not exist.
    """

    def __init__(
        self,
        list_folder: Callable[[str], dict[str, bool]],
        reader: Callable[[str], str | None],
    ) -> None:
        super().__init__((), reader)
        self._list_folder = list_folder
        self._folders: dict[str, dict[str, bool]] = {}

    @staticmethod
    def _split(path: str) -> tuple[str, str] | None:
        normal = posixpath.normpath(path)
        if normal == ".." or normal.startswith(("../", "/")):
            return None
        directory, name = posixpath.split(normal)
        return ("" if directory == "." else directory), name

    def _entries(self, directory: str) -> dict[str, bool]:
        """Names in ``directory`` and whether each is a file, listed once."""
        if directory not in self._folders:
            parent, name = posixpath.split(directory)
            if directory and self._entries(parent).get(name, True):  # a file or nothing
                self._folders[directory] = {}
            else:
                self._folders[directory] = self._list_folder(directory)
        return self._folders[directory]

    def exists(self, path: str) -> bool:
        parts = self._split(path)
        return parts is not None and self._entries(parts[0]).get(parts[1], False)

    def read(self, path: str) -> str | None:
        if not self.exists(path):
            return None
        key = posixpath.normpath(path)
        if key not in self._cache:
            text = self._reader(key)
            self._cache[key] = text if text is None or len(text) <= self.MAX_READ_BYTES else None
        return self._cache[key]

    def in_dir(self, directory: str) -> list[str]:
        parts = self._split(posixpath.join(directory or ".", "x"))
        if parts is None:
            return []
        base = parts[0] + "/" if parts[0] else ""
        return sorted(base + name for name, is_file in self._entries(parts[0]).items() if is_file)
