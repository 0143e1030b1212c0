"""JSON shapes of GitLab REST API answers, built from the fake's state.

Field names and nesting follow GitLab's REST API documentation (projects, merge requests, MR
diffs and versions, notes, discussions, draft notes, commits, members, branches, repository
tree and files); fields the bot never reads are included where cheap so clients that do read
them see realistic values.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from tests.fake_gitlab.diffs import FileDiff
from tests.fake_gitlab.state import (
    Commit,
    Discussion,
    DraftNote,
    GitLabState,
    MergeRequest,
    Note,
    Project,
    ProtectedBranch,
    User,
    Version,
    blob_id,
)

ACCESS_DESCRIPTIONS = {
    0: "No access",
    10: "Guest",
    20: "Reporter",
    30: "Developers + Maintainers",
    40: "Maintainers",
    50: "Owner",
}


def user(base_url: str, who: User) -> dict[str, Any]:
    return {
        "id": who.id,
        "username": who.username,
        "name": who.name,
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{base_url}/{who.username}",
        "bot": who.bot,
    }


def current_user(base_url: str, who: User) -> dict[str, Any]:
    """`GET /user`: the basic user plus the fields only the token owner sees."""
    return {
        **user(base_url, who),
        "email": f"{who.username}@example.com",
        "public_email": None,
        "created_at": "2026-01-01T00:00:00.000Z",
        "is_admin": False,
        "can_create_project": True,
        "two_factor_enabled": False,
        "external": False,
        "private_profile": False,
    }


def project(base_url: str, state: GitLabState, item: Project) -> dict[str, Any]:
    namespace, _, path = item.path_with_namespace.rpartition("/")
    return {
        "id": item.id,
        "name": path,
        "name_with_namespace": item.path_with_namespace.replace("/", " / "),
        "path": path,
        "path_with_namespace": item.path_with_namespace,
        "description": None,
        "default_branch": item.default_branch,
        "visibility": "private",
        "ssh_url_to_repo": f"git@fake-gitlab:{item.path_with_namespace}.git",
        "http_url_to_repo": f"{base_url}/{item.path_with_namespace}.git",
        "web_url": f"{base_url}/{item.path_with_namespace}",
        "created_at": item.created_at,
        "last_activity_at": item.created_at,
        "archived": False,
        "empty_repo": not item.branches,
        "namespace": {
            "id": 1000 + item.id,
            "name": namespace or path,
            "path": namespace or path,
            "kind": "group",
            "full_path": namespace or path,
            "web_url": f"{base_url}/groups/{namespace or path}",
        },
        "merge_requests_enabled": True,
        "only_allow_merge_if_all_discussions_are_resolved": False,
    }


def commit(base_url: str, item: Project, entry: Commit) -> dict[str, Any]:
    title = entry.message.splitlines()[0] if entry.message else ""
    return {
        "id": entry.sha,
        "short_id": entry.sha[:8],
        "title": title,
        "message": entry.message,
        "author_name": entry.author_name,
        "author_email": entry.author_email,
        "authored_date": entry.created_at,
        "committer_name": entry.author_name,
        "committer_email": entry.author_email,
        "committed_date": entry.created_at,
        "created_at": entry.created_at,
        "parent_ids": [entry.parent] if entry.parent else [],
        "web_url": f"{base_url}/{item.path_with_namespace}/-/commit/{entry.sha}",
    }


def commit_range(
    base_url: str, item: Project, head_sha: str, base_sha: str
) -> list[dict[str, Any]]:
    """Commits from `head_sha` back to (not including) `base_sha`, newest first."""
    commits = []
    sha: str | None = head_sha
    while sha and sha != base_sha:
        current = item.commits[sha]
        commits.append(commit(base_url, item, current))
        sha = current.parent
    return commits


def created_commit(
    base_url: str, state: GitLabState, item: Project, entry: Commit
) -> dict[str, Any]:
    """Commits API answer: the commit plus line stats and pipeline status."""
    diffs = state.diffs(item, entry.parent, entry.sha) if entry.parent else []
    additions = sum(_count(d, "+") for d in diffs)
    deletions = sum(_count(d, "-") for d in diffs)
    return {
        **commit(base_url, item, entry),
        "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions},
        "status": None,
        "last_pipeline": None,
        "project_id": item.id,
    }


def _count(diff: FileDiff, prefix: str) -> int:
    return sum(
        1
        for line in diff.diff.splitlines()
        if line.startswith(prefix) and not line.startswith("@@")
    )


def diff_refs(mr: MergeRequest) -> dict[str, str]:
    return mr.diff_refs()


def merge_request(base_url: str, state: GitLabState, mr: MergeRequest) -> dict[str, Any]:
    item = state.project(mr.project_id)
    author = state.user(mr.author_id)
    unresolved = [
        d for d in mr.discussions if any(n.resolvable and not n.resolved for n in d.notes)
    ]
    return {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": mr.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_at": mr.updated_at if mr.state == "merged" else None,
        "closed_at": mr.updated_at if mr.state == "closed" else None,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "author": user(base_url, author),
        "assignees": [],
        "reviewers": [],
        "source_project_id": mr.project_id,
        "target_project_id": mr.project_id,
        "labels": list(mr.labels),
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "merge_when_pipeline_succeeds": False,
        "merge_status": "can_be_merged",
        "detailed_merge_status": "draft_status" if mr.draft else "mergeable",
        "sha": mr.head_sha,
        "merge_commit_sha": None,
        "squash_commit_sha": None,
        "user_notes_count": sum(len(d.notes) for d in mr.discussions),
        "discussion_locked": None,
        "should_remove_source_branch": None,
        "force_remove_source_branch": False,
        "squash": False,
        "web_url": f"{base_url}/{item.path_with_namespace}/-/merge_requests/{mr.iid}",
        "references": {
            "short": f"!{mr.iid}",
            "relative": f"!{mr.iid}",
            "full": f"{item.path_with_namespace}!{mr.iid}",
        },
        "diff_refs": mr.diff_refs(),
        "blocking_discussions_resolved": not unresolved,
        "has_conflicts": False,
        "changes_count": str(len(state.mr_diffs(mr))),
        "first_contribution": False,
    }


def file_diff(entry: FileDiff) -> dict[str, Any]:
    """One item of `GET /merge_requests/:iid/diffs` (and of a version's `diffs`)."""
    pruned = entry.too_large or entry.collapsed
    return {
        "old_path": entry.old_path,
        "new_path": entry.new_path,
        "a_mode": "0" if entry.new_file else "100644",
        "b_mode": "0" if entry.deleted_file else "100644",
        "diff": "" if pruned else entry.diff,
        "new_file": entry.new_file,
        "renamed_file": entry.renamed_file,
        "deleted_file": entry.deleted_file,
        "generated_file": False,
        "too_large": entry.too_large,
        "collapsed": entry.collapsed,
    }


def version(mr: MergeRequest, entry: Version, file_count: int) -> dict[str, Any]:
    return {
        "id": entry.id,
        "head_commit_sha": entry.head_sha,
        "base_commit_sha": entry.base_sha,
        "start_commit_sha": entry.start_sha,
        "created_at": entry.created_at,
        "merge_request_id": mr.id,
        "state": "collected",
        "real_size": str(file_count),
        "patch_id_sha": hashlib.sha1(entry.head_sha.encode()).hexdigest(),
    }


def version_detail(
    base_url: str, state: GitLabState, mr: MergeRequest, entry: Version
) -> dict[str, Any]:
    item = state.project(mr.project_id)
    diffs = state.mr_diffs(mr, entry)
    return {
        **version(mr, entry, len(diffs)),
        "commits": commit_range(base_url, item, entry.head_sha, entry.base_sha),
        "diffs": [file_diff(d) for d in diffs],
    }


def public_position(position: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored position as the API shows it (the line code is kept internal)."""
    if not position:
        return None
    return {k: v for k, v in position.items() if k != "line_code"}


def note(base_url: str, state: GitLabState, mr: MergeRequest, entry: Note) -> dict[str, Any]:
    resolver = state.user(entry.resolved_by) if entry.resolved_by else None
    return {
        "id": entry.id,
        "type": entry.type,
        "body": entry.body,
        "attachment": None,
        "author": user(base_url, state.user(entry.author_id)),
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "system": entry.system,
        "noteable_id": mr.id,
        "noteable_type": "MergeRequest",
        "project_id": mr.project_id,
        "noteable_iid": mr.iid,
        "commit_id": None,
        "position": public_position(entry.position),
        "resolvable": entry.resolvable,
        "resolved": entry.resolved if entry.resolvable else False,
        "resolved_by": user(base_url, resolver) if resolver else None,
        "resolved_at": entry.resolved_at,
        "confidential": entry.internal,
        "internal": entry.internal,
        "imported": False,
        "imported_from": "none",
    }


def discussion(
    base_url: str, state: GitLabState, mr: MergeRequest, entry: Discussion
) -> dict[str, Any]:
    return {
        "id": entry.id,
        "individual_note": entry.individual_note,
        "notes": [note(base_url, state, mr, n) for n in entry.notes],
    }


EMPTY_POSITION: dict[str, Any] = {
    "base_sha": None,
    "start_sha": None,
    "head_sha": None,
    "old_path": None,
    "new_path": None,
    "position_type": "text",
    "old_line": None,
    "new_line": None,
    "line_range": None,
}


def draft_note(mr: MergeRequest, entry: DraftNote) -> dict[str, Any]:
    """A draft note; GitLab answers an all-null `position` for drafts without one."""
    return {
        "id": entry.id,
        "author_id": entry.author_id,
        "merge_request_id": mr.id,
        "resolve_discussion": entry.resolve_discussion,
        "discussion_id": entry.in_reply_to_discussion_id,
        "note": entry.note,
        "commit_id": entry.commit_id,
        "line_code": entry.line_code,
        "position": public_position(entry.position) or dict(EMPTY_POSITION),
    }


def member(base_url: str, who: User, access_level: int) -> dict[str, Any]:
    return {
        **user(base_url, who),
        "access_level": access_level,
        "created_at": "2026-01-01T00:00:00.000Z",
        "expires_at": None,
        "membership_state": "active",
    }


def protected_branch(entry: ProtectedBranch) -> dict[str, Any]:
    def level(value: int, kind: str) -> dict[str, Any]:
        return {
            "id": entry.id * 100 + value + (1 if kind == "merge" else 0),
            "access_level": value,
            "access_level_description": ACCESS_DESCRIPTIONS.get(value, str(value)),
            "user_id": None,
            "group_id": None,
        }

    users = [
        {
            "id": entry.id * 100 + 90 + index,
            "access_level": 40,
            "access_level_description": f"User {user_id}",
            "user_id": user_id,
            "group_id": None,
        }
        for index, user_id in enumerate(entry.push_user_ids)
    ]
    return {
        "id": entry.id,
        "name": entry.name,
        "push_access_levels": [level(entry.push_access_level, "push"), *users],
        "merge_access_levels": [level(entry.merge_access_level, "merge")],
        "unprotect_access_levels": [],
        "allow_force_push": False,
        "code_owner_approval_required": False,
    }


def branch(
    base_url: str, state: GitLabState, item: Project, name: str, viewer: User
) -> dict[str, Any]:
    head = item.commits[item.branches[name]]
    rules = state.protections(item, name)
    return {
        "name": name,
        "commit": commit(base_url, item, head),
        "merged": False,
        "protected": bool(rules),
        "developers_can_push": any(0 < r.push_access_level <= 30 for r in rules),
        "developers_can_merge": any(0 < r.merge_access_level <= 30 for r in rules),
        "can_push": state.can_push(item, viewer, name),
        "default": name == item.default_branch,
        "web_url": f"{base_url}/{item.path_with_namespace}/-/tree/{name}",
    }


def tree_entries(files: dict[str, str | bytes], path: str, recursive: bool) -> list[dict[str, Any]]:
    """Repository tree entries under `path`, directories first like GitLab."""
    prefix = path.strip("/") + "/" if path.strip("/") else ""
    blobs: list[dict[str, Any]] = []
    trees: dict[str, dict[str, Any]] = {}
    for file_path in sorted(files):
        if not file_path.startswith(prefix):
            continue
        rest = file_path[len(prefix) :]
        parts = rest.split("/")
        depth = len(parts) if recursive else 1
        for index in range(min(depth, len(parts) - 1)):
            directory = prefix + "/".join(parts[: index + 1])
            trees.setdefault(
                directory,
                {
                    "id": hashlib.sha1(("tree " + directory).encode()).hexdigest(),
                    "name": parts[index],
                    "type": "tree",
                    "path": directory,
                    "mode": "040000",
                },
            )
        if recursive or len(parts) == 1:
            blobs.append(
                {
                    "id": blob_id(files[file_path]),
                    "name": parts[-1],
                    "type": "blob",
                    "path": file_path,
                    "mode": "100644",
                }
            )
    return [trees[key] for key in sorted(trees)] + blobs


def repository_file(file_path: str, ref: str, content: str | bytes, sha: str) -> dict[str, Any]:
    data = content.encode() if isinstance(content, str) else content
    return {
        "file_name": file_path.rsplit("/", 1)[-1],
        "file_path": file_path,
        "size": len(data),
        "encoding": "base64",
        "content": base64.b64encode(data).decode(),
        "content_sha256": hashlib.sha256(data).hexdigest(),
        "ref": ref,
        "blob_id": blob_id(content),
        "commit_id": sha,
        "last_commit_id": sha,
        "execute_filemode": False,
    }
