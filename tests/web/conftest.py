"""Fixtures for the web side: the real app on the embedded queue, and a Redis DB of our own."""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bot.app import create_app
from layerbot.settings import Settings
from tests.web.payloads import SECRET

WEB_TEST_REDIS_DB = 11
"""The Redis database the web tests use; other suites use other numbers."""
CELERY_QUEUE = "celery"
"""Celery's default queue: a Redis list the producer LPUSHes to."""


def web_redis_url() -> str:
    """``REDIS_URL`` from the environment (default local server) with our own DB number."""
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit(parts._replace(path=f"/{WEB_TEST_REDIS_DB}"))


def decode_message(raw: str | bytes) -> dict[str, Any]:
    """A Celery protocol-2 message as stored by the broker: task name, id and args."""
    message = json.loads(raw)
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    headers = message["headers"]
    return {"task": headers["task"], "id": headers["id"], "args": args, "kwargs": kwargs}


def embedded_messages(settings: Settings) -> list[dict[str, Any]]:
    """Every task waiting in the embedded filesystem queue, oldest first."""
    folder = settings.queue_dir / "in"
    if not folder.exists():
        return []
    return [decode_message(path.read_bytes()) for path in sorted(folder.glob("*.msg"))]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(webhook_secret=SECRET, data_dir=tmp_path / "data")


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., Flask]:
    def build(**changes: Any) -> Flask:
        app = create_app(replace(settings, **changes))
        app.testing = True
        return app

    return build


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def queued(settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    return lambda: embedded_messages(settings)


class OwnQueue:
    """Celery's queue in our Redis DB, seen through one test's own project id.

    Several sessions may run this suite at once on one Redis: a test never flushes the DB, it
    uses a project id of its own, reads only its own messages and deletes only its own keys.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.project_id = random.randrange(10**6, 10**9)

    def _own(self) -> list[tuple[str, dict[str, Any]]]:
        own = []
        for item in reversed(self.client.lrange(CELERY_QUEUE, 0, -1)):  # LPUSHed: oldest last
            raw = item.decode() if isinstance(item, bytes) else str(item)
            message = decode_message(raw)
            if message["args"] and message["args"][0] == self.project_id:
                own.append((raw, message))
        return own

    def messages(self) -> list[dict[str, Any]]:
        """Our tasks waiting in the queue, oldest first."""
        return [message for _, message in self._own()]

    def delivery_id(self, name: str) -> str:
        """A webhook id no other run uses (dedupe keys outlive a test run)."""
        return f"{self.project_id}-{name}"

    def clean(self) -> None:
        for raw, _ in self._own():
            self.client.lrem(CELERY_QUEUE, 0, raw)
        for pattern in (f"*:{self.project_id}:*", f"*:{self.project_id}-*"):
            for key in self.client.scan_iter(match=f"layerbot:dedupe:{pattern}"):
                self.client.delete(key)


@pytest.fixture
def own_queue() -> Iterator[OwnQueue]:
    client = redis.Redis.from_url(web_redis_url())
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"no Redis at {web_redis_url()} (set REDIS_URL)")
    queue = OwnQueue(client)
    yield queue
    queue.clean()
    client.close()
