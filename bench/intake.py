"""Webhook intake under load: the production server beside the naive intake, in the same run.

The shipped gunicorn config serves the real app (``layerbot serve`` with ``REDIS_URL``, the
default ``LOG_LEVEL``). The anchor is the naive intake (:mod:`bench.naive_app`): a Flask route
calling Celery ``apply_async`` on the same Redis, under gunicorn with 2 sync workers. An asyncio
client on loopback sends signed Merge Request Hook deliveries over keep-alive connections for a
bounded time; one delivery in ten is a redelivery of an earlier one (same ``webhook-id``), which
must not add a task. Afterwards the Celery queue in Redis must hold exactly one of our tasks per
unique accepted event: nothing lost, nothing doubled.

The machine may be shared: both servers run side by side and the load goes to each in turn,
several rounds per concurrency (the first server alternating), and a level's figure is the
median over its rounds; the ratio is the median of the rounds' ratios. Goal (issue 13): at least
``GOAL_RATIO`` times the naive intake's accepted events/s, p99 under ``GOAL_P99_MS`` at
``GOAL_CONCURRENCY`` connections.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis

from bench.measure import percentile, rss_mb, tree
from bench.processes import free_port, layerbot, running
from tests.web.payloads import SECRET, SIGNING_TOKEN, body, merge_request_event, sha, signed_headers

EVENT = "Merge Request Hook"
REDELIVERY_EVERY = 10
CELERY_QUEUE = "celery"
GOAL_RATIO = 1.3
GOAL_P99_MS = 50.0
GOAL_CONCURRENCY = 16


class Deliveries:
    """Signed MR events: mostly new pushes, every tenth a redelivery of an earlier one."""

    def __init__(self, level: str, host: str) -> None:
        self.level = level
        self.host = host
        self.sent: list[tuple[str, bytes]] = []
        self.redeliveries = 0
        self.rng = random.Random(level)

    def next(self) -> tuple[str, bytes, bool]:
        count = len(self.sent)
        if self.sent and count % REDELIVERY_EVERY == REDELIVERY_EVERY - 1:
            webhook_id, payload = self.rng.choice(self.sent)
            self.sent.append((webhook_id, payload))
            self.redeliveries += 1
            return webhook_id, payload, True
        event = merge_request_event(
            "update",
            project_id=1 + count % 50,
            iid=1 + count,
            head=sha(f"{self.level}-{count}"),
            oldrev=sha(f"{self.level}-{count}-old"),
        )
        webhook_id = f"{self.level}-{count}"
        payload = body(event)
        self.sent.append((webhook_id, payload))
        return webhook_id, payload, False

    def request(self) -> tuple[bytes, str, bool]:
        webhook_id, payload, redelivery = self.next()
        headers = signed_headers(EVENT, payload, webhook_id=webhook_id)
        lines = ["POST /webhook HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(payload)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload, webhook_id, redelivery


async def _client(
    host: str,
    port: int,
    deliveries: Deliveries,
    deadline: float,
    latencies: list[float],
    statuses: Counter[int],
    accepted: set[str],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            request, webhook_id, redelivery = deliveries.request()
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                statuses[0] += 1
                reader, writer = await asyncio.open_connection(host, port)
                continue
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            status = int(status_line.split()[1])
            statuses[status] += 1
            if 200 <= status < 300 and not redelivery:
                accepted.add(webhook_id)
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


def load(port: int, level: str, concurrency: int, seconds: float) -> dict[str, object]:
    """``concurrency`` keep-alive clients for ``seconds``; statuses, latencies, accepted ids."""
    deliveries = Deliveries(level, f"127.0.0.1:{port}")
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    accepted: set[str] = set()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _client("127.0.0.1", port, deliveries, deadline, latencies, statuses, accepted)
                for _ in range(concurrency)
            )
        )

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "accepted_per_s": ok / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies, default=0.0) * 1000,
        "errors": sum(count for status, count in statuses.items() if not 200 <= status < 300),
        "redeliveries": deliveries.redeliveries,
        "unique_accepted": sorted(accepted),
    }


def queued_task_ids(client: redis.Redis) -> list[str]:
    """Task ids of the Celery messages waiting in Redis (one per enqueued review)."""
    ids = []
    for raw in client.lrange(CELERY_QUEUE, 0, -1):
        message = json.loads(raw)
        ids.append(str(message["headers"]["id"]))
    return ids


def _bench_env(data_dir: Path, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_url,
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_SIGNING_TOKEN=SIGNING_TOKEN,
        LAYERBOT_DATA_DIR=str(data_dir),
        GITLAB_URL="http://127.0.0.1:9",
    )
    env.pop("LOG_LEVEL", None)  # the default (INFO): one line per delivery, as in production
    env.pop("WEB_ACCESS_LOG", None)
    return env


class Variant:
    """One server under test: its port, its Redis database and how a round is checked."""

    def __init__(self, name: str, port: int, redis_url: str, pid: int) -> None:
        self.name = name
        self.port = port
        self.client = redis.Redis.from_url(redis_url)
        self.pid = pid

    def round(self, level: str, concurrency: int, seconds: float) -> dict[str, Any]:
        self.client.flushdb()
        row = load(self.port, level, concurrency, seconds)
        accepted = row.pop("unique_accepted")
        assert isinstance(accepted, list)
        if self.name == "queue":  # the naive intake has no dedupe: redeliveries are tasks too
            task_ids = queued_task_ids(self.client)
            row["tasks_queued"] = len(task_ids)
            row["duplicates"] = len(task_ids) - len(set(task_ids))
            row["lost"] = max(0, len(accepted) - len(set(task_ids)))
            row["web_rss_mb"] = max(rss_mb(pid) for pid in tree(self.pid))
        return row


@contextmanager
def _servers(redis_url: str) -> Iterator[tuple[Variant, Variant]]:
    """Our production server and the naive one, each with a Redis database of its own."""
    ours_url, naive_url = redis_url, _database(redis_url, 14)
    ours_port, naive_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        serve = layerbot("serve", "--port", str(ours_port))
        ours_env = _bench_env(Path(folder) / "ours", ours_url)
        health = "http://127.0.0.1:{}/healthz"
        ours = stack.enter_context(running(serve, ours_env, health.format(ours_port)))
        gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "--log-level", "warning"]
        gunicorn += ["--bind", f"127.0.0.1:{naive_port}", "bench.naive_app:create()"]
        naive_env = _bench_env(Path(folder) / "naive", naive_url)
        naive = stack.enter_context(running(gunicorn, naive_env, health.format(naive_port)))
        yield (
            Variant("queue", ours_port, ours_url, ours.pid),
            Variant("naive", naive_port, naive_url, naive.pid),
        )


def _median_row(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """A level's figures: medians of the rounds' speeds, sums of their counts."""
    row: dict[str, Any] = {"concurrency": rounds[0]["concurrency"], "rounds": len(rounds)}
    for key in ("accepted_per_s", "p50_ms", "p99_ms"):
        row[key] = statistics.median(r[key] for r in rounds)
    row["max_ms"] = max(r["max_ms"] for r in rounds)
    for key in ("requests", "errors", "redeliveries", "tasks_queued", "duplicates", "lost"):
        if key in rounds[0]:
            row[key] = sum(r[key] for r in rounds)
    if "web_rss_mb" in rounds[0]:
        row["web_rss_mb"] = max(r["web_rss_mb"] for r in rounds)
    return row


def run(levels: list[int], rounds: int, seconds: float, redis_url: str) -> dict[str, object]:
    """``rounds`` alternating rounds of ``seconds`` per concurrency level, on both servers."""
    queue_rows, naive_rows, ratios = [], [], {}
    load_before = os.getloadavg()[0]  # the machine may be shared: its load goes with the figures
    with _servers(redis_url) as (ours, naive):
        for variant in (ours, naive):
            variant.round("warm-up", 4, min(seconds, 1.0))
        for concurrency in levels:
            measured: dict[str, list[dict[str, Any]]] = {"queue": [], "naive": []}
            for number in range(rounds):
                order = (ours, naive) if number % 2 == 0 else (naive, ours)
                for variant in order:
                    level = f"{variant.name}-c{concurrency}-r{number}"
                    measured[variant.name].append(variant.round(level, concurrency, seconds))
            per_round = [
                q["accepted_per_s"] / n["accepted_per_s"]
                for q, n in zip(measured["queue"], measured["naive"], strict=True)
                if n["accepted_per_s"]
            ]
            ratios[str(concurrency)] = {
                "median": statistics.median(per_round) if per_round else float("nan"),
                "rounds": per_round,
            }
            queue_rows.append(_median_row(measured["queue"]))
            naive_rows.append(_median_row(measured["naive"]))
    return {
        "seconds_per_round": seconds,
        "rounds": rounds,
        "queue": queue_rows,
        "naive": naive_rows,
        "ratio_to_naive": ratios,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "goal": {
            "ratio": GOAL_RATIO,
            "p99_ms": GOAL_P99_MS,
            "concurrency": GOAL_CONCURRENCY,
        },
    }


def _database(url: str, number: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{number}" if url.count("/") >= 3 else url + f"/{number}"


def bench_redis_url() -> str:
    """A Redis database of its own (15) on the configured server, flushed between rounds (the
    naive intake uses database 14)."""
    return _database(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), 15)
