"""The naive intake the bot's is measured against: a Flask route calling Celery ``apply_async``.

What a team would write first: verify the delivery's signature, parse the JSON, and hand the
review to Celery on the same Redis with ``task.apply_async`` (the same Celery configuration as
the bot's, :func:`layerbot.celery_app.make_celery`). No dedupe, no spool, no metrics; the review
itself runs in a worker, never inside the request. Served by gunicorn with 2 sync workers (see
``bench/intake.py``). Only for ``bench``.
"""

from __future__ import annotations

import json
import time

from flask import Flask, Response, request

from bot import webhook
from layerbot.celery_app import REVIEW_TASK, make_celery
from layerbot.settings import Settings


def create() -> Flask:
    settings = Settings.from_env()
    key = webhook.signing_key(settings.webhook_signing_token)
    celery = make_celery(settings)

    @celery.task(name=REVIEW_TASK)
    def review_merge_request(project_id: int, mr_iid: int, head_sha: str | None) -> None:
        """Never runs here: the bot's worker registers the real task under the same name."""

    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok")

    @app.post("/webhook")
    def hook() -> Response:
        raw = request.get_data()
        headers = webhook.SignatureHeaders(
            request.headers.get("webhook-id", ""),
            request.headers.get("webhook-timestamp", ""),
            request.headers.get("webhook-signature", ""),
        )
        webhook.check_signature(headers, raw, key, time.time())
        payload = json.loads(raw)
        attributes = payload["object_attributes"]
        head = attributes["last_commit"]["id"]
        task = review_merge_request.apply_async(
            args=(payload["project"]["id"], attributes["iid"], head)
        )
        return Response(json.dumps({"task_id": task.id}), status=202, mimetype="application/json")

    return app
