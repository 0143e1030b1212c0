"""The fake GitLab's in-memory world and the rules GitLab enforces on it.

Everything here is plain data plus the operations the REST endpoints perform. Errors GitLab would
answer are raised as `ApiError(status, message)` with GitLab's wording; `server.py` turns them
into HTTP answers. All methods assume the caller holds `GitLabState.lock`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fake_gitlab.diffs import FileDiff, Tree, as_text, tree_diff

GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
NO_ACCESS = 0

LINE_CODE_ERROR = (
    '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}'
)
SUGGESTION = re.compile(r"^(`{3,}|~{3,})suggestion(?::-(\d+)\+(\d+))?[ \t]*$", re.MULTILINE)
# GitLab renders multi-line suggestions of at most 100 lines above and below the note's line.
SUGGESTION_REACH = 100


class ApiError(Exception):
    """An error answer GitLab would give: HTTP status and the JSON `message`."""

    def __init__(self, status: int, message: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def blob_id(content: str | bytes) -> str:
    """Git's blob object id, so tree entries carry the ids git would compute."""
    data = content.encode() if isinstance(content, str) else content
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class User:
    id: int
    username: str
    name: str
    token: str | None
    bot: bool = False


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: Tree
    message: str
    author_name: str
    author_email: str
    created_at: str


@dataclass
class Note:
    id: int
    author_id: int
    body: str
    type: str | None
    position: dict[str, Any] | None
    resolvable: bool
    created_at: str
    updated_at: str
    system: bool = False
    resolved: bool = False
    resolved_by: int | None = None
    resolved_at: str | None = None
    internal: bool = False
    """An internal note: project members only; a reply in its thread is internal too."""


@dataclass
class Discussion:
    id: str
    individual_note: bool
    notes: list[Note]


@dataclass
class DraftNote:
    id: int
    author_id: int
    note: str
    position: dict[str, Any] | None
    in_reply_to_discussion_id: str | None
    resolve_discussion: bool
    commit_id: str | None
    line_code: str | None


@dataclass
class Version:
    id: int
    head_sha: str
    base_sha: str
    start_sha: str
    created_at: str


@dataclass
class MergeRequest:
    id: int
    iid: int
    project_id: int
    title: str
    description: str
    source_branch: str
    target_branch: str
    author_id: int
    draft: bool
    versions: list[Version]
    created_at: str
    updated_at: str
    state: str = "opened"
    labels: list[str] = field(default_factory=list)
    discussions: list[Discussion] = field(default_factory=list)
    draft_notes: list[DraftNote] = field(default_factory=list)

    @property
    def newest(self) -> Version:
        return self.versions[-1]

    @property
    def head_sha(self) -> str:
        return self.newest.head_sha

    def diff_refs(self) -> dict[str, str]:
        version = self.newest
        return {
            "base_sha": version.base_sha,
            "head_sha": version.head_sha,
            "start_sha": version.start_sha,
        }


@dataclass
class ProtectedBranch:
    """A protection rule; `name` may be a wildcard (`release/*`). Pushes are allowed by the role
    entry `push_access_level` (0: no one) or, as on GitLab Premium, by a user entry."""

    id: int
    name: str
    push_access_level: int
    merge_access_level: int
    push_user_ids: list[int] = field(default_factory=list)

    def matches(self, branch: str) -> bool:
        """GitLab's `RefMatcher`: `*` matches any run of characters, `/` included."""
        if "*" not in self.name:
            return self.name == branch
        pattern = ".*?".join(re.escape(part) for part in self.name.split("*"))
        return re.fullmatch(pattern, branch) is not None


@dataclass
class Pipeline:
    id: int
    ref: str
    sha: str
    status: str
    created_at: str
    finished_at: str | None


@dataclass
class Job:
    """A CI job; `trace` is its log (None: no log, as after it expired or was erased)."""

    id: int
    name: str
    stage: str
    pipeline_id: int
    status: str
    created_at: str
    finished_at: str | None
    duration: float | None
    trace: str | None


# Job statuses GitLab counts as finished (`scope=finished` of the pipelines list).
FINISHED = ("success", "failed", "canceled", "skipped")


