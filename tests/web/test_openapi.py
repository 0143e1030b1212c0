"""The shipped OpenAPI description matches what the app does (no drift)."""

from __future__ import annotations

import ast
from pathlib import Path

import jsonschema
import pytest
from flask.testing import FlaskClient

from bot import webhook
from tests.fake_gitlab import FakeGitLab
from tests.web.openapi import check_request, check_response, spec
from tests.web.payloads import body, headers, merge_request_event, note_event


def _ignored_reasons_in_code() -> set[str]:
    tree = ast.parse(Path(webhook.__file__).read_text())
    return {
        str(node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Ignored"
        and isinstance(node.args[0], ast.Constant)
    }


def test_documented_ignore_reasons_are_exactly_those_the_code_gives() -> None:
    documented = spec()["components"]["schemas"]["Ignored"]["properties"]["reason"]["enum"]
    assert set(documented) == _ignored_reasons_in_code()


def test_health_and_webhook_answers_fit_the_description(client: FlaskClient) -> None:
    health = client.get("/healthz")
    check_response("/healthz", "get", health.status_code, health.get_json())
    for event, payload in [
        ("Merge Request Hook", merge_request_event("open")),
        ("Merge Request Hook", merge_request_event("open")),
        ("Merge Request Hook", merge_request_event("close", state="closed")),
        ("Note Hook", note_event("@layerbot help")),
        ("Pipeline Hook", {}),
    ]:
        response = client.post("/webhook", data=body(payload), headers=headers(event))
        check_response("/webhook", "post", response.status_code, response.get_json())
    rejected = client.post("/webhook", data=b"{", headers=headers("Note Hook"))
    check_response("/webhook", "post", rejected.status_code, rejected.get_json())


def test_gitlab_shaped_payloads_fit_the_request_schema(fake_gitlab: FakeGitLab) -> None:
    fake_gitlab.add_user("alice")
    project = fake_gitlab.add_project("group/app")
    iid = fake_gitlab.open_merge_request(project, {}, {"Dockerfile": "FROM alpine:3.20\n"})
    note = fake_gitlab.add_note(project, iid, "alice", "@layerbot recheck")
    check_request(fake_gitlab.merge_request_hook(project, iid, action="open"))
    check_request(fake_gitlab.note_hook(project, iid, note))
    check_request(merge_request_event("update", oldrev="0" * 40))
    with pytest.raises(jsonschema.ValidationError):
        check_request({"project": {"id": "42"}, "object_attributes": {"iid": 3}})


def test_system_hooks_internal_notes_and_rule_pages_fit_the_description(
    client: FlaskClient,
) -> None:
    push = {"event_name": "push", "project_id": 7, "ref": "refs/heads/main"}
    check_request(push)
    internal = note_event("@layerbot help", internal=True)
    check_request(internal)
    for event, payload in [
        ("System Hook", push),
        ("System Hook", merge_request_event("open")),
        ("Confidential Note Hook", internal),
    ]:
        response = client.post("/webhook", data=body(payload), headers=headers(event))
        check_response("/webhook", "post", response.status_code, response.get_json())
    responses = spec()["paths"]["/rules/{name}"]["get"]["responses"]
    assert client.get("/rules/pin-base-image").mimetype in responses["200"]["content"]
    assert client.get("/rules/pin-base-image.md").mimetype in responses["200"]["content"]
    assert str(client.get("/rules/nope").status_code) in responses
