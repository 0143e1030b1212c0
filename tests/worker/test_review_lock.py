"""The per-MR review lock on a real Redis: held while a review runs, however long it runs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from layerbot.settings import Settings
from tests.e2e.worker_fixtures import worker_redis_url
from workers import review
from workers.review import ReviewBusy, mr_lock

LOCK_TEST_DB = 12


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # A database of its own: the worker fixtures empty theirs (FLUSHDB) before and after each
    # test, and a second suite running beside this one (a CI clone) deleted the held lock.
    url = worker_redis_url().rsplit("/", 1)[0] + f"/{LOCK_TEST_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.fail(f"no Redis at {url} (set REDIS_URL)")
    # a short lease renewed often, and no patience for a held lock: the same code, faster
    monkeypatch.setattr(review, "LOCK_TTL_SECONDS", 1)
    monkeypatch.setattr(review, "LOCK_RENEW_SECONDS", 0.2)
    monkeypatch.setattr(review, "LOCK_WAIT_SECONDS", 0.1)
    return Settings(redis_url=url, data_dir=tmp_path)


def test_a_review_outliving_the_lease_keeps_the_lock(settings: Settings) -> None:
    project = uuid.uuid4().int % 10**9
    with mr_lock(settings, project, 1):
        time.sleep(2.5)  # more than twice the lease: only renewal keeps it
        with pytest.raises(ReviewBusy), mr_lock(settings, project, 1):
            pass
    with mr_lock(settings, project, 1):
        pass  # released at the end


def test_the_file_lock_serialises_without_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review, "LOCK_WAIT_SECONDS", 0.1)
    settings = Settings(data_dir=tmp_path)
    with mr_lock(settings, 1, 1):
        with pytest.raises(ReviewBusy), mr_lock(settings, 1, 1):
            pass
        with mr_lock(settings, 1, 2):
            pass  # another MR is not blocked
