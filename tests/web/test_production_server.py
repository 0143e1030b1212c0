"""The real production server: ``layerbot serve`` (gunicorn, shipped config) against real Redis.

Redis is reached through a proxy the test can cut, so "Redis unreachable" is a real outage of the
same ``REDIS_URL``; the queue is inspected directly in Redis (Celery's ``celery`` list).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.intake import BROKER_BACKOFF_SECONDS
from layerbot.celery_app import REVIEW_TASK
from tests.web.conftest import WEB_TEST_REDIS_DB, OwnQueue, web_redis_url
from tests.web.live import Server, http, serve, wait_for
from tests.web.payloads import (
    SECRET,
    SIGNING_TOKEN,
    body,
    merge_request_event,
    sha,
    signed_headers,
)
from tests.web.tcp_proxy import TcpProxy

MR = "Merge Request Hook"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def deliver(server: Server, payload: dict[str, Any], webhook_id: str) -> Any:
    raw = body(payload)
    return server.post(raw, signed_headers(MR, raw, webhook_id=webhook_id))


def spooled(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "spool" / "ready").glob("*.json"))


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    target = urlsplit(web_redis_url())
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(proxy: TcpProxy, data_dir: Path, tmp_path: Path) -> Iterator[Server]:
    settings = {
        "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{WEB_TEST_REDIS_DB}",
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_SIGNING_TOKEN": SIGNING_TOKEN,
        "LAYERBOT_DATA_DIR": str(data_dir),
        "MAX_BODY_BYTES": str(1024 * 1024),  # a small cap, so a body over it stays cheap to send
    }
    with serve(settings, tmp_path) as server:
        yield server
    assert SECRET not in server.log.read_text()


def test_signed_event_is_enqueued_once_and_survives_a_redis_outage(
    server: Server, proxy: TcpProxy, own_queue: OwnQueue, data_dir: Path
) -> None:
    project = own_queue.project_id
    first = merge_request_event("open", project_id=project, iid=3, head=sha("one"))
    status, answer = deliver(server, first, webhook_id=own_queue.delivery_id("one"))
    assert (status, answer["status"]) == (202, "queued")
    redelivered = deliver(server, first, webhook_id=own_queue.delivery_id("one"))
    assert redelivered == (200, {"status": "duplicate", "task_id": answer["task_id"]})
    assert own_queue.messages() == [
        {
            "task": REVIEW_TASK,
            "id": f"review-{project}-3-{sha('one')}",
            "args": [project, 3, sha("one")],
            "kwargs": {},
        }
    ]

    proxy.stop()
    push = merge_request_event(
        "update", project_id=project, iid=3, head=sha("two"), oldrev=sha("one")
    )
    second = own_queue.delivery_id("two")
    # the second is GitLab's "Resend" of the same delivery during the outage
    during_outage = [deliver(server, push, webhook_id=second) for _ in range(2)]
    assert [(status, answer["status"]) for status, answer in during_outage] == [
        (202, "spooled"),
        (202, "spooled"),
    ]
    assert len(spooled(data_dir)) == 2
    assert len(own_queue.messages()) == 1
    health = http(f"{server.base}/healthz")
    assert health[0] == 200
    assert health[1]["broker"].startswith("redis unreachable")
    assert health[1]["spool"]["pending"] == 2

    proxy.start()
    wait_for(lambda: not spooled(data_dir) and len(own_queue.messages()) >= 2, "the spool replay")
    assert [message["args"] for message in own_queue.messages()] == [
        [project, 3, sha("one")],
        [project, 3, sha("two")],
    ]
    # Each gunicorn worker sends straight to the spool for a moment after a broker failure;
    # once that back-off has passed everywhere, a resend is recognised as a duplicate.
    time.sleep(BROKER_BACKOFF_SECONDS)
    assert deliver(server, push, webhook_id=second)[1]["status"] == "duplicate"
    assert len(own_queue.messages()) == 2
    metrics = http(f"{server.base}/metrics")[1]
    assert "layerbot_events_spooled_total 2.0" in metrics
    assert "layerbot_webhook_events_duplicate_total 3.0" in metrics
    assert f'layerbot_tasks_enqueued_total{{task="{REVIEW_TASK}",via="spool"}} 1.0' in metrics


def test_a_slow_sender_of_a_body_over_the_cap_still_gets_its_413(server: Server) -> None:
    """The 413 is decided once the headers are in. A server that answered and closed the
    connection with the rest of the body unread could reset it, and a sender still sending
    (urllib did, once) loses the answer: a body under twice the cap is read to its end first,
    so nothing comes back before the sender has sent it all."""
    huge = b"{" + b" " * (3 * 512 * 1024) + b"}"  # over the 1 MiB cap, under twice it
    fields = {**signed_headers(MR, huge), "Content-Length": str(len(huge)), "Connection": "close"}
    address = urlsplit(server.base)
    head = f"POST /webhook HTTP/1.1\r\nHost: {address.netloc}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields.items()
    )
    with socket.create_connection((address.hostname, address.port), timeout=30) as sender:
        sender.sendall(head.encode() + b"\r\n" + huge[:4096])
        time.sleep(0.5)
        sender.settimeout(0)  # a look without waiting: no answer while the body is coming
        with pytest.raises(BlockingIOError):
            sender.recv(1, socket.MSG_PEEK)
        sender.settimeout(30)
        sender.sendall(huge[4096:])
        answer = b""
        while chunk := sender.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 413 REQUEST ENTITY TOO LARGE"


def test_rejections_under_gunicorn(server: Server, own_queue: OwnQueue) -> None:
    raw = body(merge_request_event("open", project_id=own_queue.project_id))
    headers = signed_headers(MR, raw, webhook_id=own_queue.delivery_id("accepted"))
    assert server.post(raw, {**headers, "X-Gitlab-Token": "no"})[0] == 401
    tampered = {**headers, "webhook-signature": signed_headers(MR, raw + b"x")["webhook-signature"]}
    assert server.post(raw, tampered)[0] == 401
    huge = b"{" + b" " * (3 * 512 * 1024) + b"}"  # over the cap, under twice it: read, refused
    assert server.post(huge, signed_headers(MR, huge))[0] == 413
    chunked = server.post(iter([huge]), signed_headers(MR, huge))  # no Content-Length
    assert chunked[0] == 413
    assert chunked[1]["status"] == "rejected"
    assert server.post(raw, headers)[0] == 202
    assert len(own_queue.messages()) == 1
