"""The Flask app: ``POST /webhook``, ``GET /healthz``, ``GET /metrics``, ``GET /rules/<name>``.

``create_app(settings)`` builds everything; importing this module does nothing. The request path
authenticates, classifies, dedupes and enqueues task ids by name (or spools them), answering in
milliseconds: it never calls GitLab and never logs the body or a token.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response, request
from prometheus_client import CollectorRegistry
from werkzeug.exceptions import RequestEntityTooLarge

from bot import webhook
from bot.intake import Intake, Outcome, SpoolFailed
from bot.metrics import SpoolCollector, WebMetrics, event_label, exposition
from bot.queue import Job, TaskQueue
from bot.spool import Replayer, Spool
from layerbot import health
from layerbot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_READ_CHUNK = 64 * 1024


@dataclass
class WebServices:
    """What the routes share; ``app.extensions["layerbot"]``."""

    settings: Settings
    queue: TaskQueue
    spool: Spool
    intake: Intake
    replayer: Replayer
    registry: CollectorRegistry
    metrics: WebMetrics
    signing_key: bytes | None


def _signing_key(settings: Settings) -> bytes | None:
    if not settings.webhook_signing_token:
        return None
    try:
        return webhook.signing_key(settings.webhook_signing_token)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def validate_settings(settings: Settings) -> None:
    """Refuse to start a web side that would accept unauthenticated webhooks."""
    if not (settings.webhook_secret or settings.webhook_signing_token):
        raise SettingsError("set WEBHOOK_SECRET (or WEBHOOK_SIGNING_TOKEN) to accept webhooks")
    _signing_key(settings)


def create_app(settings: Settings, queue: TaskQueue | None = None) -> Flask:
    """The web app for ``settings``; ``queue`` defaults to the Celery broker they configure."""
    validate_settings(settings)
    queue = queue or TaskQueue(settings)
    registry = CollectorRegistry()
    metrics = WebMetrics(registry)
    spool = Spool(settings.spool_dir)
    registry.register(SpoolCollector(spool))
    intake = Intake(queue, spool, metrics)
    state = WebServices(
        settings=settings,
        queue=queue,
        spool=spool,
        intake=intake,
        replayer=Replayer(spool, intake.replay),
        registry=registry,
        metrics=metrics,
        signing_key=_signing_key(settings),
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["layerbot"] = state

    @app.post("/webhook")
    def receive() -> tuple[Response, int]:
        started = time.perf_counter()
        try:
            return _receive(state, request)
        finally:
            metrics.latency.observe(time.perf_counter() - started)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return _health(state)

    @app.get("/metrics")
    def metrics_page() -> Response:
        return Response(
            exposition(registry, spool), mimetype="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.get("/rules/<name>")
    def rule_page(name: str) -> Response:
        return _rule_page(name, request)

    return app


def _rule_page(name: str, incoming: Request) -> Response:
    """The rule's documentation (what ``layerbot rule NAME`` prints): Markdown for
    ``NAME.md`` or a client asking for ``text/markdown``, else the same text as escaped HTML."""
    from layerbot import rule_pages  # the rules load on the first page asked, not at start

    markdown = name.endswith(".md")
    rule = rule_pages.find_rule(name.removesuffix(".md"))
    if rule is None:
        return Response("no such rule\n", status=404, mimetype="text/plain")
    accepted = incoming.accept_mimetypes
    if markdown or accepted.best_match(["text/html", "text/markdown"]) == "text/markdown":
        return Response(rule_pages.page_markdown(rule), mimetype="text/markdown")
    return Response(rule_pages.page_html(rule), mimetype="text/html")


def create_app_from_env() -> Flask:
    """Gunicorn's entry point (``bot.app:create_app_from_env()``)."""
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    return create_app(settings)


