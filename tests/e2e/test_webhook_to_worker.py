"""The whole path over real processes: GitLab delivers webhooks to ``layerbot serve`` (gunicorn),
which enqueues on Redis; a ``layerbot worker`` reviews against the fake GitLab process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from layerbot.analysis.fixes import apply_fix
from layerbot.cli import main as layerbot
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    Stack,
    bot_notes,
    fake_process_fixture,
    redis_db_fixture,
    stack_fixture,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.webhooks import headers
from tests.web.live import Server, serve
from tests.worker.expect import example_files, finding, findings_for, inline_findings, markers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "e2e-hook-secret"


def deliver(server: Server, event: str, payload: dict[str, Any], key: str) -> int:
    answer = server.post(
        json.dumps(payload).encode(), headers(event, token=SECRET, idempotency_key=key)
    )
    return int(answer[0])


def test_webhooks_drive_reviews_and_commands_end_to_end(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = stack.fake
    web = {k: stack.env[k] for k in ("REDIS_URL", "GITLAB_URL", "GITLAB_TOKEN", "PYTHONPATH")}
    web |= {"WEBHOOK_SECRET": SECRET, "LAYERBOT_DATA_DIR": str(tmp_path / "web")}
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]
    expected = findings_for(example_files())
    with serve(web, tmp_path) as server:
        opened = fake.invoke("merge_request_hook", {"project": project, "mr_iid": iid})
        assert deliver(server, "Merge Request Hook", opened, "delivery-1") == 202
        assert deliver(server, "Merge Request Hook", opened, "delivery-1") in (200, 202)
        wait_for(lambda: summary_at(fake, project, iid, sha), what="the first review")
        assert sorted(rule for rule, _ in markers(bot_notes(fake, project, iid))) == sorted(
            item.rule for item in inline_findings(expected)
        )

        order = finding(expected, "dependency-layer-order")
        assert order.fix is not None
        fixed = apply_fix(example_files()["Dockerfile"], order.fix)
        new_sha = fake.push(project, iid, {"Dockerfile": fixed})
        pushed = fake.invoke(
            "merge_request_hook",
            {"project": project, "mr_iid": iid, "action": "update", "pushed": True},
        )
        assert deliver(server, "Merge Request Hook", pushed, "delivery-2") == 202
        wait_for(lambda: summary_at(fake, project, iid, new_sha), what="the second review")
        notes = bot_notes(fake, project, iid)
        posted = markers(notes)
        assert len(posted) == len(set(posted))
        assert any(n["body"].endswith(f"Fixed in `{new_sha[:12]}`.") for n in notes)

        fake.add_user("dev", token="dev-token")
        fake.add_member(project, "dev", 30)
        note_id = fake.add_note(project, iid, "dev", "@layerbot apply")
        comment = fake.invoke("note_hook", {"project": project, "mr_iid": iid, "note_id": note_id})
        assert deliver(server, "Note Hook", comment, "delivery-3") == 202
        wait_for(lambda: fake.merge_request(project, iid)["sha"] != new_sha, what="apply")

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name, text in {**example_files(), "Dockerfile": fixed}.items():
        (checkout / name).write_text(text)
    layerbot(["check", "--fix", "--root", str(checkout), str(checkout)])
    capsys.readouterr()
    assert fake.files(project, "feature") == {p.name: p.read_text() for p in checkout.iterdir()}
