"""Dedupe claims behave the same in Redis and in the embedded SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.dedupe import KEY_PREFIX, DedupeStore, DedupeUnavailable, RedisDedupe, SqliteDedupe
from bot.queue import redis_client
from layerbot.settings import Settings
from tests.web.conftest import web_redis_url
from tests.web.live import free_port


@pytest.fixture(params=["redis", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DedupeStore]:
    if request.param == "sqlite":
        yield SqliteDedupe(tmp_path / "dedupe.sqlite3")
        return
    client = redis.Redis.from_url(web_redis_url())
    yield RedisDedupe(client)
    for key in client.scan_iter(match=f"{KEY_PREFIX}test-{RUN}-*"):
        client.delete(key)
    client.close()


RUN = uuid.uuid4().hex


def keys(*names: str) -> tuple[str, ...]:
    return tuple(f"test-{RUN}-{name}" for name in names)


def test_first_delivery_owns_the_keys_and_a_redelivery_is_a_duplicate(store: DedupeStore) -> None:
    assert store.claim(keys("delivery:1", "review:1:2:abc"), "first")
    assert store.claim(keys("delivery:1", "review:1:2:abc"), "first")  # the spool's replay
    assert not store.claim(keys("delivery:1", "review:1:2:abc"), "second")
    assert not store.claim(keys("delivery:2", "review:1:2:abc"), "third")  # same push, new id
    assert store.claim(keys("delivery:4", "review:1:2:def"), "fourth")


def test_an_expired_claim_can_be_taken_again(tmp_path: Path) -> None:
    store = SqliteDedupe(tmp_path / "dedupe.sqlite3", ttl=-1)
    assert store.claim(("review:1:2:abc",), "first")
    assert store.claim(("review:1:2:abc",), "second")


def test_an_unreachable_redis_is_reported_at_once_not_retried() -> None:
    client = redis_client(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    retry = client.get_retry()
    assert retry is not None
    assert retry.get_retries() == 0
    with pytest.raises(DedupeUnavailable):
        RedisDedupe(client).claim(("review:1:2:abc",), "first")