def _read_body(incoming: Request, limit: int) -> bytes:
    """The body, reading no further than ``limit`` + 1 bytes (413 beyond the cap)."""
    too_large = webhook.Rejected(413, "too_large", f"body larger than {limit} bytes")
    if incoming.content_length is not None and incoming.content_length > limit:
        _discard(incoming, 2 * limit)
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            chunk = incoming.stream.read(min(_READ_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:  # Werkzeug's own cap on a body of unknown length
        size = limit + 1
    if size > limit:
        _discard(incoming, 2 * limit - size)
        raise too_large
    return b"".join(chunks)


def _discard(incoming: Request, up_to: int) -> None:
    """Reads and drops up to ``up_to`` more bytes of a refused body.

    A server that closes its socket with unread bytes in it sends a TCP reset, and the client
    may lose the 413 answer already sent; a body up to twice the cap is read to its end so the
    sender gets the answer, a larger one is cut off. It reads the WSGI input itself: Werkzeug's
    stream refuses a body whose declared length is over ``MAX_CONTENT_LENGTH`` before reading
    any of it (``werkzeug.wsgi.get_input_stream``), and the server's input ends where the
    declared length does.
    """
    raw = incoming.environ["wsgi.input"]
    left = up_to
    try:
        while left > 0:
            chunk = raw.read(min(_READ_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
    except (RequestEntityTooLarge, OSError):
        return


def _decide(state: WebServices, incoming: Request) -> webhook.Decision:
    settings = state.settings
    webhook.check_token(incoming.headers.get("X-Gitlab-Token"), settings)
    body = _read_body(incoming, settings.max_body_bytes)
    if state.signing_key is not None:
        headers = incoming.headers
        webhook.check_signature(
            webhook.SignatureHeaders(
                headers.get("webhook-id", ""),
                headers.get("webhook-timestamp", ""),
                headers.get("webhook-signature", ""),
            ),
            body,
            state.signing_key,
            time.time(),
        )
    event = incoming.headers.get("X-Gitlab-Event")
    if event not in webhook.KNOWN_EVENTS:
        return webhook.Ignored("unknown_event", status=202)
    return webhook.classify(event, webhook.parse_json(body), settings)


def _job(decision: webhook.Enqueue, idempotency_key: str | None) -> Job:
    keys = decision.dedupe_keys
    if idempotency_key and _IDEMPOTENCY_KEY.match(idempotency_key):
        keys = (f"delivery:{idempotency_key}", *keys)
    return Job(
        task=decision.task,
        args=decision.args,
        task_id=decision.task_id,
        dedupe_keys=keys,
        delivery=uuid.uuid4().hex,
    )


def _answer(code: int, /, **fields: Any) -> tuple[Response, int]:
    return Response(json.dumps(fields), mimetype="application/json"), code


def _receive(state: WebServices, incoming: Request) -> tuple[Response, int]:
    metrics = state.metrics
    event = incoming.headers.get("X-Gitlab-Event")
    metrics.received.labels(event_label(event)).inc()
    try:
        decision = _decide(state, incoming)
    except webhook.Rejected as rejected:
        metrics.rejected.labels(rejected.reason).inc()
        log.info("webhook rejected: %s (%s)", rejected.reason, rejected.detail)
        return _answer(rejected.status, status="rejected", reason=rejected.detail)
    if isinstance(decision, webhook.Ignored):
        metrics.ignored.labels(decision.reason).inc()
        log.info("webhook %s ignored: %s", event_label(event), decision.reason)
        return _answer(decision.status, status="ignored", reason=decision.reason)
    # GitLab sends the same value as webhook-id on signed hooks; either names the delivery
    delivery_key = incoming.headers.get("Idempotency-Key") or incoming.headers.get("webhook-id")
    job = _job(decision, delivery_key)
    try:
        outcome = state.intake.accept(job)
    except SpoolFailed:
        return _answer(503, status="error", reason="broker and spool unavailable")
    log.info(
        "webhook %s project=%s task=%s: %s",
        event_label(event),
        decision.project_id,
        job.task_id,
        outcome.value,
    )
    if outcome is Outcome.DUPLICATE:
        return _answer(200, status="duplicate", task_id=job.task_id)
    return _answer(202, status=outcome.value, task_id=job.task_id)


def _health(state: WebServices) -> tuple[Response, int]:
    """200 while events can be accepted (broker up, or spool writable), else 503.

    A broker outage alone keeps 200 (events are spooled): a readiness probe that took the web
    out of service would make GitLab's deliveries fail and disable the hook.
    """
    broker_problem = state.queue.ping()
    spool_ok = state.spool.writable()
    auth_problem = health.gitlab_auth_failure(state.settings, state.queue.redis)
    degraded = broker_problem is not None or auth_problem is not None
    body = {
        "status": "degraded" if degraded else "ok",
        "broker": broker_problem or "ok",
        "spool": {"writable": spool_ok, "pending": state.spool.pending()},
        "gitlab_auth": f"failed: {auth_problem}" if auth_problem else "ok",
    }
    return _answer(200 if broker_problem is None or spool_ok else 503, **body)
