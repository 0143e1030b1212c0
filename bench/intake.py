"""Webhook intake under load: the production server with a real Redis, and a naive variant.

The shipped gunicorn config serves the real app (``layerbot serve`` with ``REDIS_URL``). An
asyncio client on loopback sends signed Merge Request Hook deliveries over keep-alive
connections at increasing concurrency for a bounded time; one delivery in ten is a redelivery
of an earlier one (same ``webhook-id``), which must not add a task. Afterwards the Celery queue in
Redis must hold exactly one task per unique accepted event: nothing lost, nothing doubled.

The naive variant is what the queue buys: the same server sizing, but each request asks the
fake GitLab for the merge request before answering, as a bot without a queue would.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import redis

from bench.measure import percentile, rss_mb, tree
from bench.processes import fake_gitlab, free_port, layerbot, running
from tests.web.payloads import SECRET, SIGNING_TOKEN, body, merge_request_event, sha, signed_headers

EVENT = "Merge Request Hook"
REDELIVERY_EVERY = 10
CELERY_QUEUE = "celery"


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
        LOG_LEVEL="WARNING",
    )
    return env


def _queue_run(levels: list[int], seconds: float, redis_url: str) -> list[dict[str, object]]:
    client = redis.Redis.from_url(redis_url)
    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        env = _bench_env(Path(folder), redis_url)
        serve = layerbot("serve", "--port", str(port))
        with running(serve, env, f"http://127.0.0.1:{port}/healthz") as server:
            for concurrency in levels:
                client.flushdb()
                row = load(port, f"c{concurrency}", concurrency, seconds)
                task_ids = queued_task_ids(client)
                accepted = row.pop("unique_accepted")
                assert isinstance(accepted, list)
                row["tasks_queued"] = len(task_ids)
                row["duplicates"] = len(task_ids) - len(set(task_ids))
                row["lost"] = max(0, len(accepted) - len(set(task_ids)))
                row["web_rss_mb"] = max(rss_mb(pid) for pid in tree(server.pid))
                rows.append(row)
    return rows


def _naive_run(levels: list[int], seconds: float, latency: float) -> list[dict[str, object]]:
    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory() as folder, fake_gitlab() as fake:
        env = _bench_env(Path(folder), "")
        env.update(NAIVE_GITLAB_URL=fake.url, NAIVE_LATENCY=str(latency))
        # The same sizing as the shipped config (gthread, 2 workers x 4 threads).
        gunicorn = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2"]
        gunicorn += ["--threads", "4", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        with running(
            [*gunicorn, "bench.naive_app:create()"], env, f"http://127.0.0.1:{port}/healthz"
        ):
            for concurrency in levels:
                row = load(port, f"naive{concurrency}", concurrency, seconds)
                row.pop("unique_accepted")
                rows.append(row)
    return rows


def run(
    levels: list[int], seconds: float, redis_url: str, naive_latency: float
) -> dict[str, object]:
    return {
        "seconds_per_level": seconds,
        "queue": _queue_run(levels, seconds, redis_url),
        "naive": _naive_run(levels, seconds, naive_latency),
        "naive_gitlab_latency_ms": naive_latency * 1000,
    }


def bench_redis_url() -> str:
    """A Redis database of its own (15) on the configured server, flushed between levels."""
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return base.rsplit("/", 1)[0] + "/15" if base.count("/") >= 3 else base + "/15"
