"""Every delivery the intake accepts becomes exactly one task in a real Celery worker.

Real parts: ``layerbot serve`` (gunicorn, shipped config) on a throwaway ``redis-server``, and a
Celery worker process (:mod:`tests.hardening.recording_worker`: the bot's Celery app, tasks that
record each run). Eight clients post at once over keep-alive connections: new pushes and
commands, GitLab's resends of a delivery (same ``webhook-id``), and pushes every client delivers
under an id of its own (two hooks on one project), racing for the same dedupe key.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis

from layerbot.celery_app import NOTE_TASK, REVIEW_TASK
from tests.e2e.worker_fixtures import stop_worker
from tests.hardening.figures import scaled
from tests.hardening.recording import ARGS, RAN
from tests.hardening.stack import hardening_redis_fixture
from tests.web.live import ROOT, serve, wait_for
from tests.web.payloads import (
    SECRET,
    SIGNING_TOKEN,
    body,
    merge_request_event,
    note_event,
    sha,
    signed_headers,
)

assert hardening_redis_fixture  # a fixture, used by name
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENTS = 8
SHARED_PUSHES = 10
MR, NOTE = "Merge Request Hook", "Note Hook"


class Delivery:
    """One event as GitLab posts it, and the task it must become."""

    def __init__(self, event: str, payload: dict[str, Any], task: str, task_id: str) -> None:
        self.event = event
        self.raw = body(payload)
        self.task = task
        self.task_id = task_id
        self.args: list[Any] = []


def push(project: int, iid: int, seed: str) -> Delivery:
    head = sha(seed)
    payload = merge_request_event("update", project_id=project, iid=iid, head=head, oldrev=sha(""))
    delivery = Delivery(MR, payload, REVIEW_TASK, f"review-{project}-{iid}-{head}")
    delivery.args = [project, iid, head]
    return delivery


def command(project: int, iid: int, note_id: int) -> Delivery:
    payload = note_event("@layerbot recheck", project_id=project, note_id=note_id, iid=iid)
    delivery = Delivery(NOTE, payload, NOTE_TASK, f"note-{project}-{note_id}")
    delivery.args = [project, iid, note_id, False]
    return delivery


def client_deliveries(client: int, count: int) -> list[tuple[Delivery, str]]:
    """A client's own events, every third resent under the same id, then the shared pushes
    under ids of its own."""
    project = 100 + client
    sent: list[tuple[Delivery, str]] = []
    for number in range(1, count + 1):
        own = command(project, 1, number) if number % 4 == 0 else push(project, number, f"{client}")
        sent.append((own, f"c{client}-{number}"))
        if number % 3 == 0:
            sent.append((own, f"c{client}-{number}"))
    sent += [
        (push(99, number, "shared"), f"c{client}-shared-{number}")
        for number in range(1, SHARED_PUSHES + 1)
    ]
    return sent


def post_all(port: int, deliveries: list[tuple[Delivery, str]]) -> list[tuple[int, dict[str, Any]]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answers = []
    try:
        for delivery, webhook_id in deliveries:
            headers = signed_headers(delivery.event, delivery.raw, webhook_id=webhook_id)
            connection.request("POST", "/webhook", delivery.raw, headers)
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())))
    finally:
        connection.close()
    return answers


def start_recording_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "tests.hardening.recording_worker"]
    command += ["worker", "--concurrency", "2", "--without-gossip", "--without-mingle"]
    with log.open("ab") as output:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def test_every_accepted_delivery_runs_exactly_once_in_a_real_worker(
    hardening_redis: str, tmp_path: Path
) -> None:
    settings = {
        "REDIS_URL": hardening_redis,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_SIGNING_TOKEN": SIGNING_TOKEN,
        "LAYERBOT_DATA_DIR": str(tmp_path / "web"),
    }
    per_client = scaled(25)
    plans = [client_deliveries(client, per_client) for client in range(CLIENTS)]
    answers: list[list[tuple[int, dict[str, Any]]]] = [[] for _ in plans]
    env = {**os.environ, **settings, "PYTHONPATH": str(ROOT)}
    worker = start_recording_worker(env, tmp_path / "worker.log")
    store = redis.Redis.from_url(hardening_redis, decode_responses=True)
    try:
        with serve(settings, tmp_path) as server:
            port = int(server.base.rsplit(":", 1)[1])

            def run(index: int) -> None:
                answers[index] = post_all(port, plans[index])

            clients = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
        flat = [answer for client in answers for answer in client]
        assert len(flat) == sum(len(plan) for plan in plans)
        outcomes = Counter((status, answer["status"]) for status, answer in flat)
        assert set(outcomes) == {(202, "queued"), (200, "duplicate")}
        events = {d.task_id: d for plan in plans for d, _ in plan}
        queued = Counter(answer["task_id"] for _, answer in flat if answer["status"] == "queued")
        assert queued == dict.fromkeys(events, 1)  # each event accepted once, whoever came first

        wait_for(lambda: store.hlen(RAN) >= len(events), "the worker to run every task")
        wait_for(lambda: store.llen("celery") == 0 and store.hlen("unacked") == 0, "an idle queue")
        ran = {task_id: int(count) for task_id, count in store.hgetall(RAN).items()}
        ran_args = {task_id: json.loads(args) for task_id, args in store.hgetall(ARGS).items()}
    finally:
        stop_worker(worker)
    assert ran == dict.fromkeys(events, 1)  # and run once: nothing lost, nothing doubled
    assert ran_args == {task_id: delivery.args for task_id, delivery in events.items()}
