"""The naive intake the queue is measured against: ask GitLab inside the webhook request.

Same signature checks, no queue: each delivery fetches its merge request from the (fake) GitLab
before answering, the way a bot without a worker would start its review. Only for ``bench``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

from flask import Flask, Response, request

from bot import webhook
from layerbot.settings import Settings
from tests.fake_gitlab.server import BOT_TOKEN


def create() -> Flask:
    settings = Settings.from_env()
    key = webhook.signing_key(settings.webhook_signing_token)
    gitlab_url = os.environ["NAIVE_GITLAB_URL"]
    latency = float(os.environ.get("NAIVE_LATENCY", "0"))
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
        project = payload["project"]["id"]
        iid = payload["object_attributes"]["iid"]
        time.sleep(latency)  # GitLab's own answer time, which the fake does not add
        url = f"{gitlab_url}/api/v4/projects/{project}/merge_requests/{iid}"
        call = urllib.request.Request(url, headers={"PRIVATE-TOKEN": BOT_TOKEN})
        try:
            with urllib.request.urlopen(call, timeout=10) as answer:
                answer.read()
        except OSError:
            pass  # an unknown MR answers 404: the round trip is what is measured
        return Response("{}", status=202, mimetype="application/json")

    return app
