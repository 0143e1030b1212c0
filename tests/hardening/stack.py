"""The real parts for the hardening tests, built from the e2e fixtures: the fake GitLab in its
own process, a real ``layerbot worker`` (Celery) and Redis, in a Redis DB of our own so a run
next to the e2e tests never shares a queue. Every Python process started here carries the audit
hook of ``audit/sitecustomize.py`` (sockets opened, names looked up)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from layerbot.celery_app import make_celery
from layerbot.settings import Settings
from tests.e2e.worker_fixtures import (
    ROOT,
    Stack,
    start_worker,
    stop_worker,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.web.live import free_port

HARDENING_DB = 9
AUDIT_DIR = Path(__file__).resolve().parent / "audit"
SUMMARY_MARKER = "<!-- layerbot:summary -->"


def hardening_redis_url(base: str | None = None) -> str:
    parts = urlsplit(base or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit((parts.scheme, parts.netloc, f"/{HARDENING_DB}", parts.query, ""))


def bot_env(fake: RemoteFakeGitLab, redis_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process (web or worker) wired to ``fake`` and ``redis_url``."""
    env = {
        **os.environ,
        "GITLAB_URL": fake.url,
        "GITLAB_TOKEN": fake.bot_token,
        "REDIS_URL": redis_url,
        "LAYERBOT_DATA_DIR": str(tmp_path / "data"),
        "LAYERBOT_DOCS_URL": "https://docs.example/{name}",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join([str(AUDIT_DIR), str(ROOT)]),
        "LAYERBOT_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        **extra,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def audit_entries(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture(name="hardening_redis")
def hardening_redis_fixture(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test alone: a throwaway ``redis-server`` when one is installed (full
    suites running side by side never share a queue), else our DB of ``REDIS_URL``."""
    if shutil.which("redis-server"):
        server = OwnRedis(tmp_path / "redis")
        server.start()
        try:
            yield server.url
        finally:
            server.stop()
        return
    url = hardening_redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError:
        pytest.fail(f"no Redis at {url} (set REDIS_URL)")
    yield url
    client.flushdb()


@pytest.fixture(name="hstack")
def hstack_fixture(
    hardening_redis: str, fake_process: RemoteFakeGitLab, tmp_path: Path
) -> Iterator[Stack]:
    env = bot_env(fake_process, hardening_redis, tmp_path)
    log = tmp_path / "worker.log"
    running = Stack(fake_process, Settings.from_env(env), env, start_worker(env, log), log)
    first = running.worker
    try:
        yield running
    finally:
        # A test may have replaced the worker (a restart after a kill): stop what runs now, and
        # the first one too, or the replacement outlives the suite.
        stop_worker(running.worker)
        stop_worker(first)


def enqueue(settings: Settings, task: str, *args: Any) -> None:
    make_celery(settings).send_task(task, args=list(args))


class OwnRedis:
    """A throwaway ``redis-server`` on a free port that a test may stop and start again (the
    shared server is never touched). Append-only file with fsync on every write: what it
    acknowledged survives a restart, as in a production Redis with persistence."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder),
        ]  # fmt: skip
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), 30, "the throwaway redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture(name="own_redis")
def own_redis_fixture(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()
