"""A real Celery worker whose tasks only record that they ran: ``celery -A
tests.hardening.recording_worker worker``.

The app is the bot's own (:func:`layerbot.celery_app.make_celery`, from the environment's
settings: broker, acknowledgement and serializer as in production); only the task bodies differ.
Each run of a task adds one to its id's count in the Redis hash :data:`RAN`, with its arguments,
so a test sees which accepted deliveries reached a worker, and how many times.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from celery import Task

from layerbot.celery_app import NOTE_TASK, REVIEW_TASK, make_celery
from layerbot.settings import Settings
from tests.hardening.recording import ARGS, RAN

settings = Settings.from_env()
app = make_celery(settings)
_redis = redis.Redis.from_url(settings.redis_url)


def _record(task: Task, args: tuple[Any, ...]) -> None:
    task_id = str(task.request.id)
    with _redis.pipeline() as pipe:
        pipe.hincrby(RAN, task_id, 1)
        pipe.hset(ARGS, task_id, json.dumps(args))
        pipe.execute()


@app.task(name=REVIEW_TASK, bind=True)
def review_merge_request(task: Task, project_id: int, mr_iid: int, head_sha: str | None) -> None:
    _record(task, (project_id, mr_iid, head_sha))


@app.task(name=NOTE_TASK, bind=True)
def handle_note(task: Task, project_id: int, mr_iid: int, note_id: int, internal: bool) -> None:
    _record(task, (project_id, mr_iid, note_id, internal))
