"""GitLab webhook payloads and delivery headers, built from the fake's state.

Shapes follow GitLab's "Webhook events" documentation (Merge request events and Comment
events on a merge request): `object_kind`, `event_type`, `user`, `project`, `repository`,
`object_attributes` (with `action`, `oldrev` on pushes, `last_commit`, `draft`), `changes`,
`labels`, `assignees`, `reviewers`; for notes also `merge_request`. Web-side tests and the bench
post these to `/webhook` so the bot sees what GitLab would send for the fake's MRs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

from tests.fake_gitlab.payloads import public_position
from tests.fake_gitlab.state import GitLabState, MergeRequest, Project, User

MERGE_REQUEST_HOOK = "Merge Request Hook"
NOTE_HOOK = "Note Hook"
CONFIDENTIAL_NOTE_HOOK = "Confidential Note Hook"
"""The header of an internal note's delivery (GitLab: `confidential_note_hooks` scope)."""
SYSTEM_HOOK = "System Hook"
STATE_IDS = {"opened": 1, "closed": 2, "merged": 3, "locked": 4}


def _hook_time(stamp: str) -> str:
    """`2026-11-30T00:21:12.123Z` -> `2026-11-30 00:21:12 UTC`, the webhook payload format."""
    return stamp[:19].replace("T", " ") + " UTC"


def _user(who: User) -> dict[str, Any]:
    return {
        "id": who.id,
        "name": who.name,
        "username": who.username,
        "avatar_url": None,
        "email": "[REDACTED]",
    }


def _project(base_url: str, item: Project) -> dict[str, Any]:
    namespace, _, path = item.path_with_namespace.rpartition("/")
    web_url = f"{base_url}/{item.path_with_namespace}"
    return {
        "id": item.id,
        "name": path,
        "description": "",
        "web_url": web_url,
        "avatar_url": None,
        "git_ssh_url": f"git@fake-gitlab:{item.path_with_namespace}.git",
        "git_http_url": f"{web_url}.git",
        "namespace": namespace or path,
        "visibility_level": 0,
        "path_with_namespace": item.path_with_namespace,
        "default_branch": item.default_branch,
        "ci_config_path": "",
        "homepage": web_url,
        "url": f"{web_url}.git",
        "ssh_url": f"git@fake-gitlab:{item.path_with_namespace}.git",
        "http_url": f"{web_url}.git",
    }


def _repository(base_url: str, item: Project) -> dict[str, Any]:
    web_url = f"{base_url}/{item.path_with_namespace}"
    return {
        "name": item.path_with_namespace.rpartition("/")[2],
        "url": f"{web_url}.git",
        "description": "",
        "homepage": web_url,
    }


def _labels(item: Project, mr: MergeRequest) -> list[dict[str, Any]]:
    return [
        {
            "id": index + 1,
            "title": title,
            "color": "#428bca",
            "project_id": item.id,
            "created_at": mr.created_at,
            "updated_at": mr.created_at,
            "template": False,
            "description": None,
            "type": "ProjectLabel",
            "group_id": None,
        }
        for index, title in enumerate(mr.labels)
    ]


def _merge_request_attributes(
    state: GitLabState, base_url: str, item: Project, mr: MergeRequest
) -> dict[str, Any]:
    head = item.commits[mr.head_sha]
    web_url = f"{base_url}/{item.path_with_namespace}"
    unresolved = any(n.resolvable and not n.resolved for d in mr.discussions for n in d.notes)
    return {
        "id": mr.id,
        "iid": mr.iid,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "source_project_id": item.id,
        "author_id": mr.author_id,
        "assignee_ids": [],
        "assignee_id": None,
        "reviewer_ids": [],
        "title": mr.title,
        "created_at": _hook_time(mr.created_at),
        "updated_at": _hook_time(mr.updated_at),
        "last_edited_at": None,
        "last_edited_by_id": None,
        "milestone_id": None,
        "state_id": STATE_IDS.get(mr.state, 1),
        "state": mr.state,
        "blocking_discussions_resolved": not unresolved,
        "work_in_progress": mr.draft,
        "draft": mr.draft,
        "first_contribution": False,
        "merge_status": "can_be_merged",
        "target_project_id": item.id,
        "description": mr.description,
        "total_time_spent": 0,
        "time_change": 0,
        "human_total_time_spent": None,
        "human_time_change": None,
        "human_time_estimate": None,
        "url": f"{web_url}/-/merge_requests/{mr.iid}",
        "source": _project(base_url, item),
        "target": _project(base_url, item),
        "last_commit": {
            "id": head.sha,
            "message": head.message,
            "title": head.message.splitlines()[0] if head.message else "",
            "timestamp": head.created_at,
            "url": f"{web_url}/-/commit/{head.sha}",
            "author": {"name": head.author_name, "email": head.author_email},
        },
        "labels": _labels(item, mr),
        "detailed_merge_status": "draft_status" if mr.draft else "mergeable",
    }


