"""Per-project fairness: one noisy project cannot starve the others.

Every review takes one of its project's slots (``PROJECT_CONCURRENCY``, default 1) before it
runs. A review that finds its project's slots taken does not wait in a worker process: it puts
itself back on the queue after a short jittered delay (``workers.tasks.run_later``) and frees
the worker for the next task, which is usually another project's. So 100 queued reviews of
project A hold at most ``PROJECT_CONCURRENCY`` workers, and a review of project B queued
behind them runs at once.

Slots live in Redis (a sorted set per project: holder -> lease expiry, in Redis server time), so
they hold across worker processes and hosts. A lease is renewed while its review runs and
expires a few seconds after its holder dies; the redelivered task (same task id) takes its own
slot back at once. Without Redis (the embedded one-machine queue) or with
``PROJECT_CONCURRENCY=0`` there is no limit.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import redis

from layerbot.settings import Settings
from workers.leases import renewed

log = logging.getLogger(__name__)

LEASE_SECONDS = 15
RENEW_SECONDS = 5.0
DEFER_MIN_SECONDS = 1.0
DEFER_SPREAD_SECONDS = 2.0

# KEYS[1] slot set; ARGV: holder, limit, lease seconds. Returns 1 when the holder has a slot.
_ACQUIRE = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
"""

# KEYS[1] slot set; ARGV: holder, lease seconds. Extends the holder's lease if it still has one.
_RENEW = """
local now = tonumber(redis.call('TIME')[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""


class ProjectBusy(Exception):
    """Every slot of the project is taken; run this task again after ``retry_after`` seconds."""

    def __init__(self, project_id: int, retry_after: float) -> None:
        super().__init__(f"project {project_id} already runs its maximum of reviews")
        self.retry_after = retry_after


@cache
def redis_client(url: str) -> redis.Redis:
    """One client per broker URL and process (the workers' leases, slots and delayed tasks)."""
    return redis.Redis.from_url(url)


def slot_key(project_id: int) -> str:
    return f"layerbot:fair:project:{project_id}"


@contextmanager
def project_slot(settings: Settings, project_id: int, holder: str) -> Iterator[None]:
    """Hold one of ``project_id``'s review slots; raises :class:`ProjectBusy` when none is free."""
    if settings.uses_embedded_queue or settings.project_concurrency <= 0:
        yield
        return
    client = redis_client(settings.redis_url)
    key = slot_key(project_id)
    try:
        granted = client.eval(_ACQUIRE, 1, key, holder, settings.project_concurrency, LEASE_SECONDS)
    except redis.RedisError:
        granted = None
    if granted is None:
        # Fairness is advisory: a Redis hiccup must not fail a review (the MR lock still holds).
        log.warning("project slots unavailable; reviewing project %s unthrottled", project_id)
        yield
        return
    if not granted:
        delay = DEFER_MIN_SECONDS + random.random() * DEFER_SPREAD_SECONDS
        raise ProjectBusy(project_id, delay)
    try:
        with renewed(
            lambda: client.eval(_RENEW, 1, key, holder, LEASE_SECONDS),
            RENEW_SECONDS,
            f"the project slot {key}",
        ):
            yield
    finally:
        try:
            client.zrem(key, holder)
        except redis.RedisError:
            log.warning("could not free the project slot %s; its lease will expire", key)
