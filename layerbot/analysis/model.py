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