@dataclass
class Project:
    id: int
    path_with_namespace: str
    default_branch: str
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    protected: dict[str, ProtectedBranch] = field(default_factory=dict)
    members: dict[int, int] = field(default_factory=dict)
    merge_requests: dict[int, MergeRequest] = field(default_factory=dict)
    pipelines: dict[int, Pipeline] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    jobs_min_level: int = 0
    """Role needed to read pipelines, jobs and logs (403 below it; see `restrict_jobs`)."""

    def tree(self, ref: str) -> Tree:
        """Files at a branch name or commit sha (404 like GitLab for unknown refs)."""
        sha = self.branches.get(ref, ref)
        commit = self.commits.get(sha)
        if commit is None:
            raise ApiError(404, "404 Commit Not Found")
        return commit.files


class GitLabState:
    """All projects, users, merge requests and notes of one fake GitLab instance."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[int, User] = {}
        self.projects: dict[int, Project] = {}
        self._next_id = 1
        self._diff_cache: dict[tuple[int, str, str], list[FileDiff]] = {}
        self._blobs: dict[str, str | bytes] = {}
        self.notes_per_minute: int | None = None
        self.protection_rules_min_level = NO_ACCESS
        self._note_times: dict[int, list[float]] = {}

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain data (bytes file contents stay bytes)."""
        return _snapshot_of(self)

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Replace everything with a `snapshot()`."""
        self.users = {u["id"]: User(**u) for u in snapshot["users"]}
        self.projects = {p["id"]: _project_from(p) for p in snapshot["projects"]}
        self._next_id = snapshot["next_id"]
        self._diff_cache.clear()
        self._blobs.clear()
        for project in self.projects.values():
            for commit in project.commits.values():
                self._index_blobs(commit)

    # -- identifiers -------------------------------------------------------------------------

    def next_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def new_sha(self, *parts: str) -> str:
        return hashlib.sha1("\0".join((*parts, str(self.next_id()))).encode()).hexdigest()

    # -- lookups -----------------------------------------------------------------------------

    def user(self, who: int | str) -> User:
        for user in self.users.values():
            if who in (user.id, user.username):
                return user
        raise ApiError(404, "404 User Not Found")

    def user_by_token(self, token: str | None) -> User | None:
        if not token:
            return None
        return next((u for u in self.users.values() if u.token == token), None)

    def project(self, ref: int | str) -> Project:
        for project in self.projects.values():
            if str(ref) in (str(project.id), project.path_with_namespace):
                return project
        raise ApiError(404, "404 Project Not Found")

    def merge_request(self, project: int | str, iid: int | str) -> MergeRequest:
        found = self.project(project).merge_requests.get(int(iid))
        if found is None:
            raise ApiError(404, "404 Not found")
        return found

    def access_level(self, project: Project, user: User) -> int:
        return project.members.get(user.id, NO_ACCESS)

    # -- seeding -----------------------------------------------------------------------------

    def add_user(
        self, username: str, *, name: str | None = None, token: str | None = None, bot: bool = False
    ) -> int:
        """A user; give a `token` to call the API as them. Returns the user id."""
        if any(u.username == username for u in self.users.values()):
            raise ValueError(f"user {username!r} exists")
        user = User(self.next_id(), username, name or username.title(), token, bot)
        self.users[user.id] = user
        return user.id

    def add_project(
        self,
        path_with_namespace: str = "group/app",
        *,
        files: Mapping[str, str | bytes] | None = None,
        default_branch: str = "main",
        members: dict[str, int] | None = None,
    ) -> int:
        """A private project whose default branch holds `files`. `members` maps usernames to
        access levels (10 guest .. 50 owner); None makes every bot user a Developer.
        Non-members get 404 for the project, like GitLab. Returns the project id."""
        project = Project(self.next_id(), path_with_namespace, default_branch, now())
        self.projects[project.id] = project
        self.commit(project, default_branch, dict(files or {}), "Initial commit")
        if members is None:
            members = {u.username: DEVELOPER for u in self.users.values() if u.bot}
        for who, level in members.items():
            project.members[self.user(who).id] = level
        return project.id

    def add_member(self, project: int | str, user: int | str, access_level: int) -> None:
        """Add a member or change their access level."""
        self.project(project).members[self.user(user).id] = access_level

    def set_token(self, user: int | str, token: str | None) -> None:
        """Rotate a user's token; None revokes it (every call with the old one gets 401)."""
        self.user(user).token = token

    def protect_branch(
        self,
        project: int | str,
        branch: str,
        *,
        push_access_level: int = MAINTAINER,
        merge_access_level: int = MAINTAINER,
        allowed_to_push: list[int | str] | None = None,
    ) -> None:
        """Protect a branch or a wildcard (`release/*`); pushes need `push_access_level`
        (0: no one) or one of the users `allowed_to_push`. When several rules match a branch
        the most permissive one wins, as on GitLab."""
        target = self.project(project)
        users = [self.user(who).id for who in allowed_to_push or []]
        target.protected[branch] = ProtectedBranch(
            self.next_id(), branch, push_access_level, merge_access_level, users
        )

    def restrict_protection_rules(self, min_level: int) -> None:
        """Serve the protected branches API only to members at `min_level` or more, as GitLab
        before 15.x did (`authorize_admin_project`: Maintainers); today any member who can
        read the code may list the rules (`authorize_read_code!`)."""
        self.protection_rules_min_level = min_level

    def add_job(
        self,
        project: int | str,
        name: str,
        *,
        ref: str | None = None,
        status: str = "success",
        trace: str | None = None,
        duration: float | None = 60.0,
        finished_at: str | None = None,
        pipeline: int | None = None,
        stage: str = "build",
    ) -> dict[str, int]:
        """A CI job on `ref` (default branch), in `pipeline` or in a new pipeline at the ref's
        head; the pipeline's status follows its jobs. Returns {"job": id, "pipeline": id}."""
        item = self.project(project)
        if pipeline is None:
            branch = ref or item.default_branch
            entry = Pipeline(
                self.next_id(), branch, item.branches.get(branch, ""), status, now(), None
            )
            item.pipelines[entry.id] = entry
        else:
            entry = item.pipelines[pipeline]
        done = status in FINISHED
        job = Job(
            self.next_id(),
            name,
            stage,
            entry.id,
            status,
            now(),
            (finished_at or now()) if done else None,
            duration if done else None,
            trace,
        )
        item.jobs[job.id] = job
        statuses = {j.status for j in item.jobs.values() if j.pipeline_id == entry.id}
        for candidate in ("running", "pending", "created", "failed", "canceled", "success"):
            if candidate in statuses:
                entry.status = candidate
                break
        entry.finished_at = job.finished_at if entry.status in FINISHED else None
        return {"job": job.id, "pipeline": entry.id}

    def restrict_jobs(self, project: int | str, min_level: int) -> None:
        """Pipelines, jobs and job logs answer 403 to members below `min_level`, as GitLab
        does for a role without `read_build` (e.g. a Guest when the project's pipelines are
        not public)."""
        self.project(project).jobs_min_level = min_level

    def protections(self, project: Project, branch: str) -> list[ProtectedBranch]:
        """Every protection rule that applies to `branch` (exact names and wildcards)."""
        return [p for p in project.protected.values() if p.matches(branch)]

    def commit(
        self,
        project: Project,
        branch: str,
        files: Tree,
        message: str,
        *,
        parent: str | None = None,
        author: User | None = None,
    ) -> Commit:
        """Record a commit of the full tree `files` on `branch` and move the branch to it."""
        parent = parent or project.branches.get(branch)
        commit = Commit(
            sha=self.new_sha(str(project.id), branch, message, parent or ""),
            parent=parent,
            files=dict(files),
            message=message,
            author_name=author.name if author else "Fake Author",
            author_email=f"{author.username if author else 'author'}@example.com",
            created_at=now(),
        )
        project.commits[commit.sha] = commit
        self._index_blobs(commit)
        project.branches[branch] = commit.sha
        self._follow_branch(project, branch)
        return commit

    def _index_blobs(self, commit: Commit) -> None:
        for content in commit.files.values():
            self._blobs.setdefault(blob_id(content), content)

    def blob(self, sha: str) -> str | bytes:
        """File content by git blob id (as listed in repository tree entries)."""
        if sha not in self._blobs:
            raise ApiError(404, "404 Blob Not Found")
        return self._blobs[sha]

    def _follow_branch(self, project: Project, branch: str) -> None:
        """A push to an MR's source branch adds a new version with the new head (like GitLab)."""
        head = project.branches[branch]
        for mr in project.merge_requests.values():
            if mr.state != "opened" or mr.source_branch != branch or mr.head_sha == head:
                continue
            start = project.branches[mr.target_branch]
            mr.versions.append(Version(self.next_id(), head, mr.newest.base_sha, start, now()))
            mr.updated_at = now()

    def open_merge_request(
        self,
        project: int | str,
        files_before: Mapping[str, str | bytes] | None,
        files_after: Mapping[str, str | bytes],
        *,
        title: str = "Update build",
        description: str = "",
        source_branch: str = "feature",
        target_branch: str | None = None,
        author: int | str | None = None,
        draft: bool = False,
    ) -> int:
        """Commit `files_before` on the target branch (None keeps its tree), branch off it with
        the full tree `files_after`, and open an MR between them. Returns the MR iid."""
        target = self.project(project)
        target_branch = target_branch or target.default_branch
        if files_before is not None or target_branch not in target.branches:
            self.commit(target, target_branch, dict(files_before or {}), "Base for review")
        base = target.branches[target_branch]
        author_user = self.user(author) if author is not None else self._first_human()
        head = self.commit(
            target, source_branch, dict(files_after), title, parent=base, author=author_user
        )
        iid = max(target.merge_requests, default=0) + 1
        stamp = now()
        target.merge_requests[iid] = MergeRequest(
            id=self.next_id(),
            iid=iid,
            project_id=target.id,
            title=("Draft: " + title) if draft else title,
            description=description,
            source_branch=source_branch,
            target_branch=target_branch,
            author_id=author_user.id,
            draft=draft,
            versions=[Version(self.next_id(), head.sha, base, base, stamp)],
            created_at=stamp,
            updated_at=stamp,
        )
        return iid

    def _first_human(self) -> User:
        human = next((u for u in self.users.values() if not u.bot), None)
        if human is None:
            human = self.user(self.add_user("author"))
        return human

    def push(
        self,
        project: int | str,
        mr_iid: int,
        files: Mapping[str, str | bytes | None],
        *,
        message: str = "Update",
        replace: bool = False,
    ) -> str:
        """Push a commit to the MR's source branch. `files` maps paths to new content (None
        deletes); with `replace=True` it is the whole new tree. Returns the new head sha."""
        target = self.project(project)
        mr = self.merge_request(target.id, mr_iid)
        tree = {} if replace else dict(target.tree(mr.head_sha))
        for path, content in files.items():
            if content is None:
                tree.pop(path, None)
            else:
                tree[path] = content
        author = self.user(mr.author_id)
        return self.commit(target, mr.source_branch, tree, message, author=author).sha

    def set_merge_request(
        self,
        project: int | str,
        mr_iid: int,
        *,
        state: str | None = None,
        draft: bool | None = None,
        title: str | None = None,
        labels: list[str] | None = None,
    ) -> None:
        """Close/merge/reopen an MR, mark it draft or ready, retitle or relabel it."""
        mr = self.merge_request(project, mr_iid)
        if state is not None:
            mr.state = state
        if title is not None:
            mr.title = title
        if draft is not None:
            bare = re.sub(r"^(Draft:\s*)+", "", mr.title)
            mr.draft = draft
            mr.title = ("Draft: " + bare) if draft else bare
        if labels is not None:
            mr.labels = list(labels)
        mr.updated_at = now()

    def add_note(
        self, project: int | str, mr_iid: int, author: int | str, body: str, internal: bool = False
    ) -> int:
        """A human's plain comment on the MR (e.g. a command to the bot). Returns the note id."""
        mr = self.merge_request(project, mr_iid)
        return self.create_note(mr, self.user(author), body, internal=internal).id

    # -- merge request diffs -----------------------------------------------------------------

    def diffs(self, project: Project, base_sha: str, head_sha: str) -> list[FileDiff]:
        key = (project.id, base_sha, head_sha)
        if key not in self._diff_cache:
            self._diff_cache[key] = tree_diff(project.tree(base_sha), project.tree(head_sha))
        return self._diff_cache[key]

    def mr_diffs(self, mr: MergeRequest, version: Version | None = None) -> list[FileDiff]:
        version = version or mr.newest
        return self.diffs(self.project(mr.project_id), version.base_sha, version.head_sha)

    def limit_notes(self, per_minute: int | None) -> None:
        """Enforce GitLab.com's limit on notes created per user and minute (None: off).
        Over the limit, note-creating calls answer 429 with `Retry-After`; drafts and
        `bulk_publish` do not count, as on GitLab."""
        self.notes_per_minute = per_minute
        self._note_times.clear()

    def count_note(self, user: User) -> None:
        """Count one note creation against the per-minute limit, or answer 429."""
        if self.notes_per_minute is None:
            return
        moment = time.monotonic()
        recent = [t for t in self._note_times.get(user.id, []) if moment - t < 60]
        if len(recent) >= self.notes_per_minute:
            wait = max(1, int(60 - (moment - recent[0])) + 1)
            raise ApiError(
                429,
                "This endpoint has been requested too many times. Try again later.",
                {"Retry-After": str(wait)},
            )
        self._note_times[user.id] = [*recent, moment]

    # -- notes and discussions ---------------------------------------------------------------

    def create_note(
        self, mr: MergeRequest, author: User, body: str, *, internal: bool = False
    ) -> Note:
        """A plain MR comment: an individual-note discussion, not resolvable."""
        self._require_body(body)
        note = self._note(author, body, None, None, resolvable=False)
        note.internal = internal
        mr.discussions.append(Discussion(self.new_sha("discussion"), True, [note]))
        return note

    def create_discussion(
        self, mr: MergeRequest, author: User, body: str, position: dict[str, Any] | None
    ) -> Discussion:
        self._require_body(body)
        checked = self.check_position(mr, position, body) if position else None
        note_type = "DiffNote" if checked else "DiscussionNote"
        note = self._note(author, body, note_type, checked, resolvable=True)
        discussion = Discussion(self.new_sha("discussion"), False, [note])
        mr.discussions.append(discussion)
        return discussion

    def reply(self, mr: MergeRequest, discussion: Discussion, author: User, body: str) -> Note:
        self._require_body(body)
        first = discussion.notes[0]
        if discussion.individual_note:
            raise ApiError(400, "400 Bad request - Note can't reply to an individual note")
        note = self._note(author, body, first.type, first.position, resolvable=first.resolvable)
        note.resolved = first.resolved
        note.internal = first.internal
        discussion.notes.append(note)
        return note

    def discussion(self, mr: MergeRequest, discussion_id: str) -> Discussion:
        found = next((d for d in mr.discussions if d.id == discussion_id), None)
        if found is None:
            raise ApiError(404, "404 Not found")
        return found

    def note(self, mr: MergeRequest, note_id: int | str) -> tuple[Discussion, Note]:
        for discussion in mr.discussions:
            for note in discussion.notes:
                if str(note.id) == str(note_id):
                    return discussion, note
        raise ApiError(404, "404 Not found")

    def resolve(self, discussion: Discussion, user: User, resolved: bool) -> None:
        if not any(n.resolvable for n in discussion.notes):
            raise ApiError(403, "403 Forbidden")
        for note in discussion.notes:
            if note.resolvable:
                note.resolved = resolved
                note.resolved_by = user.id if resolved else None
                note.resolved_at = now() if resolved else None

    def update_note(self, note: Note, user: User, body: str) -> None:
        if note.author_id != user.id:
            raise ApiError(403, "403 Forbidden")
        self._require_body(body)
        note.body = body
        note.updated_at = now()

    def delete_note(self, mr: MergeRequest, note_id: int | str, user: User) -> None:
        discussion, note = self.note(mr, note_id)
        if note.author_id != user.id:
            raise ApiError(403, "403 Forbidden")
        discussion.notes.remove(note)
        if not discussion.notes:
            mr.discussions.remove(discussion)

    def _note(
        self,
        author: User,
        body: str,
        note_type: str | None,
        position: dict[str, Any] | None,
        *,
        resolvable: bool,
    ) -> Note:
        stamp = now()
        return Note(self.next_id(), author.id, body, note_type, position, resolvable, stamp, stamp)

    @staticmethod
    def _require_body(body: str) -> None:
        if not body or not str(body).strip():
            raise ApiError(400, {"note": ["can't be blank"]})

    # -- draft notes -------------------------------------------------------------------------

    def create_draft(
        self,
        mr: MergeRequest,
        author: User,
        body: str,
        position: dict[str, Any] | None,
        in_reply_to: str | None,
        resolve_discussion: bool,
    ) -> DraftNote:
        """Store a draft as GitLab does: the position is NOT validated here (DraftNote has no
        position validation); only a missing reply target and a second draft reply of the
        same author to the same thread are refused."""
        self._require_body(body)
        if in_reply_to is not None:
            if not any(d.id == in_reply_to for d in mr.discussions):
                raise ApiError(400, {"base": ["Thread to reply to cannot be found"]})
            if any(
                d.in_reply_to_discussion_id == in_reply_to and d.author_id == author.id
                for d in mr.draft_notes
            ):
                raise ApiError(400, {"author_id": ["has already been taken"]})
        draft = DraftNote(
            id=self.next_id(),
            author_id=author.id,
            note=body,
            position=dict(position) if position else None,
            in_reply_to_discussion_id=in_reply_to,
            resolve_discussion=resolve_discussion,
            commit_id=None,
            line_code=None,
        )
        mr.draft_notes.append(draft)
        return draft

    def draft(self, mr: MergeRequest, draft_id: int | str, user: User) -> DraftNote:
        found = next(
            (d for d in mr.draft_notes if str(d.id) == str(draft_id) and d.author_id == user.id),
            None,
        )
        if found is None:
            raise ApiError(404, "404 Not found")
        return found

    def publish(self, mr: MergeRequest, draft: DraftNote) -> None:
        """Turn a draft into a note the way `DraftNotes::PublishService` does.

        The draft is deleted whatever happens. A diff position GitLab cannot place makes the
        note invalid and it is silently dropped. A draft with no position and no thread becomes
        a resolvable `DiscussionNote` (`DraftNote#type`). A reply resolves its thread when
        `resolve_discussion` is set and otherwise UNRESOLVES it (`set_discussion_resolve_status`).
        """
        author = self.user(draft.author_id)
        mr.draft_notes.remove(draft)
        if draft.in_reply_to_discussion_id is not None:
            found = [d for d in mr.discussions if d.id == draft.in_reply_to_discussion_id]
            if not found:
                return
            discussion = found[0]
            self.reply(mr, discussion, author, draft.note)
            if any(n.resolvable for n in discussion.notes):
                self.resolve(discussion, author, draft.resolve_discussion)
            return
        checked = None
        if draft.position:
            try:
                checked = self.check_position(mr, draft.position, draft.note)
            except ApiError:
                return  # Notes::CreateService returns an invalid note; nothing is stored
        note_type = "DiffNote" if checked else "DiscussionNote"
        note = self._note(author, draft.note, note_type, checked, resolvable=True)
        mr.discussions.append(Discussion(self.new_sha("discussion"), False, [note]))

    def bulk_publish(self, mr: MergeRequest, user: User) -> None:
        for draft in [d for d in mr.draft_notes if d.author_id == user.id]:
            self.publish(mr, draft)

    # -- positions ---------------------------------------------------------------------------

    def check_position(
        self, mr: MergeRequest, position: dict[str, Any], body: str
    ) -> dict[str, Any]:
        """Validate a diff position like GitLab does, returning the stored position.

        GitLab computes a line code from the position; when the shas are not the MR's diff
        refs, the file is not in the diff, or the line is not shown in the diff (an added or
        context line, with both line numbers for context lines), it answers 400 with
        `line_code can't be blank`. Suggestions must stay inside the file.
        """
        if position.get("position_type", "text") != "text":
            raise ApiError(400, "400 Bad request - position_type is only supported as text")
        refs = mr.diff_refs()
        if any(position.get(key) != refs[key] for key in refs):
            raise ApiError(400, LINE_CODE_ERROR)
        new_path = position.get("new_path") or position.get("old_path")
        old_path = position.get("old_path") or new_path
        file = next((d for d in self.mr_diffs(mr) if d.new_path == new_path), None)
        if file is None or file.old_path != old_path:
            raise ApiError(400, LINE_CODE_ERROR)
        old_line = _line_number(position.get("old_line"))
        new_line = _line_number(position.get("new_line"))
        if (old_line, new_line) not in file.positions:
            raise ApiError(400, LINE_CODE_ERROR)
        self._check_suggestions(mr, file, new_line, body)
        path_hash = hashlib.sha1(file.new_path.encode()).hexdigest()
        return {
            "base_sha": refs["base_sha"],
            "start_sha": refs["start_sha"],
            "head_sha": refs["head_sha"],
            "old_path": file.old_path,
            "new_path": file.new_path,
            "position_type": "text",
            "old_line": old_line,
            "new_line": new_line,
            "line_range": position.get("line_range"),
            "line_code": f"{path_hash}_{old_line or 0}_{new_line or 0}",
        }

    def _check_suggestions(
        self, mr: MergeRequest, file: FileDiff, new_line: int | None, body: str
    ) -> None:
        matches = list(SUGGESTION.finditer(body))
        if not matches:
            return
        if new_line is None:
            raise ApiError(400, "400 Bad request - Suggestions can only be made on new lines")
        content = self.project(mr.project_id).tree(mr.head_sha).get(file.new_path, "")
        text = as_text(content) or ""
        line_count = len(text.splitlines())
        for match in matches:
            above, below = int(match.group(2) or 0), int(match.group(3) or 0)
            if max(above, below) > SUGGESTION_REACH:
                raise ApiError(400, "400 Bad request - Suggestion range exceeds 100 lines")
            if new_line - above < 1 or new_line + below > line_count:
                raise ApiError(
                    400,
                    f"400 Bad request - Suggestion lines {new_line - above}-{new_line + below}"
                    f" are outside {file.new_path} ({line_count} lines)",
                )

    # -- commits API -------------------------------------------------------------------------

    def create_commit(
        self,
        project: Project,
        user: User,
        branch: str,
        message: str,
        actions: list[dict[str, Any]],
        start_branch: str | None = None,
        start_sha: str | None = None,
        force: bool = False,
    ) -> Commit:
        """Apply Commits API actions as one commit, with GitLab's checks (`Commits::CreateService`,
        `Files::MultiService`): `start_sha` or another `start_branch` make a *new* branch, so an
        existing `branch` is refused unless `force` (which then overwrites it); an `update`,
        `move` or `delete` whose `last_commit_id` saw another last change of the file than the
        branch has now is refused with 400."""
        if not message:
            raise ApiError(400, {"commit_message": ["can't be blank"]})
        if not actions:
            raise ApiError(400, "400 Bad request - actions is empty")
        self._authorize_push(project, user, branch)
        if start_sha and start_branch:
            raise ApiError(400, "You can't pass both start_branch and start_sha")
        if start_sha and start_sha not in project.commits:
            raise ApiError(400, f"Cannot find start_sha '{start_sha}'")
        start_branch = start_branch or (None if start_sha else branch)
        if start_branch is not None and start_branch not in project.branches:
            raise ApiError(400, "You can only create or edit files when you are on a branch")
        different = bool(start_sha) or start_branch != branch
        if different and branch in project.branches and not force:
            raise ApiError(
                400,
                f"A branch called '{branch}' already exists. "
                "Switch to that branch in order to make changes",
            )
        parent = start_sha or project.branches[str(start_branch)]
        for action in actions:
            self._check_last_commit(project, parent, action)
        tree = dict(project.commits[parent].files)
        for action in actions:
            _apply_action(tree, action)
        return self.commit(project, branch, tree, message, parent=parent, author=user)

    def _check_last_commit(self, project: Project, start: str, action: dict[str, Any]) -> None:
        """`Files::BaseService#file_has_changed?`: compare the file's last commit on the branch
        with its last commit as of `last_commit_id` (no check when either has none)."""
        claimed = action.get("last_commit_id")
        if action.get("action") not in ("update", "move", "delete") or not claimed:
            return
        path = str(action.get("previous_path") or action.get("file_path"))
        on_branch = self.last_commit_for_path(project, start, path)
        as_claimed = self.last_commit_for_path(project, str(claimed), path)
        if on_branch and as_claimed and on_branch != as_claimed:
            raise ApiError(400, f"The file has changed since you started editing it: {path}")

    @staticmethod
    def last_commit_for_path(project: Project, sha: str, path: str) -> str | None:
        """The newest commit reachable from `sha` that changed `path` (None: never there)."""
        current = project.commits.get(sha)
        if current is None or path not in current.files:
            return None
        while current.parent is not None:
            parent = project.commits[current.parent]
            if parent.files.get(path) != current.files[path]:
                return current.sha
            current = parent
        return current.sha

    def _authorize_push(self, project: Project, user: User, branch: str) -> None:
        """`Gitlab::UserAccess#can_push_to_branch?`: Developer+ on an unprotected branch; on a
        protected one, an entry of any matching rule (most permissive wins)."""
        level = self.access_level(project, user)
        rules = self.protections(project, branch)
        allowed = level >= DEVELOPER and (
            not rules
            or any(
                (rule.push_access_level != NO_ACCESS and level >= rule.push_access_level)
                or user.id in rule.push_user_ids
                for rule in rules
            )
        )
        if not allowed:
            raise ApiError(403, "403 Forbidden - You are not allowed to push into this branch")

    def can_push(self, project: Project, user: User, branch: str) -> bool:
        try:
            self._authorize_push(project, user, branch)
        except ApiError:
            return False
        return True


