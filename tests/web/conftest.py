"""Fixtures for the web side: the real app on the embedded queue, and a Redis DB of our own."""

from __future__ import annotations

import base64
import json
import os
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
from tests.web.payloads import SECRET
from workers.settings import Settings

WEB_TEST_REDIS_DB = 11
"""The Redis database the web tests own (flushed by them); other suites use other numbers."""


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


@pytest.fixture
def web_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(web_redis_url())
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"no Redis at {web_redis_url()} (set REDIS_URL)")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
