"""The durable spool and its replay: several processes, crashed claims, nothing lost or doubled."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from bot.intake import Intake
from bot.metrics import WebMetrics
from bot.queue import Job, TaskQueue
from bot.spool import Replayer, Spool, process_identity
from layerbot.celery_app import REVIEW_TASK
from layerbot.settings import Settings
from tests.web.conftest import embedded_messages


def job(number: int, delivery: str | None = None) -> Job:
    head = f"{number:040x}"
    return Job(
        task=REVIEW_TASK,
        args=(1, number, head),
        task_id=f"review-1-{number}-{head}",
        dedupe_keys=(f"review:1:{number}:{head}",),
        delivery=delivery or f"delivery-{number}",
    )


def replayer(settings: Settings) -> Replayer:
    spool = Spool(settings.spool_dir)
    intake = Intake(TaskQueue(settings), spool, WebMetrics(CollectorRegistry()))
    return Replayer(spool, intake.replay)


def test_a_spooled_job_is_a_complete_file_in_ready(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    path = spool.put(job(1))
    assert path.parent == tmp_path / "spool" / "ready"
    assert Job.from_json(json.loads(path.read_bytes())) == job(1)
    assert list((tmp_path / "spool" / "tmp").iterdir()) == []
    assert spool.pending() == 1


PASSES = 200
"""Replay passes a child makes at most: far more than a drained spool ever needs."""


def _replay_until_drained(data_dir: str) -> None:
    """What the replayer thread does, one pass after another, until the spool is empty.

    A pass stops at the first job it cannot deliver (the embedded queue's SQLite dedupe file
    answers ``OperationalError`` while the other process holds it) and leaves that job in
    ``ready/`` for the next pass, as the thread would a second later.
    """
    replaying = replayer(Settings(webhook_secret="x", data_dir=Path(data_dir)))
    for _ in range(PASSES):
        replaying.replay_once()
        if replaying.spool.pending() == 0:
            return
        time.sleep(0.01)  # let the other process finish the claims it holds
    raise AssertionError(f"spool not drained after {PASSES} passes")


@pytest.mark.slow
def test_two_processes_replaying_one_spool_enqueue_each_job_once(tmp_path: Path) -> None:
    """Checks the outcome once the spool has drained: every job enqueued exactly once.

    Not that one pass empties it: a busy database leaves a job for the next pass (see
    ``test_a_job_a_pass_could_not_deliver_waits_in_the_spool_for_the_next_pass``).
    """
    settings = Settings(webhook_secret="x", data_dir=tmp_path)
    spool = Spool(settings.spool_dir)
    for number in range(60):
        spool.put(job(number))
    spool.put(job(7, delivery="a-redelivery-of-7"))
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_replay_until_drained, args=(str(tmp_path),)) for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()  # each child stops after at most PASSES passes
        assert child.exitcode == 0
    assert spool.pending() == 0
    ids = [message["id"] for message in embedded_messages(settings)]
    assert sorted(ids) == sorted(job(number).task_id for number in range(60))


def test_a_job_a_pass_could_not_deliver_waits_in_the_spool_for_the_next_pass(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool")
    for number in range(3):
        spool.put(job(number))
    answers = iter([True, False, True, True])
    delivered: list[Job] = []

    def deliver(job: Job) -> bool:
        accepted = next(answers)
        if accepted:
            delivered.append(job)
        return accepted

    replaying = Replayer(spool, deliver)
    assert replaying.replay_once() == 1
    assert spool.pending() == 2
    assert list(spool.claimed.iterdir()) == []  # the refused job went back to ready/
    assert len(list(spool.ready.iterdir())) == 2
    assert replaying.replay_once() == 2
    assert spool.pending() == 0
    assert delivered == [job(0), job(1), job(2)]


def test_a_claim_left_by_a_dead_process_is_replayed_and_a_live_one_is_not(tmp_path: Path) -> None:
    settings = Settings(webhook_secret="x", data_dir=tmp_path)
    spool = Spool(settings.spool_dir)
    spool.put(job(1))
    spool.put(job(2))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    first, second = sorted(spool.ready.iterdir())
    spool.claimed.mkdir(parents=True, exist_ok=True)
    os.rename(first, spool.claimed / f"{first.stem}@{dead_pid}.json")
    os.rename(second, spool.claimed / f"{second.stem}@{process_identity(os.getppid())}.json")
    assert replayer(settings).replay_once() == 1
    assert [m["args"][1] for m in embedded_messages(settings)] == [1]
    assert spool.pending() == 1


def test_a_claim_by_an_earlier_process_with_a_reused_pid_is_replayed(tmp_path: Path) -> None:
    """A restarted container gives its workers the same pids as before: the pid alone lies."""
    settings = Settings(webhook_secret="x", data_dir=tmp_path)
    spool = Spool(settings.spool_dir)
    (ready,) = [spool.put(job(1))]
    spool.claimed.mkdir(parents=True, exist_ok=True)
    os.rename(ready, spool.claimed / f"{ready.stem}@{os.getpid()}.1.json")
    assert replayer(settings).replay_once() == 1
    assert [m["args"][1] for m in embedded_messages(settings)] == [1]


def test_a_replayed_duplicate_leaves_the_spool_without_a_second_task(tmp_path: Path) -> None:
    settings = Settings(webhook_secret="x", data_dir=tmp_path)
    spool = Spool(settings.spool_dir)
    spool.put(job(5, delivery="first"))
    spool.put(job(5, delivery="second"))
    assert replayer(settings).replay_once() == 2
    assert spool.pending() == 0
    assert len(embedded_messages(settings)) == 1


def test_an_unreadable_spool_file_is_set_aside(tmp_path: Path) -> None:
    settings = Settings(webhook_secret="x", data_dir=tmp_path)
    spool = Spool(settings.spool_dir)
    spool.put(job(1))
    (spool.ready / "00000000000000000000-broken.json").write_text("{")
    assert replayer(settings).replay_once() == 1
    assert [path.name for path in settings.spool_dir.glob("*.bad")] == [
        "00000000000000000000-broken.json.bad"
    ]
    assert len(embedded_messages(settings)) == 1
