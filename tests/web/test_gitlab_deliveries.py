"""Deliveries a real GitLab sends are answered 2xx (issue 12, point 6), through the real app.

GitLab disables a hook after four failing deliveries in a row and for good after 40, so each
shape below would, answered 4xx, end with an install that silently does nothing: an MR event
with `"last_commit": null`, actions GitLab added later, bodies far over 1 MiB (an MR description
may be 1 MB and an update repeats it in `changes`), internal notes ("Confidential Note Hook"),
and an instance-wide system hook.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from layerbot.celery_app import NOTE_TASK, REVIEW_TASK
from layerbot.settings import Settings
from tests.web.live import ROOT
from tests.web.payloads import body, headers, merge_request_event, note_event, sha

Queued = Callable[[], list[dict[str, Any]]]
MR = "Merge Request Hook"
READY = {"previous": True, "current": False}


def post(client: FlaskClient, event: str, payload: Any, **options: Any) -> Any:
    return client.post("/webhook", data=body(payload), headers=headers(event, **options))


def test_merge_request_event_without_a_last_commit_reviews_the_current_head(
    client: FlaskClient, queued: Queued
) -> None:
    event = merge_request_event("open", project_id=42, iid=3)
    event["object_attributes"]["last_commit"] = None
    response = post(client, MR, event)
    assert response.status_code == 202, response.get_json()
    [message] = queued()
    assert message["task"] == REVIEW_TASK
    assert message["args"] == [42, 3, None]


@pytest.mark.parametrize("action", ["approval", "unapproval", "unapproved", "frobnicate", None])
def test_actions_that_do_not_review_are_answered_200(
    client: FlaskClient, queued: Queued, action: str | None
) -> None:
    event = merge_request_event("update")
    if action is None:
        del event["object_attributes"]["action"]
    else:
        event["object_attributes"]["action"] = action
    response = post(client, MR, event)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored", "reason": "mr_action"}
    assert queued() == []


def test_a_body_of_several_mebibytes_is_accepted_by_default(
    make_app: Callable[..., Flask], queued: Queued
) -> None:
    description = "A long release note.\n" * 52_000  # just over 1 MB, GitLab's own cap
    event = merge_request_event("update", oldrev=sha("before"))
    event["object_attributes"]["description"] = description
    event["changes"] = {"description": {"previous": description, "current": description + "."}}
    raw = body(event)
    assert len(raw) > 3 * 1024 * 1024
    client = make_app(max_body_bytes=Settings().max_body_bytes).test_client()
    response = client.post("/webhook", data=raw, headers=headers(MR))
    assert response.status_code == 202, response.get_json()
    assert len(queued()) == 1


def test_the_default_cap_is_25_mib_and_read_no_further(
    make_app: Callable[..., Flask], queued: Queued
) -> None:
    assert Settings().max_body_bytes == 25 * 1024 * 1024
    assert Settings.from_env({"MAX_BODY_BYTES": "4096"}).max_body_bytes == 4096
    client = make_app(max_body_bytes=4096).test_client()
    event = merge_request_event("open")
    event["object_attributes"]["description"] = "x" * 8192
    assert post(client, MR, event).status_code == 413
    assert queued() == []


def test_an_internal_note_is_a_command_answered_internally(
    client: FlaskClient, queued: Queued
) -> None:
    internal = note_event("@layerbot help", project_id=42, note_id=601, iid=3, internal=True)
    response = post(client, "Confidential Note Hook", internal)
    assert response.status_code == 202, response.get_json()
    public = note_event("@layerbot help", project_id=42, note_id=602, iid=3)
    assert post(client, "Note Hook", public).status_code == 202
    assert [(m["task"], m["args"]) for m in queued()] == [
        (NOTE_TASK, [42, 3, 601, True]),
        (NOTE_TASK, [42, 3, 602, False]),
    ]


def test_the_internal_attribute_alone_marks_a_note_internal(
    client: FlaskClient, queued: Queued
) -> None:
    note = note_event("@layerbot recheck", project_id=42, note_id=603, internal=True)
    assert post(client, "Note Hook", note).status_code == 202
    assert queued()[0]["args"] == [42, 3, 603, True]


def test_a_system_hook_merge_request_event_is_reviewed(client: FlaskClient, queued: Queued) -> None:
    head = sha("system-hook")
    response = post(client, "System Hook", merge_request_event("open", project_id=77, head=head))
    assert response.status_code == 202, response.get_json()
    assert queued()[0]["args"] == [77, 3, head]


@pytest.mark.parametrize(
    "payload",
    [
        {"event_name": "push", "project_id": 77, "ref": "refs/heads/main"},
        {"event_name": "repository_update", "project_id": 77, "changes": []},
        {"event_name": "user_create", "user_id": 41, "username": "js"},
    ],
    ids=["push", "repository_update", "user_create"],
)
def test_other_system_hook_events_are_answered_200(
    client: FlaskClient, queued: Queued, payload: dict[str, Any]
) -> None:
    response = post(client, "System Hook", payload)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored", "reason": "system_event"}
    assert queued() == []


def test_reopen_and_ready_review_again_at_an_already_reviewed_commit(
    client: FlaskClient, queued: Queued
) -> None:
    head = sha("same-head")
    opened = merge_request_event("open", head=head, updated_at="2026-12-01 10:00:00 UTC")
    reopened = merge_request_event("reopen", head=head, updated_at="2026-12-01 11:00:00 UTC")
    again = merge_request_event("reopen", head=head, updated_at="2026-12-01 12:00:00 UTC")
    ready = merge_request_event(
        "update", head=head, changes={"draft": READY}, updated_at="2026-12-01 13:00:00 UTC"
    )
    answers = [post(client, MR, event).get_json()["status"] for event in (opened, reopened)]
    answers.append(post(client, MR, reopened).get_json()["status"])  # GitLab re-sends it
    answers += [post(client, MR, event).get_json()["status"] for event in (again, ready)]
    assert answers == ["queued", "queued", "duplicate", "queued", "queued"]
    messages = queued()
    assert [m["args"] for m in messages] == [[42, 3, head]] * 4
    assert len({m["id"] for m in messages}) == 4


def test_drafts_are_reviewed_by_default(client: FlaskClient, queued: Queued) -> None:
    assert Settings().review_drafts is True
    response = post(client, MR, merge_request_event("open", draft=True))
    assert response.status_code == 202
    assert len(queued()) == 1


def test_review_drafts_off_waits_for_ready(make_app: Callable[..., Flask], queued: Queued) -> None:
    settings = Settings.from_env({"REVIEW_DRAFTS": "false"})
    client = make_app(review_drafts=settings.review_drafts).test_client()
    head = sha("draft-head")
    draft = post(client, MR, merge_request_event("open", head=head, draft=True))
    assert draft.status_code == 200
    assert draft.get_json() == {"status": "ignored", "reason": "draft"}
    pushed = merge_request_event("update", head=head, oldrev=sha("older"), draft=True)
    assert post(client, MR, pushed).get_json() == {"status": "ignored", "reason": "draft"}
    ready = post(client, MR, merge_request_event("update", head=head, changes={"draft": READY}))
    assert ready.status_code == 202
    assert [m["args"] for m in queued()] == [[42, 3, head]]


def test_review_drafts_must_be_a_boolean() -> None:
    from layerbot.settings import SettingsError

    with pytest.raises(SettingsError, match="REVIEW_DRAFTS"):
        Settings.from_env({"REVIEW_DRAFTS": "sometimes"})


def _layerbot_rule(name: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "layerbot.cli", "rule", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_rule_pages_serve_the_text_of_layerbot_rule(client: FlaskClient) -> None:
    expected = _layerbot_rule("dependency-layer-order")
    markdown = client.get("/rules/dependency-layer-order.md")
    assert markdown.status_code == 200
    assert markdown.mimetype == "text/markdown"
    assert markdown.get_data(as_text=True) == expected
    asked = client.get("/rules/dependency-layer-order", headers={"Accept": "text/markdown"})
    assert asked.get_data(as_text=True) == expected
    page = client.get("/rules/dependency-layer-order", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<title>layerbot rule dependency-layer-order</title>" in html
    assert "<!-- Generated" not in html  # the docstring's markup is shown, never interpreted
    assert "&lt;!-- Generated from the docstring" in html
    assert "```dockerfile" in html


def test_an_unknown_rule_page_is_404(client: FlaskClient) -> None:
    response = client.get("/rules/no-such-rule")
    assert response.status_code == 404
    assert client.get("/rules/..%2Fsettings").status_code == 404


def test_every_rule_has_a_page(client: FlaskClient) -> None:
    output = subprocess.run(
        [sys.executable, "-m", "layerbot.cli", "rule", "--all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = [line.split()[0] for line in output.splitlines() if line.strip()]
    assert len(names) >= 10
    for name in names:
        assert client.get(f"/rules/{name}.md").status_code == 200, name


def test_public_url_makes_comment_links_and_no_url_explains_inline() -> None:
    from layerbot.rule_pages import rule_explanation, rule_reference

    linked = Settings.from_env({"PUBLIC_URL": "https://layerbot.example.com/"})
    assert linked.rule_docs_url == "https://layerbot.example.com/rules/{name}"
    assert rule_reference("pin-base-image", linked.rule_docs_url) == (
        "[`pin-base-image`](https://layerbot.example.com/rules/pin-base-image)"
    )
    assert rule_explanation("pin-base-image", linked.rule_docs_url) == ""
    elsewhere = {
        "PUBLIC_URL": "https://layerbot.example.com",
        "LAYERBOT_DOCS_URL": "https://d/{name}",
    }
    assert Settings.from_env(elsewhere).rule_docs_url == "https://d/{name}"
    bare = Settings.from_env({})
    assert bare.rule_docs_url is None
    assert rule_reference("pin-base-image", None) == "`pin-base-image`"
    explained = rule_explanation("pin-base-image", None)
    assert explained.startswith("<details>\n<summary>About <code>pin-base-image</code></summary>")
    assert explained.endswith("</details>")
    assert "**What it does.** Flags a `FROM` whose image has no tag" in explained
    assert "**Why it matters.** `latest` moves." in explained
    assert "## Example" not in explained


def test_the_kubernetes_ingress_lets_such_bodies_through() -> None:
    import yaml

    documents = yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "web.yaml").read_text())
    ingress = next(d for d in documents if d and d.get("kind") == "Ingress")
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size.endswith("m")
    assert int(size[:-1]) * 1024 * 1024 >= Settings().max_body_bytes
