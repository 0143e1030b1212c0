"""Hand tasks to Celery by name, with small id arguments, never blocking a request for long.

The web side never imports the task code: it sends ``REVIEW_TASK`` / ``NOTE_TASK`` by name, so it
starts fast and the worker can be deployed on its own. A failed send raises
:class:`QueueUnavailable` at once (no retry loop inside the request); the caller spools.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from layerbot.celery_app import make_celery
from layerbot.settings import Settings

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1.0
"""A request waits at most about this long for the broker before the event is spooled."""


@dataclass(frozen=True)
class Job:
    """One accepted delivery's task: what the request sends and what the spool keeps on disk.

    ``delivery`` is unique per accepted delivery and owns the dedupe keys (see :mod:`bot.dedupe`).
    """

    task: str
    args: tuple[int | str | bool | None, ...]
    task_id: str
    dedupe_keys: tuple[str, ...]
    delivery: str

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "args": list(self.args),
            "task_id": self.task_id,
            "dedupe_keys": list(self.dedupe_keys),
            "delivery": self.delivery,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            task=str(data["task"]),
            args=tuple(data["args"]),
            task_id=str(data["task_id"]),
            dedupe_keys=tuple(str(key) for key in data["dedupe_keys"]),
            delivery=str(data["delivery"]),
        )


class QueueUnavailable(Exception):
    """The broker did not take the task; the message names the error type, never a URL."""


def redis_client(settings: Settings) -> redis.Redis:
    """A Redis client with short timeouts and no retries, for dedupe keys and health checks:
    a request spools at once instead of backing off while Redis is down."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


class TaskQueue:
    """The Celery producer side: ``send`` a task by name, ``ping`` the broker."""

    def __init__(self, settings: Settings, celery: Celery | None = None) -> None:
        self.settings = settings
        self.celery = celery or make_celery(settings)
        self.celery.conf.broker_connection_timeout = BROKER_TIMEOUT_SECONDS
        if not settings.uses_embedded_queue:
            self.celery.conf.broker_transport_options = {
                **self.celery.conf.broker_transport_options,
                "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
                "socket_timeout": BROKER_TIMEOUT_SECONDS,
            }
        self._redis = None if settings.uses_embedded_queue else redis_client(settings)

    @property
    def redis(self) -> redis.Redis | None:
        """The broker's Redis (``None`` on the embedded queue)."""
        return self._redis

    def send(self, job: Job) -> None:
        try:
            self.celery.send_task(job.task, args=list(job.args), task_id=job.task_id, retry=False)
        except Exception as error:  # any broker failure means: spool, never lose the event
            raise QueueUnavailable(type(error).__name__) from None

    def ping(self) -> str | None:
        """``None`` when the broker takes tasks, else a short reason."""
        if self._redis is None:
            folder = self.settings.queue_dir / "in"
            return None if os.access(folder, os.W_OK) else "queue folder not writable"
        try:
            self._redis.ping()
        except redis.RedisError as error:
            return f"redis unreachable ({type(error).__name__})"
        return None
