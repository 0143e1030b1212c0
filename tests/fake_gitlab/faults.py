"""Fault injection for the fake GitLab: throttling, server errors, slow answers, resets.

A fault matches requests by method and path regex (the path as sent, e.g.
`/api/v4/projects/1/merge_requests/1/draft_notes`). It fires `times` times (None: forever), each
matching request with probability `rate`, drawn from one seeded random generator so a run with
the same seed and the same request order injects the same faults.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MIX_KINDS = ("429", "500", "502", "503", "reset", "slow", "lost")


@dataclass
class Fault:
    """What to do to a matching request.

    status: answer this HTTP status instead of handling (429 gets `Retry-After: retry_after`
        unless `retry_after` is None, as some GitLab throttles answer).
    headers: more response headers of the status answer, e.g. `RateLimit-Reset` (Unix time).
    delay: seconds to wait before answering (a slow GitLab; a client timeout below it times out).
    reset: drop the connection without an answer.
    after: handle the request first (state changes happen), then delay/reset/answer `status`:
        the "POST succeeded but the client never heard" case.
    mix: instead of one kind, pick one per firing (seeded) from MIX_KINDS names: "429", "500",
        "502", "503", "reset", "slow" (waits `delay`, default 5 s, before answering) and "lost"
        (handled, then reset: the client cannot know it succeeded).
    """

    method: str | None = None
    path_regex: str = ".*"
    status: int | None = None
    delay: float = 0.0
    reset: bool = False
    after: bool = False
    retry_after: int | None = 1
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    rate: float = 1.0
    mix: list[str] | None = None
    fired: int = 0
    id: int = 0
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile(self.path_regex)
        unknown = set(self.mix or ()) - set(MIX_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {MIX_KINDS}")
        if self.status is None and not self.delay and not self.reset and not self.mix:
            raise ValueError("a fault needs a status, a delay, reset=True or a mix")

    def concrete(self, kind: str) -> Fault:
        """This fault narrowed to one kind of its mix."""
        return replace(
            self,
            mix=None,
            status=int(kind) if kind.isdigit() else None,
            reset=kind in ("reset", "lost"),
            after=kind == "lost",
            delay=(self.delay or 5.0) if kind == "slow" else 0.0,
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None

    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "pattern"}


class FaultPlan:
    """The active faults, consulted once per API request."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random = random.Random(seed)
        self._next_id = 1

    def seed(self, seed: int) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def add(self, **spec: Any) -> Fault:
        spec.pop("fired", None)
        spec.pop("id", None)
        fault = Fault(**spec)
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, if any (counts it as fired)."""
        with self._lock:
            for fault in self._faults:
                if fault.exhausted() or not fault.matches(method, path):
                    continue
                if fault.rate < 1.0 and self._random.random() >= fault.rate:
                    continue
                fault.fired += 1
                if fault.mix:
                    return fault.concrete(self._random.choice(fault.mix))
                return fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]
