"""A worker deployed on its own exposes its metrics (summed over its prefork children)."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path

import pytest

from layerbot.celery_app import REVIEW_TASK, make_celery
from layerbot.settings import Settings
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    fake_process_fixture,
    redis_db_fixture,
    start_worker,
    stop_worker,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> str | None:
    """The exposition text (empty before anything was counted), or None while not listening."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


def test_worker_metrics_port_serves_the_review_counters(
    redis_db: str, fake_process: RemoteFakeGitLab, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GITLAB_URL": fake_process.url,
        "GITLAB_TOKEN": fake_process.bot_token,
        "REDIS_URL": redis_db,
        "LAYERBOT_DATA_DIR": str(tmp_path / "data"),
        "WORKER_METRICS_PORT": str(port),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    project = fake_process.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake_process.open_merge_request(
        project, None, {"Dockerfile": "FROM golang:latest\nCOPY . .\nRUN go build -o /app .\n"}
    )
    head = fake_process.merge_request(project, iid)["sha"]
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        wait_for(lambda: scrape(port) is not None, what="the metrics port")
        make_celery(Settings.from_env(env)).send_task(REVIEW_TASK, args=[project, iid, head])
        text = wait_for(
            lambda: (
                (t := scrape(port) or "")
                and 'layerbot_reviews_total{outcome="done"} 1.0' in t
                and t
            ),
            what="the review counted",
        )
        assert (
            'layerbot_gitlab_api_calls_total{endpoint="/projects/:id/merge_requests/:iid/diffs"'
            in text
        )
        assert fake_process.bot_token not in text
    finally:
        stop_worker(worker)