def _line_number(value: Any) -> int | None:
    if value in (None, "", "null"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "400 Bad request - position line is invalid") from None


def _apply_action(tree: Tree, action: dict[str, Any]) -> None:
    kind = action.get("action")
    path = action.get("file_path")
    if not path:
        raise ApiError(400, "400 Bad request - actions[0][file_path] is missing")
    content: str | bytes = action.get("content") or ""
    if action.get("encoding") == "base64":
        content = base64.b64decode(str(content))
    if kind == "create":
        if path in tree:
            raise ApiError(400, "A file with this name already exists")
        tree[path] = content
    elif kind == "update":
        if path not in tree:
            raise ApiError(400, "A file with this name doesn't exist")
        tree[path] = content
    elif kind == "delete":
        if path not in tree:
            raise ApiError(400, "A file with this name doesn't exist")
        del tree[path]
    elif kind == "move":
        previous = action.get("previous_path")
        if previous not in tree:
            raise ApiError(400, "A file with this name doesn't exist")
        if path in tree:
            raise ApiError(400, "A file with this name already exists")
        moved = tree.pop(previous)
        tree[path] = content if action.get("content") is not None else moved
    elif kind == "chmod":
        if path not in tree:
            raise ApiError(400, "A file with this name doesn't exist")
    else:
        raise ApiError(400, "400 Bad request - actions[0][action] does not have a valid value")