def merge_request_hook(
    state: GitLabState,
    base_url: str,
    project: int | str,
    mr_iid: int,
    *,
    action: str = "open",
    user: int | str | None = None,
    oldrev: str | None = None,
    pushed: bool = False,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `Merge Request Hook` body for the MR as it is now.

    action: open, close, reopen, update, merge, approved, ... (GitLab's values).
    pushed: for `update` after `push()`: sets `oldrev` to the previous version's head.
    changes: the `changes` object, e.g. {"draft": {"previous": True, "current": False}}.
    """
    item = state.project(project)
    mr = state.merge_request(item.id, mr_iid)
    actor = state.user(user) if user is not None else state.user(mr.author_id)
    attributes = _merge_request_attributes(state, base_url, item, mr)
    attributes["action"] = action
    if pushed and oldrev is None and len(mr.versions) > 1:
        oldrev = mr.versions[-2].head_sha
    if oldrev is not None:
        attributes["oldrev"] = oldrev
    stamp = _hook_time(mr.updated_at)
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": _user(actor),
        "project": _project(base_url, item),
        "repository": _repository(base_url, item),
        "object_attributes": attributes,
        "labels": _labels(item, mr),
        "changes": changes if changes is not None else {"updated_at": {"current": stamp}},
        "assignees": [],
        "reviewers": [],
    }


def note_hook(
    state: GitLabState,
    base_url: str,
    project: int | str,
    mr_iid: int,
    note_id: int,
    *,
    action: str = "create",
) -> dict[str, Any]:
    """A `Note Hook` body for an existing note on the MR (see `FakeGitLab.add_note`)."""
    item = state.project(project)
    mr = state.merge_request(item.id, mr_iid)
    discussion, note = state.note(mr, note_id)
    author = state.user(note.author_id)
    web_url = f"{base_url}/{item.path_with_namespace}"
    merge_request = _merge_request_attributes(state, base_url, item, mr)
    return {
        "object_kind": "note",
        "event_type": "confidential_note" if note.internal else "note",
        "user": _user(author),
        "project_id": item.id,
        "project": _project(base_url, item),
        "repository": _repository(base_url, item),
        "object_attributes": {
            "id": note.id,
            "note": note.body,
            "noteable_type": "MergeRequest",
            "author_id": author.id,
            "created_at": _hook_time(note.created_at),
            "updated_at": _hook_time(note.updated_at),
            "project_id": item.id,
            "attachment": None,
            "line_code": (note.position or {}).get("line_code"),
            "commit_id": "",
            "noteable_id": mr.id,
            "system": note.system,
            "internal": note.internal,
            "st_diff": None,
            "discussion_id": discussion.id,
            "type": note.type,
            "position": public_position(note.position),
            "action": action,
            "url": f"{web_url}/-/merge_requests/{mr.iid}#note_{note.id}",
        },
        "merge_request": merge_request,
    }


def headers(
    event: str,
    *,
    token: str | None = None,
    idempotency_key: str | None = None,
    instance: str = "http://fake-gitlab.invalid",
) -> dict[str, str]:
    """Delivery headers GitLab sends: `X-Gitlab-Event`, `X-Gitlab-Token` (the hook's secret),
    event/webhook UUIDs and `Idempotency-Key` (kept identical across redeliveries)."""
    key = idempotency_key or str(uuid.uuid4())
    result = {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/18.6.0",
        "X-Gitlab-Event": event,
        "X-Gitlab-Instance": instance,
        "X-Gitlab-Webhook-UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, instance)),
        "X-Gitlab-Event-UUID": key,
        "Idempotency-Key": key,
    }
    if token is not None:
        result["X-Gitlab-Token"] = token
    return result


def signature_headers(
    body: bytes, signing_token: str, *, webhook_id: str, timestamp: int
) -> dict[str, str]:
    """Standard Webhooks signature headers for a signed GitLab webhook.

    `signing_token` is `whsec_<base64 key>`; the signature is the base64 HMAC-SHA256 of
    `{webhook-id}.{webhook-timestamp}.{body}` with the decoded key, sent as `v1,<signature>`.
    """
    key = base64.b64decode(signing_token.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{digest}",
    }
