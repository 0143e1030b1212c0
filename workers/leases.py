"""Keeping a short Redis lease alive while work runs.

Locks and slots are taken with a short lease and renewed from a thread: a worker killed with
SIGKILL stops renewing, so its lease expires in seconds and the redelivered task does not wait
out a long timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

log = logging.getLogger(__name__)


@contextmanager
def renewed(renew: Callable[[], object], every: float, what: str) -> Iterator[None]:
    """Call ``renew`` every ``every`` seconds while the block runs; stop before it returns."""
    stop = threading.Event()

    def keep_alive() -> None:
        while not stop.wait(every):
            try:
                renew()
            except redis.RedisError:
                log.warning("could not renew %s", what, exc_info=True)

    renewer = threading.Thread(target=keep_alive, daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
