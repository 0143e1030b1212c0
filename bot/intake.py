"""Accept a job exactly once: dedupe, enqueue, or spool when the broker is down.

The request path and the spool replayer share :meth:`Intake.deliver`, so a replayed event goes
through the same dedupe claim (owned by its delivery id) as a fresh one. After a broker failure
the request path spools straight away for a short while, so an outage costs requests no timeouts;
the replayer probes the broker meanwhile.
"""

from __future__ import annotations

import enum
import logging
import threading
import time

from bot.metrics import WebMetrics
from bot.queue import Job, QueueUnavailable, TaskQueue
from bot.spool import Spool

log = logging.getLogger(__name__)

BROKER_BACKOFF_SECONDS = 2.0
"""After a broker failure, requests spool without trying the broker for this long."""


class SpoolFailed(Exception):
    """Neither the broker nor the local disk took an accepted event (answered 503)."""


class Outcome(enum.Enum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"
    SPOOLED = "spooled"


class Intake:
    def __init__(self, queue: TaskQueue, spool: Spool, metrics: WebMetrics) -> None:
        self.queue = queue
        self.spool = spool
        self.metrics = metrics
        self._lock = threading.Lock()
        self._broker_down_until = 0.0

    def _broker_failed(self, reason: str) -> None:
        with self._lock:
            self._broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        log.warning("broker unavailable (%s): spooling", reason)

    def _broker_backing_off(self) -> bool:
        with self._lock:
            return time.monotonic() < self._broker_down_until

    def deliver(self, job: Job, via: str) -> Outcome | None:
        """Claim and enqueue ``job``; ``None`` when the broker or dedupe store is unreachable."""
        try:
            sent = self.queue.send(job)
        except QueueUnavailable as error:
            self._broker_failed(str(error))
            return None
        if not sent:
            self.metrics.duplicates.inc()
            return Outcome.DUPLICATE
        self.metrics.enqueued.labels(job.task, via).inc()
        with self._lock:
            self._broker_down_until = 0.0
        return Outcome.QUEUED

    def accept(self, job: Job) -> Outcome:
        """The request path: never raises for a broker outage; the event is queued or spooled."""
        if not self._broker_backing_off():
            outcome = self.deliver(job, via="request")
            if outcome is not None:
                return outcome
        try:
            self.spool.put(job)
        except OSError as error:
            log.error("spool: cannot store event (%s)", type(error).__name__)
            raise SpoolFailed(type(error).__name__) from None
        self.metrics.spooled.inc()
        return Outcome.SPOOLED

    def replay(self, job: Job) -> bool:
        """The replayer's step: True when the job left the spool (queued or a duplicate)."""
        return self.deliver(job, via="spool") is not None