def _snapshot_of(state: GitLabState) -> dict[str, Any]:
    return {
        "next_id": state._next_id,
        "users": [asdict(u) for u in state.users.values()],
        "projects": [asdict(p) for p in state.projects.values()],
    }


def _project_from(data: dict[str, Any]) -> Project:
    return Project(
        id=data["id"],
        path_with_namespace=data["path_with_namespace"],
        default_branch=data["default_branch"],
        created_at=data["created_at"],
        commits={sha: Commit(**c) for sha, c in data["commits"].items()},
        branches=dict(data["branches"]),
        protected={n: ProtectedBranch(**p) for n, p in data["protected"].items()},
        members={int(uid): level for uid, level in data["members"].items()},
        merge_requests={
            int(iid): _merge_request_from(m) for iid, m in data["merge_requests"].items()
        },
        pipelines={int(i): Pipeline(**p) for i, p in data.get("pipelines", {}).items()},
        jobs={int(i): Job(**j) for i, j in data.get("jobs", {}).items()},
        jobs_min_level=data.get("jobs_min_level", 0),
    )


def _merge_request_from(data: dict[str, Any]) -> MergeRequest:
    fields = dict(data)
    fields["versions"] = [Version(**v) for v in data["versions"]]
    fields["discussions"] = [
        Discussion(d["id"], d["individual_note"], [Note(**n) for n in d["notes"]])
        for d in data["discussions"]
    ]
    fields["draft_notes"] = [DraftNote(**d) for d in data["draft_notes"]]
    return MergeRequest(**fields)
