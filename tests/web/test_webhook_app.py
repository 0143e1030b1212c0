"""The webhook's branching through the real app (Flask test client, embedded filesystem queue)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from layerbot.celery_app import NOTE_TASK, REVIEW_TASK
from layerbot.settings import SettingsError
from tests.web import payloads
from tests.web.payloads import (
    SIGNING_TOKEN,
    body,
    headers,
    merge_request_event,
    note_event,
    sha,
    signed_headers,
    variant,
)

Queued = Callable[[], list[dict[str, Any]]]
MR = "Merge Request Hook"
READY = {"previous": True, "current": False}
BACK_TO_DRAFT = {"previous": False, "current": True}


def post(client: FlaskClient, event: str, payload: Any, **header_options: Any) -> Any:
    return client.post("/webhook", data=body(payload), headers=headers(event, **header_options))


def test_open_merge_request_enqueues_a_review_by_task_name_with_ids_only(
    client: FlaskClient, queued: Queued
) -> None:
    head = sha("open")
    response = post(client, MR, merge_request_event("open", project_id=42, iid=3, head=head))
    assert response.status_code == 202
    assert response.get_json() == {"status": "queued", "task_id": f"review-42-3-{head}"}
    assert queued() == [
        {"task": REVIEW_TASK, "id": f"review-42-3-{head}", "args": [42, 3, head], "kwargs": {}}
    ]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (merge_request_event("reopen"), 202),
        (merge_request_event("update", oldrev=sha("before")), 202),
        (merge_request_event("update", changes={"draft": READY}), 202),
        (merge_request_event("update", changes={"title": {"previous": "a", "current": "b"}}), 200),
        (merge_request_event("update", changes={"labels": {"previous": [], "current": []}}), 200),
        (merge_request_event("update", changes={"draft": BACK_TO_DRAFT}), 200),
        (merge_request_event("close", state="closed"), 200),
        (merge_request_event("merge", state="merged"), 200),
        (merge_request_event("approved"), 200),
        (merge_request_event("update", oldrev=sha("x"), state="closed"), 200),
    ],
    ids=[
        "reopen",
        "push",
        "ready",
        "title",
        "labels",
        "back-to-draft",
        "close",
        "merge",
        "approved",
        "push-to-closed",
    ],
)
def test_which_merge_request_actions_trigger_a_review(
    client: FlaskClient, queued: Queued, event: dict[str, Any], expected: int
) -> None:
    response = post(client, MR, event)
    assert response.status_code == expected, response.get_json()
    assert len(queued()) == (1 if expected == 202 else 0)
    if expected == 200:
        assert response.get_json() == {"status": "ignored", "reason": "mr_action"}


def test_wrong_or_missing_token_is_401_and_enqueues_nothing(
    client: FlaskClient, queued: Queued, caplog: pytest.LogCaptureFixture
) -> None:
    event = merge_request_event("open", head=sha("secret-body-marker"))
    assert post(client, MR, event, token="wrong").status_code == 401
    assert post(client, MR, event, token=None).status_code == 401
    assert queued() == []
    assert "secret-body-marker" not in caplog.text
    assert payloads.SECRET not in caplog.text


def test_body_over_the_cap_is_413(make_app: Callable[..., Flask], queued: Queued) -> None:
    client = make_app(max_body_bytes=2048).test_client()
    event = merge_request_event("open")
    event["object_attributes"]["description"] = "x" * 4096
    response = post(client, MR, event)
    assert response.status_code == 413
    assert queued() == []


def test_body_over_the_cap_without_content_length_is_413(
    make_app: Callable[..., Flask], queued: Queued
) -> None:
    client = make_app(max_body_bytes=2048).test_client()
    event = merge_request_event("open")
    event["object_attributes"]["description"] = "x" * 4096
    response = client.post(
        "/webhook",
        input_stream=io.BytesIO(body(event)),
        headers=headers(MR),
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert response.status_code == 413
    assert response.get_json() == {"status": "rejected", "reason": "body larger than 2048 bytes"}
    assert queued() == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "body is not JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (body(variant(merge_request_event(), "object_attributes.iid", "3")), "must be int"),
        (body(variant(merge_request_event(), "object_attributes.iid", True)), "must be int"),
        (body(variant(merge_request_event(), "project", ...)), "missing field project.id"),
        (body(variant(merge_request_event(), "object_attributes.last_commit", "abc")), "must be"),
        (body(variant(merge_request_event(), "object_attributes.last_commit.id", "HEAD")), "sha"),
        (body(variant(merge_request_event(), "project.id", -1)), "positive"),
    ],
)
def test_malformed_payloads_are_400_with_a_short_reason(
    client: FlaskClient, queued: Queued, raw: bytes, reason: str
) -> None:
    response = client.post("/webhook", data=raw, headers=headers(MR))
    assert response.status_code == 400
    assert reason in response.get_json()["reason"]
    assert queued() == []


def test_extra_fields_are_fine(client: FlaskClient, queued: Queued) -> None:
    event = merge_request_event("open")
    event["something_new"] = {"nested": [1, 2, 3]}
    assert post(client, MR, event).status_code == 202
    assert len(queued()) == 1


def test_unknown_event_is_202_ignored_even_with_a_non_json_body(
    client: FlaskClient, queued: Queued
) -> None:
    response = client.post("/webhook", data=b"\x00\xff", headers=headers("Pipeline Hook"))
    assert response.status_code == 202
    assert response.get_json() == {"status": "ignored", "reason": "unknown_event"}
    assert queued() == []


def test_projects_off_the_allow_list_are_ignored_with_2xx(
    make_app: Callable[..., Flask], queued: Queued
) -> None:
    client = make_app(allowed_projects=frozenset({1, 2})).test_client()
    response = post(client, MR, merge_request_event("open", project_id=42))
    assert response.status_code == 200
    assert response.get_json()["reason"] == "project_not_allowed"
    assert post(client, MR, merge_request_event("open", project_id=2)).status_code == 202
    assert [message["args"][0] for message in queued()] == [2]


def test_the_gitlab_url_is_never_taken_from_the_payload(
    client: FlaskClient, queued: Queued
) -> None:
    post(client, MR, merge_request_event("open"))
    (message,) = queued()
    assert all("evil.example" not in str(arg) for arg in message["args"])


@pytest.mark.parametrize(
    "note",
    [
        "@layerbot recheck",
        "Thanks!\n@layerbot ignore dependency-layer-order",
        "@layerbot: apply all",
        "@layerbot help",
    ],
)
def test_a_note_addressing_the_bot_with_a_command_enqueues_a_note_task(
    client: FlaskClient, queued: Queued, note: str
) -> None:
    response = post(client, "Note Hook", note_event(note, project_id=42, note_id=501, iid=3))
    assert response.status_code == 202
    expected = {"task": NOTE_TASK, "id": "note-42-501", "args": [42, 3, 501, False], "kwargs": {}}
    assert queued() == [expected]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (note_event("@layerbot recheck", noteable_type="Issue"), "note_not_on_mr"),
        (note_event("@layerbot recheck", noteable_type="Snippet"), "note_not_on_mr"),
        (note_event("@layerbot recheck", noteable_type="Commit"), "note_not_on_mr"),
        (note_event("Looks good to me"), "not_a_command"),
        (note_event("please @layerbot recheck later"), "not_a_command"),
        (note_event("@layerbot recheck\n<!-- layerbot:summary -->"), "own_note"),
        (note_event("@layerbot recheck", system=True), "system_note"),
    ],
)
def test_notes_the_bot_does_not_act_on_are_ignored_with_200(
    client: FlaskClient, queued: Queued, event: dict[str, Any], reason: str
) -> None:
    response = post(client, "Note Hook", event)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored", "reason": reason}
    assert queued() == []


def test_redelivery_of_the_same_push_is_enqueued_once(client: FlaskClient, queued: Queued) -> None:
    event = merge_request_event("update", oldrev=sha("old"), head=sha("new"))
    first = post(client, MR, event, idempotency_key="delivery-1")
    again = post(client, MR, event, idempotency_key="delivery-1")
    other_delivery_same_push = post(client, MR, event, idempotency_key="delivery-2")
    assert (first.status_code, again.status_code, other_delivery_same_push.status_code) == (
        202,
        200,
        200,
    )
    assert again.get_json()["status"] == "duplicate"
    assert len(queued()) == 1
    newer = merge_request_event("update", oldrev=sha("new"), head=sha("newer"))
    assert post(client, MR, newer, idempotency_key="delivery-3").status_code == 202
    assert [m["args"][2] for m in queued()] == [sha("new"), sha("newer")]


def test_dedupe_holds_across_app_instances_sharing_the_data_dir(
    make_app: Callable[..., Flask], queued: Queued
) -> None:
    event = merge_request_event("open")
    assert post(make_app().test_client(), MR, event).status_code == 202
    assert post(make_app().test_client(), MR, event).status_code == 200
    assert len(queued()) == 1


def test_signed_delivery_is_verified(make_app: Callable[..., Flask], queued: Queued) -> None:
    client = make_app(webhook_signing_token=SIGNING_TOKEN).test_client()
    raw = body(merge_request_event("open"))
    assert client.post("/webhook", data=raw, headers=signed_headers(MR, raw)).status_code == 202
    assert len(queued()) == 1


@pytest.mark.parametrize(
    "tamper",
    ["body", "key", "stale", "future", "missing", "not-a-time"],
)
def test_bad_signatures_are_401(
    make_app: Callable[..., Flask], queued: Queued, tamper: str
) -> None:
    client = make_app(webhook_signing_token=SIGNING_TOKEN).test_client()
    raw = body(merge_request_event("open"))
    now = int(time.time())
    signed = {
        "body": signed_headers(MR, raw + b" "),
        "key": signed_headers(MR, raw, key=b"another key"),
        "stale": signed_headers(MR, raw, timestamp=now - 301),
        "future": signed_headers(MR, raw, timestamp=now + 301),
        "missing": headers(MR),
        "not-a-time": {**signed_headers(MR, raw), "webhook-timestamp": "yesterday"},
    }[tamper]
    response = client.post("/webhook", data=raw, headers=signed)
    assert response.status_code == 401
    assert queued() == []


def test_signature_only_hook_without_secret_token(
    make_app: Callable[..., Flask], queued: Queued
) -> None:
    client = make_app(webhook_secret="", webhook_signing_token=SIGNING_TOKEN).test_client()
    raw = body(merge_request_event("open"))
    response = client.post("/webhook", data=raw, headers=signed_headers(MR, raw, token=None))
    assert response.status_code == 202


def test_an_app_without_any_secret_refuses_to_start(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET"):
        make_app(webhook_secret="")
    with pytest.raises(SettingsError, match="whsec_"):
        make_app(webhook_signing_token="whsec_not base64!")


def test_healthz_reports_queue_spool_and_a_flagged_gitlab_auth_failure(
    client: FlaskClient, app: Flask
) -> None:
    from layerbot.health import clear_gitlab_auth_failure, record_gitlab_auth_failure

    settings = app.extensions["layerbot"].settings
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "broker": "ok",
        "spool": {"writable": True, "pending": 0},
        "gitlab_auth": "ok",
    }
    record_gitlab_auth_failure(settings, "401 Unauthorized from GET /user")
    flagged = client.get("/healthz").get_json()
    assert flagged["status"] == "degraded"
    assert flagged["gitlab_auth"] == "failed: 401 Unauthorized from GET /user"
    clear_gitlab_auth_failure(settings)
    assert client.get("/healthz").get_json()["gitlab_auth"] == "ok"


def test_metrics_count_received_ignored_rejected_and_enqueued(client: FlaskClient) -> None:
    post(client, MR, merge_request_event("open"))
    post(client, MR, merge_request_event("open"))
    post(client, MR, merge_request_event("close", state="closed"))
    post(client, MR, merge_request_event("open"), token="nope")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'layerbot_webhook_events_received_total{event="merge_request"} 4.0' in text
    assert 'layerbot_webhook_events_ignored_total{reason="mr_action"} 1.0' in text
    assert 'layerbot_webhook_events_rejected_total{reason="bad_token"} 1.0' in text
    assert "layerbot_webhook_events_duplicate_total 1.0" in text
    assert f'layerbot_tasks_enqueued_total{{task="{REVIEW_TASK}",via="request"}} 1.0' in text
    assert "layerbot_spool_pending 0.0" in text


def test_a_signed_redelivery_without_idempotency_key_is_known_by_its_webhook_id(
    make_app: Callable[..., Flask], queued: Queued
) -> None:
    client = make_app(webhook_signing_token=SIGNING_TOKEN).test_client()
    first = body(merge_request_event("update", oldrev=sha("a"), head=sha("b")))
    signed = signed_headers(MR, first, webhook_id="msg_1")
    del signed["Idempotency-Key"]
    assert client.post("/webhook", data=first, headers=signed).status_code == 202
    # same delivery id, another push: only a delivery key can tell it is a redelivery
    other = body(merge_request_event("update", oldrev=sha("b"), head=sha("c")))
    resigned = signed_headers(MR, other, webhook_id="msg_1")
    del resigned["Idempotency-Key"]
    assert client.post("/webhook", data=other, headers=resigned).get_json()["status"] == "duplicate"
    assert len(queued()) == 1
