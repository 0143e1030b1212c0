"""The real production server: ``layerbot serve`` (gunicorn, shipped config) against real Redis.

Redis is reached through a proxy the test can cut, so "Redis unreachable" is a real outage of the
same ``REDIS_URL``; the queue is inspected directly in Redis (Celery's ``celery`` list).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from tests.web.conftest import WEB_TEST_REDIS_DB, decode_message, web_redis_url
from tests.web.payloads import (
    SECRET,
    SIGNING_TOKEN,
    body,
    merge_request_event,
    sha,
    signed_headers,
)
from tests.web.tcp_proxy import TcpProxy
from workers.celery_app import REVIEW_TASK

ROOT = Path(__file__).resolve().parents[2]
MR = "Merge Request Hook"
WAIT_SECONDS = 30.0

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """(status, parsed JSON or text) without raising on 4xx/5xx."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Server:
    def __init__(self, process: subprocess.Popen[bytes], base: str, data_dir: Path) -> None:
        self.process = process
        self.base = base
        self.data_dir = data_dir

    def deliver(self, payload: dict[str, Any], webhook_id: str) -> Any:
        raw = body(payload)
        return http(f"{self.base}/webhook", raw, signed_headers(MR, raw, webhook_id=webhook_id))

    def spooled(self) -> list[Path]:
        return sorted((self.data_dir / "spool" / "ready").glob("*.json"))

    def up(self) -> bool:
        try:
            return bool(http(f"{self.base}/healthz")[0] == 200)
        except OSError:
            return False


@pytest.fixture
def proxy(web_redis: redis.Redis) -> Iterator[TcpProxy]:
    target = urlsplit(web_redis_url())
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def server(proxy: TcpProxy, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    data_dir = tmp_path / "data"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PROMETHEUS_MULTIPROC_DIR", "ALLOWED_PROJECTS")
    }
    env.update(
        REDIS_URL=f"redis://127.0.0.1:{proxy.port}/{WEB_TEST_REDIS_DB}",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_SIGNING_TOKEN=SIGNING_TOKEN,
        LAYERBOT_DATA_DIR=str(data_dir),
        LOG_LEVEL="INFO",
    )
    command = [sys.executable, "-m", "workers.cli", "serve", "--port", str(port)]
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", data_dir)
    try:
        wait_for(lambda: process.poll() is not None or server.up(), "the server to answer")
        assert process.poll() is None, (tmp_path / "server.log").read_text()
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        log.close()
    output = (tmp_path / "server.log").read_text()
    assert SECRET not in output
    assert process.returncode == 0, output


def queued(client: redis.Redis) -> list[dict[str, Any]]:
    """Tasks in Celery's default queue, oldest first (kombu LPUSHes and workers BRPOP)."""
    return [decode_message(raw) for raw in reversed(client.lrange("celery", 0, -1))]


def test_signed_event_is_enqueued_once_and_survives_a_redis_outage(
    server: Server, proxy: TcpProxy, web_redis: redis.Redis
) -> None:
    first = merge_request_event("open", project_id=42, iid=3, head=sha("one"))
    status, answer = server.deliver(first, webhook_id="delivery-one")
    assert (status, answer["status"]) == (202, "queued")
    redelivered = server.deliver(first, webhook_id="delivery-one")
    assert redelivered == (200, {"status": "duplicate", "task_id": answer["task_id"]})
    assert queued(web_redis) == [
        {
            "task": REVIEW_TASK,
            "id": f"review-42-3-{sha('one')}",
            "args": [42, 3, sha("one")],
            "kwargs": {},
        }
    ]

    proxy.stop()
    push = merge_request_event("update", project_id=42, iid=3, head=sha("two"), oldrev=sha("one"))
    during_outage = [
        server.deliver(push, webhook_id="delivery-two"),
        server.deliver(push, webhook_id="delivery-two"),  # GitLab "Resend" during the outage
    ]
    assert [(status, answer["status"]) for status, answer in during_outage] == [
        (202, "spooled"),
        (202, "spooled"),
    ]
    assert len(server.spooled()) == 2
    assert len(queued(web_redis)) == 1
    health = http(f"{server.base}/healthz")
    assert health[0] == 200
    assert health[1]["broker"].startswith("redis unreachable")
    assert health[1]["spool"]["pending"] == 2

    proxy.start()
    wait_for(lambda: not server.spooled() and len(queued(web_redis)) >= 2, "the spool replay")
    assert [message["args"] for message in queued(web_redis)] == [
        [42, 3, sha("one")],
        [42, 3, sha("two")],
    ]
    assert server.deliver(push, webhook_id="delivery-two")[1]["status"] == "duplicate"
    assert len(queued(web_redis)) == 2
    metrics = http(f"{server.base}/metrics")[1]
    assert "layerbot_events_spooled_total 2.0" in metrics
    assert "layerbot_webhook_events_duplicate_total 3.0" in metrics
    assert f'layerbot_tasks_enqueued_total{{task="{REVIEW_TASK}",via="spool"}} 1.0' in metrics


def test_rejections_under_gunicorn(server: Server, web_redis: redis.Redis) -> None:
    raw = body(merge_request_event("open"))
    headers = signed_headers(MR, raw)
    assert http(f"{server.base}/webhook", raw, {**headers, "X-Gitlab-Token": "no"})[0] == 401
    tampered = {**headers, "webhook-signature": signed_headers(MR, raw + b"x")["webhook-signature"]}
    assert http(f"{server.base}/webhook", raw, tampered)[0] == 401
    huge = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    assert http(f"{server.base}/webhook", huge, signed_headers(MR, huge))[0] == 413
    assert http(f"{server.base}/webhook", raw, headers)[0] == 202
    assert len(queued(web_redis)) == 1
