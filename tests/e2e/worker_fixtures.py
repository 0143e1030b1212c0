"""Real parts for the worker end-to-end tests: Redis (own DB), the fake GitLab in its own
process, and ``layerbot worker`` as a real Celery worker process.

A test module imports the ``*_fixture`` functions to use ``redis_db``, ``fake_process`` and
``stack``; they live here, not in a conftest, so they never clash with the web side's fixtures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from layerbot.settings import Settings
from tests.fake_gitlab.remote import RemoteFakeGitLab

ROOT = Path(__file__).resolve().parents[2]
WORKER_DB = 13


def worker_redis_url() -> str:
    """``REDIS_URL`` (default the local server) with the worker tests' own DB number."""
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit((parts.scheme, parts.netloc, f"/{WORKER_DB}", parts.query, ""))


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def bot_notes(fake: RemoteFakeGitLab, project: int, iid: int) -> list[dict[str, Any]]:
    """Every note the bot wrote on the MR, thread by thread."""
    return [
        note
        for thread in fake.discussions(project, iid)
        for note in thread["notes"]
        if note["author"]["username"] == fake.bot_username
    ]


def answers(fake: RemoteFakeGitLab, project: int, iid: int) -> list[str]:
    """The bot's answers to commands, without their hidden ``layerbot:reply`` marker line."""
    return [
        note["body"].split("\n", 1)[1]
        for note in bot_notes(fake, project, iid)
        if note["body"].startswith("<!-- layerbot:reply ")
    ]


def summary_at(fake: RemoteFakeGitLab, project: int, iid: int, sha: str) -> str | None:
    """The bot's summary once it describes ``sha``."""
    for note in bot_notes(fake, project, iid):
        if note["body"].startswith("<!-- layerbot:summary -->") and sha[:12] in note["body"]:
            return str(note["body"])
    return None


@dataclass
class Stack:
    fake: RemoteFakeGitLab
    settings: Settings
    env: dict[str, str]
    worker: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(name="redis_db")
def redis_db_fixture() -> Iterator[str]:
    url = worker_redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError:
        pytest.fail(f"no Redis at {url} (set REDIS_URL)")
    yield url
    client.flushdb()


@pytest.fixture(name="fake_process")
def fake_process_fixture() -> Iterator[RemoteFakeGitLab]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_gitlab", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    assert line.startswith("FAKE_GITLAB_URL="), line
    try:
        yield RemoteFakeGitLab(line.split("=", 1)[1])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "layerbot.cli", "worker", "--concurrency", "2"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=5)


@pytest.fixture(name="stack")
def stack_fixture(redis_db: str, fake_process: RemoteFakeGitLab, tmp_path: Path) -> Iterator[Stack]:
    env = {
        **os.environ,
        "GITLAB_URL": fake_process.url,
        "GITLAB_TOKEN": fake_process.bot_token,
        "REDIS_URL": redis_db,
        "LAYERBOT_DATA_DIR": str(tmp_path / "data"),
        "LAYERBOT_DOCS_URL": "https://docs.example/{name}",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = Path(os.environ.get("LAYERBOT_E2E_LOG", tmp_path / "worker.log"))
    running = Stack(fake_process, Settings.from_env(env), env, start_worker(env, log), log)
    try:
        yield running
    finally:
        stop_worker(running.worker)  # the test may have replaced it
