"""Webhook deliveries shaped like GitLab's "Webhook events" documentation (merge request, comment).

Only the fields a receiver reads plus enough of the rest to be realistic; the URLs point at hosts
the bot must never call.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import uuid
from typing import Any

from bot.webhook import sign

SECRET = "s3cret-token"
SIGNING_KEY = b"signing-key-of-32-bytes-exactly!"
SIGNING_TOKEN = "whsec_c2lnbmluZy1rZXktb2YtMzItYnl0ZXMtZXhhY3RseSE="


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def _project(project_id: int) -> dict[str, Any]:
    return {
        "id": project_id,
        "name": "service",
        "web_url": "http://evil.example/group/service",
        "git_http_url": "http://evil.example/group/service.git",
        "namespace": "group",
        "path_with_namespace": "group/service",
        "default_branch": "main",
    }


def _user(user_id: int = 7, username: str = "alice") -> dict[str, Any]:
    return {"id": user_id, "name": username.title(), "username": username, "email": "[REDACTED]"}


def merge_request_event(
    action: str = "open",
    *,
    project_id: int = 42,
    iid: int = 3,
    head: str | None = None,
    oldrev: str | None = None,
    state: str = "opened",
    changes: dict[str, Any] | None = None,
    draft: bool = False,
    updated_at: str = "2026-11-30 00:00:00 UTC",
) -> dict[str, Any]:
    head = head or sha(f"head-{iid}")
    attributes: dict[str, Any] = {
        "id": 9000 + iid,
        "iid": iid,
        "target_branch": "main",
        "source_branch": "feature",
        "source_project_id": project_id,
        "target_project_id": project_id,
        "title": "Speed up the build",
        "state": state,
        "draft": draft,
        "work_in_progress": draft,
        "updated_at": updated_at,
        "merge_status": "unchecked",
        "url": f"http://evil.example/group/service/-/merge_requests/{iid}",
        "last_commit": {
            "id": head,
            "message": "build: copy go.mod first",
            "timestamp": "2026-11-30T00:00:00+00:00",
            "url": f"http://evil.example/group/service/-/commit/{head}",
            "author": {"name": "Alice", "email": "[REDACTED]"},
        },
        "action": action,
    }
    if oldrev is not None:
        attributes["oldrev"] = oldrev
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": _user(),
        "project": _project(project_id),
        "object_attributes": attributes,
        "labels": [],
        "changes": changes or {},
        "repository": {"name": "service", "url": "git@evil.example:group/service.git"},
    }


def note_event(
    note: str,
    *,
    project_id: int = 42,
    note_id: int = 501,
    noteable_type: str = "MergeRequest",
    iid: int = 3,
    system: bool = False,
    internal: bool = False,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "object_kind": "note",
        "event_type": "confidential_note" if internal else "note",
        "user": _user(8, "bob"),
        "project_id": project_id,
        "project": _project(project_id),
        "object_attributes": {
            "id": note_id,
            "note": note,
            "noteable_type": noteable_type,
            "author_id": 8,
            "project_id": project_id,
            "system": system,
            "internal": internal,
            "discussion_id": uuid.uuid5(uuid.NAMESPACE_OID, str(note_id)).hex,
            "type": None,
            "url": f"http://evil.example/group/service/-/merge_requests/{iid}#note_{note_id}",
            "action": "create",
        },
        "repository": {"name": "service", "url": "git@evil.example:group/service.git"},
    }
    if noteable_type == "MergeRequest":
        payload["merge_request"] = merge_request_event(project_id=project_id, iid=iid)[
            "object_attributes"
        ]
    elif noteable_type == "Issue":
        payload["issue"] = {"id": 77, "iid": 5, "title": "Bug", "state": "opened"}
    elif noteable_type == "Snippet":
        payload["snippet"] = {"id": 53, "title": "snippet"}
    elif noteable_type == "Commit":
        payload["commit"] = {"id": sha("commit"), "message": "fix"}
    return payload


def headers(
    event: str,
    *,
    token: str | None = SECRET,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    result = {"X-Gitlab-Event": event, "Content-Type": "application/json"}
    if token is not None:
        result["X-Gitlab-Token"] = token
    if idempotency_key is not None:
        result["Idempotency-Key"] = idempotency_key
    return result


def signed_headers(
    event: str,
    body: bytes,
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
    key: bytes = SIGNING_KEY,
    token: str | None = SECRET,
) -> dict[str, str]:
    """Headers of a GitLab signed delivery: ``webhook-id`` equals the ``Idempotency-Key``."""
    webhook_id = webhook_id or str(uuid.uuid4())
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        **headers(event, token=token, idempotency_key=webhook_id),
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": sign(key, webhook_id, stamp, body),
    }


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def variant(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``payload`` with the dotted ``path`` set to ``value`` (or removed: ...)."""
    result = copy.deepcopy(payload)
    node = result
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return result
