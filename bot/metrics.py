"""Prometheus metrics of the web side, and the ``/metrics`` exposition.

Multi-process: gunicorn runs several worker processes, so the shipped config (and ``layerbot
serve``) sets ``PROMETHEUS_MULTIPROC_DIR`` before any process imports prometheus_client. Each
process then writes its values to files there, and ``/metrics`` in any process sums them all,
including those of a Celery worker started with the same folder (the embedded one-machine setup,
or a worker sharing the volume): the worker's own metrics (reviews, GitLab API calls) appear here
when it defines them with prometheus_client. Without that variable (tests, a single process) the
app's own registry is exposed.

Label values are always from small fixed sets: header values from the request never become labels.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.spool import Spool

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

EVENT_LABELS = {"Merge Request Hook": "merge_request", "Note Hook": "note"}


def event_label(header: str | None) -> str:
    return EVENT_LABELS.get(header or "", "other")


class WebMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "layerbot_webhook_events_received",
            "Webhook deliveries received, by X-Gitlab-Event.",
            ["event"],
            registry=registry,
        )
        self.ignored = Counter(
            "layerbot_webhook_events_ignored",
            "Well-formed deliveries answered 2xx without a task, by reason.",
            ["reason"],
            registry=registry,
        )
        self.rejected = Counter(
            "layerbot_webhook_events_rejected",
            "Deliveries refused with a 4xx, by reason.",
            ["reason"],
            registry=registry,
        )
        self.duplicates = Counter(
            "layerbot_webhook_events_duplicate",
            "Redeliveries of an event already accepted (not enqueued again).",
            registry=registry,
        )
        self.enqueued = Counter(
            "layerbot_tasks_enqueued",
            "Tasks handed to the broker, by task name and path (request or spool replay).",
            ["task", "via"],
            registry=registry,
        )
        self.spooled = Counter(
            "layerbot_events_spooled",
            "Accepted events written to the local spool because the broker was unreachable.",
            registry=registry,
        )
        self.latency = Histogram(
            "layerbot_webhook_request_seconds",
            "Time to answer a webhook delivery.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5),
            registry=registry,
        )


class SpoolCollector(Collector):
    """Events waiting in the spool, counted on the disk at scrape time (true across processes)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "layerbot_spool_pending",
            "Accepted events waiting in the local spool for the broker.",
            value=self.spool.pending(),
        )


def exposition(app_registry: CollectorRegistry, spool: Spool) -> bytes:
    """The text for ``/metrics``: every process's values in multi-process mode, else our own."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return generate_latest(app_registry)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    registry.register(SpoolCollector(spool))
    return generate_latest(registry)
