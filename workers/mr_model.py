"""Plain data about a merge request, shared by the GitLab client, the planner and the review.

Nothing here does I/O: the client builds these from API answers, the planner reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from layerbot.analysis.build_logs import BuildRun

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class DiffRefs:
    """The three commits a diff position is anchored to (the MR's ``diff_refs``)."""

    base_sha: str
    start_sha: str
    head_sha: str


@dataclass(frozen=True)
class MergeRequest:
    project_id: int
    iid: int
    state: str
    sha: str
    source_branch: str
    target_branch: str
    source_project_id: int
    diff_refs: DiffRefs | None
    draft: bool = False

    @property
    def is_open(self) -> bool:
        return self.state in ("opened", "reopened")

    @property
    def from_fork(self) -> bool:
        return self.source_project_id != self.project_id


@dataclass(frozen=True)
class FileDiff:
    """One changed file of the MR, as ``/merge_requests/:iid/diffs`` lists it."""

    old_path: str
    new_path: str
    diff: str
    new_file: bool = False
    deleted_file: bool = False
    renamed_file: bool = False
    collapsed: bool = False
    too_large: bool = False

    def shown_lines(self) -> dict[int, int | None]:
        """New-file lines the diff shows: added ones map to ``None``, context lines to their
        old line. These are the only lines GitLab accepts a diff note on."""
        shown: dict[int, int | None] = {}
        old = new = 0
        in_hunk = False
        for line in self.diff.splitlines():
            header = _HUNK.match(line)
            if header:
                old, new, in_hunk = int(header.group(1)), int(header.group(3)), True
                continue
            if not in_hunk or line.startswith("\\"):
                continue
            marker = line[:1]
            if marker == "+":
                shown[new] = None
                new += 1
            elif marker == "-":
                old += 1
            elif marker in (" ", ""):
                shown[new] = old
                old += 1
                new += 1
        return shown


@dataclass(frozen=True)
class User:
    id: int
    username: str


@dataclass(frozen=True)
class PostedNote:
    """A note already on the MR (published, inside a discussion)."""

    id: int
    author_id: int
    body: str
    system: bool = False
    resolvable: bool = False
    resolved: bool = False
    created_at: str = ""


@dataclass(frozen=True)
class Discussion:
    id: str
    notes: tuple[PostedNote, ...] = field(default_factory=tuple)
    individual: bool = False
    """A plain comment, not a thread: GitLab takes no replies to it."""

    @property
    def resolved(self) -> bool:
        resolvable = [note for note in self.notes if note.resolvable]
        return bool(resolvable) and all(note.resolved for note in resolvable)


@dataclass(frozen=True)
class DraftNote:
    """An unpublished note of the bot (left over when a review stopped before publishing)."""

    id: int
    body: str
    discussion_id: str | None = None


@dataclass(frozen=True)
class Branch:
    """A branch as the Branches API shows it to the bot (``can_push`` is the TOKEN's right)."""

    name: str
    head_sha: str
    bot_can_push: bool
    protected: bool = False
    developers_can_push: bool = False


@dataclass(frozen=True)
class PushAccess:
    """One ``push_access_levels`` entry of a protected branch rule: a role (``access_level``),
    or a user, a group or a deploy key (then ``access_level`` is only descriptive)."""

    access_level: int
    user_id: int | None = None
    group_id: int | None = None
    deploy_key_id: int | None = None


@dataclass(frozen=True)
class Protection:
    """A protected branch rule; ``name`` is a branch name or a wildcard such as ``release/*``."""

    name: str
    push_access: tuple[PushAccess, ...]


@dataclass(frozen=True)
class BranchCommit:
    sha: str
    message: str


@dataclass(frozen=True)
class JobRun:
    """A finished CI job as the jobs API lists it (doc/api/jobs.md)."""

    id: int
    name: str
    pipeline_id: int
    ref: str
    finished_at: str  # ISO 8601, as GitLab gives it
    web_url: str


@dataclass(frozen=True)
class MeasuredJob:
    """A build job's latest successful run on the target branch and the builds its log shows."""

    job: JobRun
    runs: tuple[BuildRun, ...]
