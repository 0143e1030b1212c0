"""GitLab's deliveries as an installed bot really gets them, over real processes: ``layerbot
serve`` (gunicorn) enqueues on Redis, a ``layerbot worker`` reviews against the fake GitLab
process (issue 12: system hooks, internal notes, reopen at a reviewed commit, a missing last
commit, and rule links that resolve on the bot's own web side)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from layerbot.celery_app import REVIEW_TASK
from layerbot.cli import main as layerbot
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    Stack,
    bot_notes,
    fake_process_fixture,
    redis_db_fixture,
    stack_fixture,
    start_worker,
    stop_worker,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.fake_gitlab.webhooks import headers
from tests.hardening.stack import enqueue
from tests.web.live import Server, free_port, http, serve
from tests.worker.expect import example_files, findings_for, inline_findings, markers

pytestmark = pytest.mark.e2e

SECRET = "e2e-install-secret"


def deliver(server: Server, event: str, payload: dict[str, Any], key: str) -> Any:
    return server.post(
        json.dumps(payload).encode(), headers(event, token=SECRET, idempotency_key=key)
    )


def restart_worker(stack: Stack, **changes: str | None) -> None:
    """The stack's worker again, with settings changed (``None`` removes one)."""
    env = {**stack.env, **{k: v for k, v in changes.items() if v is not None}}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
    stop_worker(stack.worker)
    stack.env = env
    stack.worker = start_worker(env, stack.log)


def diff_reads(fake: RemoteFakeGitLab) -> int:
    return len(fake.calls(method="GET", path_regex=r"/diffs$"))


def rule_help(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert layerbot(["rule", name]) == 0
    return capsys.readouterr().out


def test_an_installed_bot_answers_what_gitlab_sends(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = stack.fake
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    restart_worker(stack, LAYERBOT_DOCS_URL=None, PUBLIC_URL=public)
    web = {k: stack.env[k] for k in ("REDIS_URL", "GITLAB_URL", "GITLAB_TOKEN", "PYTHONPATH")}
    web |= {"WEBHOOK_SECRET": SECRET, "LAYERBOT_DATA_DIR": str(tmp_path / "web")}
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]
    expected = findings_for(example_files())
    with serve(web, tmp_path, port=port) as server:
        # an instance-wide system hook: merge request events only
        opened = fake.invoke("merge_request_hook", {"project": project, "mr_iid": iid})
        assert deliver(server, "System Hook", opened, "system-1")[0] == 202
        summary = wait_for(lambda: summary_at(fake, project, iid, sha), what="the review")
        notes = bot_notes(fake, project, iid)
        assert len(notes) == len(inline_findings(expected)) + 1
        push = {"event_name": "push", "project_id": project, "ref": "refs/heads/feature"}
        assert deliver(server, "System Hook", push, "system-2") == (
            200,
            {"status": "ignored", "reason": "system_event"},
        )

        # the comments link the rule pages of this very server, and the links resolve
        link = f"[`dependency-layer-order`]({public}/rules/dependency-layer-order)"
        assert link in summary
        inline = next(n["body"] for n in notes if "finding dependency-layer-order" in n["body"])
        assert link in inline
        assert "<details>" not in inline
        for rule in {item.rule for item in expected}:
            status, page = http(f"{public}/rules/{rule}.md")
            assert (status, page) == (200, rule_help(rule, capsys))
        status, page = http(f"{public}/rules/dependency-layer-order")
        assert status == 200 and "&lt;!-- Generated from the docstring" in page

        # reopened at the commit already reviewed: reviewed again, nothing posted twice
        reads = diff_reads(fake)
        reopened = fake.invoke(
            "merge_request_hook", {"project": project, "mr_iid": iid, "action": "reopen"}
        )
        assert deliver(server, "Merge Request Hook", reopened, "reopen-1")[0] == 202
        wait_for(lambda: diff_reads(fake) > reads, what="the review after reopening")
        # an event without a last commit: the worker reviews the head it finds
        reads = diff_reads(fake)
        headless = fake.invoke(
            "merge_request_hook", {"project": project, "mr_iid": iid, "action": "reopen"}
        )
        headless["object_attributes"]["last_commit"] = None
        headless["object_attributes"]["updated_at"] = "2026-12-07 10:00:00 UTC"
        assert deliver(server, "Merge Request Hook", headless, "headless-1")[0] == 202
        wait_for(lambda: diff_reads(fake) > reads, what="the review of a head-less event")

        # a command in an internal note: acted on, answered with an internal note
        fake.add_user("dev", token="dev-token")
        fake.add_member(project, "dev", 30)
        note_id = fake.add_note(project, iid, "dev", "@layerbot help", internal=True)
        comment = fake.invoke("note_hook", {"project": project, "mr_iid": iid, "note_id": note_id})
        assert comment["object_attributes"]["internal"] is True
        assert deliver(server, "Confidential Note Hook", comment, "internal-1")[0] == 202

        def answer() -> dict[str, Any] | None:
            found = [n for n in bot_notes(fake, project, iid) if "Commands:" in n["body"]]
            replies = [n for n in found if "recheck" in n["body"] and "summary" not in n["body"]]
            return next((n for n in replies if n["body"].startswith("<!-- layerbot:reply")), None)

        reply = wait_for(answer, what="the answer to the internal note")
        assert reply["internal"] is True

    notes = bot_notes(fake, project, iid)
    assert len(markers(notes)) == len(set(markers(notes))) == len(inline_findings(expected))


def test_without_a_public_url_comments_explain_each_rule(stack: Stack) -> None:
    fake = stack.fake
    restart_worker(stack, LAYERBOT_DOCS_URL=None, PUBLIC_URL=None)
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]
    enqueue(stack.settings, REVIEW_TASK, project, iid, sha)
    summary = wait_for(lambda: summary_at(fake, project, iid, sha), what="the review")
    inline = next(
        n["body"]
        for n in bot_notes(fake, project, iid)
        if "finding dependency-layer-order" in n["body"]
    )
    assert "**`dependency-layer-order`** (major)" in inline
    assert "<details>\n<summary>About <code>dependency-layer-order</code></summary>" in inline
    assert "**Why it matters.**" in inline
    assert not re.search(r"\]\(https?://", inline)
    assert "| `dependency-layer-order` |" in summary
    assert summary.count("<summary>About <code>") == len(
        {i.rule for i in findings_for(example_files())}
    )
