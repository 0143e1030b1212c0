"""Authenticate, parse and classify GitLab webhook deliveries: pure functions, no I/O.

GitLab disables a hook after four failed deliveries in a row and never re-sends one by itself, so
the answers here follow one policy: a well-formed event the bot does not act on is *ignored* (2xx),
and only a misconfigured hook (wrong secret or signature, a body that is not a GitLab event) is
*rejected* (4xx). Nothing here reads a URL from the payload: the bot only ever calls the configured
GitLab.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from layerbot.celery_app import NOTE_TASK, REVIEW_TASK
from layerbot.commands import parse_command
from layerbot.settings import Settings

SIGNATURE_TOLERANCE_SECONDS = 5 * 60
"""Standard Webhooks: reject a ``webhook-timestamp`` further than this from our clock (replays)."""

MERGE_REQUEST_HOOK = "Merge Request Hook"
NOTE_HOOK = "Note Hook"
CONFIDENTIAL_NOTE_HOOK = "Confidential Note Hook"
"""Internal notes (and notes on confidential issues) reach hooks with "Confidential comments"."""
SYSTEM_HOOK = "System Hook"
"""An instance-wide system hook: merge request events arrive with this header, no comments."""
KNOWN_EVENTS = (MERGE_REQUEST_HOOK, NOTE_HOOK, CONFIDENTIAL_NOTE_HOOK, SYSTEM_HOOK)

_BOT_MARKER = re.compile(r"<!--\s*layerbot\b")
"""Every note the bot writes carries a hidden ``<!-- layerbot…`` marker; it never answers one."""
_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


class Rejected(Exception):
    """The delivery is refused with a 4xx; ``reason`` is a short, bounded metric label."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Ignored:
    """A well-formed event the bot does not act on (answered 2xx so GitLab keeps the hook)."""

    reason: str
    status: int = 200


@dataclass(frozen=True)
class Enqueue:
    """A task to enqueue: its name, small id arguments, a deterministic id and dedupe keys."""

    task: str
    args: tuple[int | str | bool | None, ...]
    task_id: str
    dedupe_keys: tuple[str, ...]
    project_id: int


Decision = Ignored | Enqueue


# --- authentication -----------------------------------------------------------------------------


def check_token(header: str | None, settings: Settings) -> None:
    """``X-Gitlab-Token`` against ``WEBHOOK_SECRET`` in constant time (skipped when unset)."""
    if not settings.webhook_secret:
        return
    given = (header or "").encode()
    if not hmac.compare_digest(given, settings.webhook_secret.encode()):
        raise Rejected(401, "bad_token", "missing or wrong X-Gitlab-Token")


def signing_key(token: str) -> bytes:
    """The HMAC key of a ``whsec_…`` signing token: the base64 part, decoded."""
    encoded = token.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("WEBHOOK_SIGNING_TOKEN must be whsec_ followed by base64") from None


