"""Hand tasks to Celery by name, with small id arguments, never blocking a request for long.

The web side never imports the task code: it sends ``REVIEW_TASK`` / ``NOTE_TASK`` by name, so it
starts fast and the worker can be deployed on its own. A failed send raises
:class:`QueueUnavailable` at once (no retry loop inside the request); the caller spools.

Each thread publishes through a kombu producer of its own, kept for the life of the process
(no pool checkout per event). On Redis, accepting an event is one round trip: Celery and kombu
build and serialize the message as always, and the channel's last step, which would ``LPUSH``
it, instead hands it to the dedupe claim script (:mod:`bot.dedupe`), which pushes it only when
the event's delivery claims its keys. On the embedded queue the claim is a SQLite transaction
before the publish.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from kombu.utils.json import dumps
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.dedupe import DedupeStore, DedupeUnavailable, RedisDedupe, SqliteDedupe
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


class _Claim:
    """The claim an event's publish carries down to the channel, and what came of it."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.stored: bool | None = None


def _claiming_channel(base: Any, dedupe: RedisDedupe) -> Any:
    """kombu's Redis channel class ``base``, storing a message under a pending claim through
    ``dedupe`` (claim and ``LPUSH`` in one script) instead of the bare ``LPUSH`` of ``_put``,
    the method each kombu virtual transport implements to store a message. The web publishes
    one message at a time to Celery's default queue: no publish batch, no queue expiry, the two
    extras of kombu's own ``_put`` that this one leaves out."""

    class ClaimingChannel(base):  # type: ignore[misc]
        claim: _Claim | None = None

        def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
            claim = self.claim
            if claim is None:
                super()._put(queue, message, **kwargs)
                return
            priority = self._get_message_priority(message, reverse=False)
            key = self.global_keyprefix + self._q_for_pri(queue, priority)
            payload: str = dumps(message)  # type: ignore[no-untyped-call]  # kombu's own
            job = claim.job
            claim.stored = dedupe.claim(job.dedupe_keys, job.delivery, push=(key, payload))

    return ClaimingChannel


class _Publisher:
    """One thread's kombu producer on a broker connection of its own; with ``dedupe`` (Redis),
    its channel stores each message through the dedupe claim."""

    def __init__(self, celery: Celery, dedupe: RedisDedupe | None) -> None:
        self.celery = celery
        connection = celery.connection_for_write()
        if dedupe is not None:
            transport = connection.transport
            transport.Channel = _claiming_channel(transport.Channel, dedupe)
        self.producer = celery.amqp.Producer(connection)
        # bound once: kombu binds a copy of an unbound queue on every publish
        self.queue = celery.amqp.queues[celery.conf.task_default_queue].bind(self.producer.channel)

    def publish(self, job: Job) -> None:
        self.celery.send_task(
            job.task,
            args=list(job.args),
            task_id=job.task_id,
            producer=self.producer,
            queue=self.queue,
            retry=False,
            # the arguments are small ids: their plain repr, not Celery's costlier safe repr
            argsrepr=repr(job.args),
            kwargsrepr="{}",
        )

    def publish_claimed(self, job: Job) -> bool:
        """Publish ``job`` if its delivery claims its dedupe keys; ``False`` for a duplicate."""
        claim = _Claim(job)
        channel = self.producer.channel
        channel.claim = claim
        try:
            self.publish(job)
        finally:
            channel.claim = None
        if claim.stored is None:
            raise QueueUnavailable("message not stored")
        return claim.stored


class TaskQueue:
    """The Celery producer side: ``send`` a task by name once per event, ``ping`` the broker."""

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
        self.dedupe: DedupeStore = (
            SqliteDedupe(settings.data_dir / "dedupe.sqlite3")
            if self._redis is None
            else RedisDedupe(self._redis)
        )
        self._local = threading.local()

    @property
    def redis(self) -> redis.Redis | None:
        """The broker's Redis (``None`` on the embedded queue)."""
        return self._redis

    def _publisher(self) -> _Publisher:
        publisher: _Publisher | None = getattr(self._local, "publisher", None)
        if publisher is None:
            if self._redis is not None:
                # kombu's own client retries for seconds while Redis is down: fail fast first
                self._redis.ping()
            dedupe = self.dedupe if isinstance(self.dedupe, RedisDedupe) else None
            publisher = self._local.publisher = _Publisher(self.celery, dedupe)
        return publisher

    def send(self, job: Job) -> bool:
        """Claim the job's dedupe keys for its delivery and send it; ``False`` (nothing sent)
        when another delivery holds a key. Raises :class:`QueueUnavailable` when the broker or
        the dedupe store cannot be reached; the caller then spools the job and sends it again
        later under the same delivery, the owner of any key it claimed meanwhile."""
        try:
            publisher = self._publisher()
            if isinstance(self.dedupe, RedisDedupe):
                return publisher.publish_claimed(job)
            if not self.dedupe.claim(job.dedupe_keys, job.delivery):
                return False
            publisher.publish(job)
        except DedupeUnavailable as error:
            raise QueueUnavailable(str(error)) from None
        except QueueUnavailable:
            raise
        except Exception as error:  # any broker failure means: spool, never lose the event
            raise QueueUnavailable(type(error).__name__) from None
        return True

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
