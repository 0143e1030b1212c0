"""The vocabulary of the analysis core: findings, fixes and the repository view.

Everything here is plain data. Rules produce :class:`Finding` objects; the CLI, the report
formats and the merge-request planner only ever read them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from enum import StrEnum

from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


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


class Edit(Record):
    """Replace lines ``start_line..end_line`` (1-based, inclusive) with ``new_lines``.

    ``end_line == start_line - 1`` is a pure insertion before ``start_line``; an empty
    ``new_lines`` deletes the range. Lines carry no trailing newline.
    """

    __slots__ = ("end_line", "new_lines", "start_line")

    def __init__(self, start_line: int, end_line: int, new_lines: tuple[str, ...]) -> None:
        self.start_line: Final = start_line
        self.end_line: Final = end_line
        self.new_lines: Final = new_lines

    @property
    def is_insertion(self) -> bool:
        return self.end_line < self.start_line


class Fix(Record):
    """A change that resolves a finding.

    ``path`` is the file the edits apply to; it differs from the finding's path when a fix
    creates a companion file (a new ``.dockerignore``), in which case ``creates_file`` is set
    and the edits are made against an empty file.
    """

    __slots__ = ("creates_file", "description", "edits", "path", "safety")

    def __init__(
        self,
        description: str,
        safety: Safety,
        edits: tuple[Edit, ...],
        path: str | None = None,
        creates_file: bool = False,
    ) -> None:
        self.description: Final = description
        self.safety: Final = safety
        self.edits: Final = edits
        self.path: Final = path
        self.creates_file: Final = creates_file


class Finding(Record):
    __slots__ = ("end_line", "fix", "impact", "line", "message", "path", "rule", "severity")

    def __init__(
        self,
        rule: str,
        severity: Severity,
        path: str,
        line: int,
        end_line: int,
        message: str,
        impact: str | None = None,
        fix: Fix | None = None,
    ) -> None:
        self.rule: Final = rule
        self.severity: Final = severity
        self.path: Final = path
        self.line: Final = line
        self.end_line: Final = end_line
        self.message: Final = message
        self.impact: Final = impact
        self.fix: Final = fix

    def with_severity(self, severity: Severity) -> Finding:
        return Finding(
            self.rule,
            severity,
            self.path,
            self.line,
            self.end_line,
            self.message,
            self.impact,
            self.fix,
        )

    def with_impact(self, impact: str) -> Finding:
        return Finding(
            self.rule,
            self.severity,
            self.path,
            self.line,
            self.end_line,
            self.message,
            impact,
            self.fix,
        )


class InputError(ValueError):
    """A file we cannot analyse (not text, too large, malformed); ``line`` points at the cause."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


class Note(Record):
    """Something the analysis could not do for a file (a remote include it did not fetch)."""

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path: Final = path
        self.message: Final = message


class PipelineFacts(Record):
    """What checking a Dockerfile needs from the repository's root CI configuration: the build
    context of each Dockerfile a job builds (``build_contexts``), and the job that runs in what
    a Dockerfile builds under a tag every pipeline reuses, a tool image (``tool_image_jobs``).

    Two small tables of repository paths, so a shell may keep them between runs rather than
    load the pipeline, and YAML with it, for every file it checks.
    """

    __slots__ = ("build_contexts", "tool_image_jobs")

    def __init__(self, build_contexts: dict[str, str], tool_image_jobs: dict[str, str]) -> None:
        self.build_contexts: Final = build_contexts
        self.tool_image_jobs: Final = tool_image_jobs


class AnalysisResult:
    __slots__ = ("files", "findings", "notes")

    def __init__(
        self, findings: list[Finding] | None = None, notes: list[Note] | None = None, files: int = 0
    ) -> None:
        self.findings: list[Finding] = [] if findings is None else findings
        self.notes: list[Note] = [] if notes is None else notes
        self.files = files


class RepoView:
    """Which files the repository holds, and the text of the small ones a rule may read.

    ``paths`` are repository-relative POSIX paths. ``reader`` returns a file's text or
    ``None`` when it cannot be read; results are cached, so a rule may ask twice for free.
    Rules ask through :meth:`exists`, :meth:`read`, :meth:`in_dir` and :meth:`folders_in`
    only, so a view can also be backed by a working tree asked file by file
    (``layerbot.check.LocalRepoView``).

    ``pipeline_facts`` are the root CI configuration's facts when the shell already knows them
    (``layerbot check`` keeps them between runs); ``None`` has the engine work them out.
    """

    MAX_READ_BYTES = 256 * 1024

    def __init__(self, paths: Iterable[str], reader: Callable[[str], str | None]) -> None:
        self._paths = frozenset(posixpath.normpath(p).lstrip("/") for p in paths)
        self._reader = reader
        self._cache: dict[str, str | None] = {}
        self.pipeline_facts: PipelineFacts | None = None

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

    def folders_in(self, directory: str) -> list[str]:
        """Folders (with files in them) directly inside ``directory``."""
        base = "" if directory in ("", ".") else posixpath.normpath(directory).strip("/") + "/"
        rest = (p[len(base) :] for p in self._paths if p.startswith(base))
        return sorted({base + r.split("/", 1)[0] for r in rest if "/" in r})


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

    def folders_in(self, directory: str) -> list[str]:
        parts = self._split(posixpath.join(directory or ".", "x"))
        if parts is None:
            return []
        base = parts[0] + "/" if parts[0] else ""
        entries = self._entries(parts[0]).items()
        return sorted(base + name for name, is_file in entries if not is_file)