def sign(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks ``v1`` signature of one delivery (also used by tests and benches)."""
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class SignatureHeaders:
    """The Standard Webhooks headers of one delivery (empty strings when absent)."""

    webhook_id: str
    timestamp: str
    signatures: str


def check_signature(headers: SignatureHeaders, body: bytes, key: bytes, now: float) -> None:
    """Verify ``webhook-signature`` over ``id.timestamp.body`` and reject stale timestamps."""
    webhook_id, timestamp, signatures = headers.webhook_id, headers.timestamp, headers.signatures
    if not (webhook_id and timestamp and signatures):
        raise Rejected(401, "bad_signature", "missing webhook-id/-timestamp/-signature headers")
    if not timestamp.isdigit():
        raise Rejected(401, "bad_signature", "webhook-timestamp is not a Unix time")
    if abs(now - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        raise Rejected(401, "stale_timestamp", "webhook-timestamp is too far from now")
    expected = sign(key, webhook_id, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, s.encode()) for s in signatures.split()):
        raise Rejected(401, "bad_signature", "webhook-signature does not match")


# --- payload shape ------------------------------------------------------------------------------


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise Rejected(400, "malformed_json", "body is not JSON") from None
    if not isinstance(payload, dict):
        raise Rejected(400, "invalid_payload", "body must be a JSON object")
    return payload


def _field(data: dict[str, Any], path: str, kind: type | tuple[type, ...]) -> Any:
    """``data[a][b]…`` for a dotted path, checked to be of ``kind``; 400 otherwise. (JSON objects
    parse to ``dict``: checking for ``dict`` rather than the ``Mapping`` ABC keeps this cheap.)"""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise Rejected(400, "invalid_payload", f"missing field {path}")
        value = value[part]
    # bool is an int subclass; GitLab never sends a boolean where an id belongs
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise Rejected(400, "invalid_payload", f"field {path} must be {names}")
    return value


def _optional(data: dict[str, Any], path: str, kind: type) -> Any:
    """Like :func:`_field` but ``None`` when absent or null."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    return _field(data, path, kind)


def _project_id(payload: dict[str, Any]) -> int:
    project_id: int = _field(payload, "project.id", int)
    if project_id <= 0:
        raise Rejected(400, "invalid_payload", "field project.id must be positive")
    return project_id


def _positive(payload: dict[str, Any], path: str) -> int:
    value: int = _field(payload, path, int)
    if value <= 0:
        raise Rejected(400, "invalid_payload", f"field {path} must be positive")
    return value


def _sha(payload: dict[str, Any], path: str) -> str:
    sha: str = _field(payload, path, str)
    if not _SHA.match(sha):
        raise Rejected(400, "invalid_payload", f"field {path} must be a commit sha")
    return sha


# --- classification -----------------------------------------------------------------------------


def classify(event: str | None, payload: dict[str, Any], settings: Settings) -> Decision:
    """What to do with one authenticated delivery (raises :class:`Rejected` for a bad shape)."""
    if event == MERGE_REQUEST_HOOK:
        return _merge_request(payload, settings)
    if event in (NOTE_HOOK, CONFIDENTIAL_NOTE_HOOK):
        return _note(payload, settings, confidential_hook=event == CONFIDENTIAL_NOTE_HOOK)
    if event == SYSTEM_HOOK:
        # system hooks send merge request events in the project hook's shape; the rest (push,
        # user, group events) carries `event_name` and is not the bot's business
        if payload.get("object_kind") == "merge_request":
            return _merge_request(payload, settings)
        return Ignored("system_event")
    return Ignored("unknown_event", status=202)


def _allowed(project_id: int, settings: Settings) -> bool:
    return not settings.allowed_projects or project_id in settings.allowed_projects


def _marked_ready(payload: dict[str, Any]) -> bool:
    changes = payload.get("changes")
    if not isinstance(changes, dict):
        return False
    for name in ("draft", "work_in_progress"):
        change = changes.get(name)
        if isinstance(change, dict) and change.get("previous") is True:
            return change.get("current") is False
    return False


def _review_trigger(payload: dict[str, Any]) -> str | None:
    """Why this MR event asks for a review, or ``None`` (title/label edits, close, merge,
    approvals, and any action GitLab adds later)."""
    action: str | None = _optional(payload, "object_attributes.action", str)
    state = _optional(payload, "object_attributes.state", str)
    if action in ("open", "reopen"):
        return action
    if action != "update" or state not in (None, "opened"):
        return None
    if _optional(payload, "object_attributes.oldrev", str):
        return "push"
    return "ready" if _marked_ready(payload) else None


def _is_draft(payload: dict[str, Any]) -> bool:
    attributes = payload.get("object_attributes")
    if not isinstance(attributes, dict):
        return False
    return attributes.get("draft") is True or attributes.get("work_in_progress") is True


def _head_sha(payload: dict[str, Any]) -> str | None:
    """The head commit, or ``None`` when GitLab sends ``"last_commit": null`` (a source branch
    without commits of its own, or deleted): the worker then reviews whatever the head is."""
    if _optional(payload, "object_attributes.last_commit", dict) is None:
        return None
    return _sha(payload, "object_attributes.last_commit.id")


def _occurrence(payload: dict[str, Any]) -> str:
    """What tells one reopen (or one "ready") from a later one at the same commit: GitLab's
    ``updated_at`` of the event, the same in a redelivery of it."""
    stamp = _optional(payload, "object_attributes.updated_at", str) or ""
    return hashlib.sha256(stamp.encode()).hexdigest()[:12]


def _merge_request(payload: dict[str, Any], settings: Settings) -> Decision:
    project_id = _project_id(payload)
    mr_iid = _positive(payload, "object_attributes.iid")
    trigger = _review_trigger(payload)
    if not _allowed(project_id, settings):
        return Ignored("project_not_allowed")
    if trigger is None:
        return Ignored("mr_action")
    if not settings.review_drafts and _is_draft(payload):
        return Ignored("draft")
    head_sha = _head_sha(payload)
    review = f"{project_id}-{mr_iid}-{head_sha or 'head'}"
    if trigger in ("reopen", "ready") or head_sha is None:
        # reviewed again even at a commit already reviewed: a new key per occurrence
        review += f"-{trigger}-{_occurrence(payload)}"
    return Enqueue(
        task=REVIEW_TASK,
        args=(project_id, mr_iid, head_sha),
        task_id=f"review-{review}",
        dedupe_keys=(f"review:{review.replace('-', ':')}",),
        project_id=project_id,
    )


def _note(payload: dict[str, Any], settings: Settings, *, confidential_hook: bool) -> Decision:
    project_id = _project_id(payload)
    noteable = _field(payload, "object_attributes.noteable_type", str)
    note_id = _positive(payload, "object_attributes.id")
    note = _field(payload, "object_attributes.note", str)
    if not _allowed(project_id, settings):
        return Ignored("project_not_allowed")
    if noteable != "MergeRequest":
        return Ignored("note_not_on_mr")
    mr_iid = _positive(payload, "merge_request.iid")
    if _optional(payload, "object_attributes.system", bool):
        return Ignored("system_note")
    if _BOT_MARKER.search(note):
        return Ignored("own_note")
    if _optional(payload, "object_attributes.action", str) not in (None, "create"):
        return Ignored("note_edited")
    if parse_command(note) is None:  # the worker checks the mention is the bot
        return Ignored("not_a_command")
    # an internal note is answered internally: the answer may quote what the note said
    internal = confidential_hook or bool(_optional(payload, "object_attributes.internal", bool))
    return Enqueue(
        task=NOTE_TASK,
        args=(project_id, mr_iid, note_id, internal),
        task_id=f"note-{project_id}-{note_id}",
        dedupe_keys=(f"note:{project_id}:{note_id}",),
        project_id=project_id,
    )
