"""The one-machine default: ``layerbot serve`` without ``REDIS_URL`` runs gunicorn and a Celery
worker on the embedded filesystem queue, and a webhook becomes a review on the (fake) GitLab."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_gitlab import DEVELOPER, FakeGitLab
from tests.fake_gitlab.webhooks import MERGE_REQUEST_HOOK, headers
from tests.web.live import children_of, command_line, free_port, http, serve, wait_for
from tests.web.payloads import SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAIVE = (
    "FROM golang:latest\nWORKDIR /app\nCOPY . .\nRUN go mod download\n"
    'RUN go build -o /server .\nCMD ["/server"]\n'
)


@pytest.fixture
def one_machine_env(fake_gitlab: FakeGitLab, tmp_path: Path) -> dict[str, str]:
    """The one-machine environment: no REDIS_URL."""
    return {
        "GITLAB_URL": fake_gitlab.url,
        "GITLAB_TOKEN": fake_gitlab.bot_token,
        "WEBHOOK_SECRET": SECRET,
        "LAYERBOT_DATA_DIR": str(tmp_path / "data"),
    }


def bot_notes(fake: FakeGitLab, project: int, iid: int) -> list[dict[str, Any]]:
    return [
        note for note in fake.notes(project, iid) if note["author"]["username"] == fake.bot_username
    ]


def test_serve_without_redis_reviews_a_merge_request_and_stops_as_one_tree(
    fake_gitlab: FakeGitLab, one_machine_env: dict[str, str], tmp_path: Path
) -> None:
    fake_gitlab.add_user("alice")
    project = fake_gitlab.add_project(
        "group/service", members={fake_gitlab.bot_username: DEVELOPER, "alice": DEVELOPER}
    )
    iid = fake_gitlab.open_merge_request(
        project,
        {"main.go": "package main\n"},
        {"main.go": "package main\n", "go.mod": "module service\n\ngo 1.22\n", "Dockerfile": NAIVE},
        author="alice",
    )
    body = json.dumps(fake_gitlab.merge_request_hook(project, iid, action="open")).encode()
    delivery = headers(MERGE_REQUEST_HOOK, token=SECRET, idempotency_key="one-machine-1")
    with serve(one_machine_env, tmp_path) as server:
        status, answer = server.post(body, delivery)
        assert (status, answer["status"]) == (202, "queued")
        assert server.post(body, delivery)[1]["status"] == "duplicate"
        wait_for(lambda: bool(bot_notes(fake_gitlab, project, iid)), "the bot's review")
        # the worker's own metrics are summed into the web's /metrics (shared multiproc folder)
        wait_for(lambda: "layerbot_reviews_total{" in http(f"{server.base}/metrics")[1], "metrics")
        tree = children_of(server.process.pid)
        assert len(tree) == 2  # gunicorn and the Celery worker
    for pid in tree:
        assert not Path(f"/proc/{pid}").exists()
    notes = bot_notes(fake_gitlab, project, iid)
    assert any("dependency-layer-order" in note["body"] for note in notes)


def test_serve_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_SECRET", "REDIS_URL")}
    env |= {"WEBHOOK_SIGNING_TOKEN": "", "LAYERBOT_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "layerbot.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "WEBHOOK_SECRET" in result.stderr


def test_when_the_web_server_dies_serve_stops_the_worker_and_fails(
    one_machine_env: dict[str, str], tmp_path: Path
) -> None:
    with serve(one_machine_env, tmp_path) as server:
        wait_for(lambda: len(children_of(server.process.pid)) == 2, "gunicorn and the worker")
        children = children_of(server.process.pid)
        (web,) = [pid for pid in children if "gunicorn" in command_line(pid)]
        (worker,) = [pid for pid in children if pid != web]
        os.kill(web, signal.SIGKILL)
        server.process.wait(60)
    assert server.process.returncode != 0
    assert not Path(f"/proc/{worker}").exists()


def test_when_serve_itself_is_killed_its_children_stop(
    one_machine_env: dict[str, str], tmp_path: Path
) -> None:
    with serve(one_machine_env, tmp_path) as server:
        wait_for(lambda: len(children_of(server.process.pid)) == 2, "gunicorn and the worker")
        children = children_of(server.process.pid)
        server.process.kill()
        server.process.wait(60)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), "orphans to go")
