"""Accepting an event on Redis is one round trip: the claim script, which also pushes the task.

Seen by the Redis server itself (``MONITOR``, which lists each command a client sends and, marked
``lua``, those a script runs) on a throwaway ``redis-server`` of this test: no other client's
commands are in the count.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from flask.testing import FlaskClient

from bot.app import create_app
from layerbot.celery_app import REVIEW_TASK
from layerbot.settings import Settings
from tests.hardening.stack import hardening_redis_fixture
from tests.web.conftest import CELERY_QUEUE, decode_message
from tests.web.payloads import SECRET, body, headers, merge_request_event, sha

assert hardening_redis_fixture  # a fixture, used by name


class Sent:
    """The commands clients sent (``sent``) and scripts ran (``scripted``), by name."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.scripted: Counter[str] = Counter()


@contextmanager
def monitoring(url: str) -> Iterator[Sent]:
    """What the server ran inside the ``with`` block; read up to a marker sent at its end."""
    seen = Sent()
    marking = redis.Redis.from_url(url)
    marking.ping()  # connected before: its handshake is not in the count
    with redis.Redis.from_url(url).monitor() as monitor:
        yield seen
        marker = f"end-{uuid.uuid4().hex}"
        marking.echo(marker)
        while (command := monitor.next_command())["command"] != f"ECHO {marker}":
            name = command["command"].split(" ", 1)[0].lower()
            (seen.scripted if command["client_type"] == "lua" else seen.sent)[name] += 1


def push(web: FlaskClient, iid: int, delivery: str) -> tuple[int, str]:
    payload = merge_request_event("open", project_id=5, iid=iid, head=sha(f"head-{iid}"))
    answer = web.post(
        "/webhook",
        data=body(payload),
        headers=headers("Merge Request Hook", idempotency_key=delivery),
    )
    return answer.status_code, answer.get_json()["status"]


def test_each_accepted_event_is_one_redis_command_and_a_duplicate_pushes_nothing(
    hardening_redis: str, tmp_path: Path
) -> None:
    settings = Settings(webhook_secret=SECRET, redis_url=hardening_redis, data_dir=tmp_path)
    web = create_app(settings).test_client()
    server = redis.Redis.from_url(hardening_redis)
    assert push(web, 1, "first") == (202, "queued")  # connects, declares the queue once

    with monitoring(hardening_redis) as new:
        answers = [push(web, iid, f"delivery-{iid}") for iid in range(2, 12)]
    assert answers == [(202, "queued")] * 10
    assert new.sent == {"evalsha": 10}  # one round trip per event...
    assert new.scripted == {"set": 20, "lpush": 10}  # ...claiming its two keys, pushing its task

    with monitoring(hardening_redis) as resent:
        assert push(web, 5, "delivery-5") == (200, "duplicate")  # GitLab's resend
        assert push(web, 5, "another-hook") == (200, "duplicate")  # the same push, another hook
    assert resent.sent == {"evalsha": 2}
    assert resent.scripted == {"set": 3, "get": 2}  # a key held by another delivery: no LPUSH

    waiting = [decode_message(raw) for raw in reversed(server.lrange(CELERY_QUEUE, 0, -1))]
    assert [(m["task"], m["args"]) for m in waiting] == [
        (REVIEW_TASK, [5, iid, sha(f"head-{iid}")]) for iid in range(1, 12)
    ]
    assert [m["id"] for m in waiting] == [
        f"review-5-{iid}-{sha(f'head-{iid}')}" for iid in range(1, 12)
    ]
