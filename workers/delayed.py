"""Tasks that must run later wait in Redis, not in a worker's memory.

A Celery countdown on the Redis broker is a message the worker has already taken and holds,
unacknowledged, until its time comes; the broker counts that wait against its visibility
timeout. A countdown longer than the timeout is redelivered while the first copy still waits
(copies multiply), and a timeout long enough for the longest countdown (GitLab may ask for
minutes) would delay the redelivery of a killed worker's reviews by as long. So a retry or a
deferral goes into a sorted set, scored by when it is due, and every worker's main process
moves due entries to the queue (:class:`Pump`). Nothing is lost with a worker: an entry leaves
the set only after the broker took the task, and one claimed by a pump that then died is
claimed again after :data:`CLAIM_SECONDS`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import redis
from celery import Celery

log = logging.getLogger(__name__)

KEY = "layerbot:delayed"
CLAIM_SECONDS = 30
"""A claimed entry not confirmed sent within this time is due again (its pump died)."""
PUMP_SECONDS = 1.0
BATCH = 100

# KEYS[1] the set; ARGV: member, countdown seconds. Scored in Redis server time, like the leases.
_SCHEDULE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""

# KEYS[1] the set; ARGV: claim seconds, batch. Due members, pushed CLAIM_SECONDS into the future.
_CLAIM = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), member)
end
return due
"""


@dataclass(frozen=True)
class Delayed:
    """One task to send later: Celery's name, arguments, id and retry count."""

    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    task_id: str
    retries: int

    def member(self) -> str:
        # a nonce keeps two identical schedules apart (a set would merge them)
        return json.dumps({**asdict(self), "nonce": uuid.uuid4().hex}, sort_keys=True)

    @classmethod
    def from_member(cls, member: str | bytes) -> Delayed:
        data = json.loads(member)
        return cls(
            task=str(data["task"]),
            args=list(data["args"]),
            kwargs=dict(data["kwargs"]),
            task_id=str(data["task_id"]),
            retries=int(data["retries"]),
        )


def schedule(client: redis.Redis, delayed: Delayed, countdown: float) -> None:
    """Send ``delayed`` in ``countdown`` seconds."""
    client.eval(_SCHEDULE, 1, KEY, delayed.member(), repr(max(0.0, float(countdown))))


def release_due(client: redis.Redis, app: Celery) -> int:
    """Send every due task; returns how many were sent."""
    members: list[bytes] = client.eval(_CLAIM, 1, KEY, CLAIM_SECONDS, BATCH)
    sent = 0
    for member in members:
        try:
            item = Delayed.from_member(member)
        except (ValueError, KeyError, TypeError):
            log.error("dropping a malformed delayed task")
            client.zrem(KEY, member)
            continue
        app.send_task(
            item.task,
            args=item.args,
            kwargs=item.kwargs,
            task_id=item.task_id,
            retries=item.retries,
        )
        client.zrem(KEY, member)  # only once the broker has it
        sent += 1
    return sent


def pending(client: redis.Redis) -> int:
    return int(client.zcard(KEY))


class Pump:
    """A thread of the worker's main process that moves due tasks to the queue every second."""

    def __init__(self, client: redis.Redis, app: Celery) -> None:
        self._client = client
        self._app = app
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, **_: Any) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="layerbot-delayed", daemon=True)
            self._thread.start()

    def stop(self, **_: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(PUMP_SECONDS):
            try:
                release_due(self._client, self._app)
            except Exception:  # a Redis outage: the entries wait in Redis, try again
                log.warning("could not release delayed tasks", exc_info=True)
