"""Property test: generated deliveries never get a 5xx, never raise, never enqueue when refused.

``LAYERBOT_WEBHOOK_EXAMPLES`` sets how many requests are generated (default 1,000; issue 7's
hardening run uses 10,000 or more).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.webhook import sign
from layerbot.settings import Settings
from tests.web.conftest import embedded_messages
from tests.web.openapi import check_response
from tests.web.payloads import (
    SECRET,
    SIGNING_KEY,
    SIGNING_TOKEN,
    merge_request_event,
    note_event,
    sha,
)

EXAMPLES = int(os.environ.get("LAYERBOT_WEBHOOK_EXAMPLES", "1000"))
MAX_BODY = 4096
READY = {"previous": True, "current": False}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


@st.composite
def mutated_event(draw: st.DrawFn) -> dict[str, Any]:
    """A realistic MR or note event with a few fields replaced by arbitrary JSON or removed."""
    base = draw(
        st.sampled_from(
            [
                merge_request_event("open", head=sha(str(draw(st.integers(0, 50))))),
                merge_request_event("update", oldrev=sha("old")),
                merge_request_event(
                    "update", changes={"draft": {"previous": True, "current": False}}
                ),
                merge_request_event("close", state="closed"),
                note_event("@layerbot recheck", note_id=draw(st.integers(1, 50))),
                note_event("hello", noteable_type="Issue"),
            ]
        )
    )
    event: dict[str, Any] = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return event


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, str | None, str, bytes]:
    """(X-Gitlab-Event, X-Gitlab-Token, signature kind, body), mostly authentic GitLab events
    with mutated payloads so the deeper branches are reached, plus junk of every other kind."""
    shape = draw(st.integers(0, 9))
    if shape <= 5:
        payload = draw(mutated_event())
        event = "Note Hook" if payload.get("object_kind") == "note" else "Merge Request Hook"
        body = json.dumps(payload).encode()
    elif shape == 6:
        event, body = draw(st.sampled_from(KNOWN)), json.dumps(draw(json_values)).encode()
    elif shape == 7:
        event, body = draw(st.sampled_from(KNOWN)), draw(st.binary(max_size=64))
    elif shape == 8:
        event = draw(st.sampled_from(["Push Hook", "System Hook", ""]) | header_text)
        body = draw(st.binary(max_size=64))
    else:
        event = draw(st.sampled_from(KNOWN))
        body = draw(st.binary(min_size=MAX_BODY - 8, max_size=MAX_BODY + 8))
    token = draw(st.sampled_from([SECRET, SECRET, SECRET, SECRET, SECRET, "wrong", None]))
    signature = draw(st.sampled_from(["valid", "valid", "valid", "stale", "tampered", "missing"]))
    return event, token, signature, body


KNOWN = ["Merge Request Hook", "Note Hook"]
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20)


def _headers(event: str, token: str | None, signature: str, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if event:
        headers["X-Gitlab-Event"] = event
    if token is not None:
        headers["X-Gitlab-Token"] = token
    if signature != "missing":
        stamp = str(int(time.time()) - (3600 if signature == "stale" else 0))
        signed = body + (b"!" if signature == "tampered" else b"")
        headers |= {
            "webhook-id": "id-1",
            "webhook-timestamp": stamp,
            "webhook-signature": sign(SIGNING_KEY, "id-1", stamp, signed),
        }
    return headers


Clients = dict[bool, tuple[FlaskClient, Settings]]


@pytest.fixture
def clients(tmp_path: Path) -> Clients:
    """One app with only the secret token, one that also requires signatures."""
    built: Clients = {}
    for signed in (False, True):
        config = Settings(
            webhook_secret=SECRET,
            webhook_signing_token=SIGNING_TOKEN if signed else "",
            data_dir=tmp_path / ("signed" if signed else "plain"),
            max_body_bytes=MAX_BODY,
        )
        app = create_app(config)
        app.testing = True  # an unhandled exception propagates and fails the test
        built[signed] = (app.test_client(), config)
    return built


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(signed=st.booleans(), delivery=deliveries())
def test_generated_deliveries(
    clients: Clients, signed: bool, delivery: tuple[str, str | None, str, bytes]
) -> None:
    event, token, signature, body = delivery
    client, config = clients[signed]
    before = len(embedded_messages(config))
    response = client.post("/webhook", data=body, headers=_headers(event, token, signature, body))
    added = len(embedded_messages(config)) - before
    answer = response.get_json()
    event_kind = answer["status"] + str(response.status_code)
    hypothesis.event(event_kind)
    assert response.status_code < 500
    check_response("/webhook", "post", response.status_code, answer)
    assert answer["status"] in ("queued", "duplicate", "ignored", "rejected")
    assert added == (1 if answer["status"] == "queued" else 0)
    if response.status_code >= 400:
        assert answer["status"] == "rejected"
    refused = token != SECRET or (signed and signature != "valid") or len(body) > MAX_BODY
    if refused:
        assert response.status_code in (401, 413)
