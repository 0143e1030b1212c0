"""The Celery tasks: thin wrappers that take small ids and call the review and commands code.

Retries: a transient GitLab error (429, 5xx, timeout, an ambiguous write), a busy MR lock or a
task stopped at ``REVIEW_TIME_LIMIT`` retries the whole task after the wait GitLab asked for
(``Retry-After`` or ``RateLimit-Reset``) or an exponential back-off with jitter; the task is
idempotent, so the retry posts only what is missing. With Redis the retry waits in Redis
(``workers.delayed``), never in a worker that may die. A permanent 4xx is logged and not
retried; 401/403 also raise the auth-failure flag that ``/healthz`` reports.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready, worker_shutdown

from layerbot.celery_app import NOTE_TASK, REVIEW_TASK, make_celery
from layerbot.settings import Settings
from workers import delayed
from workers.fairness import ProjectBusy, project_slot, redis_client
from workers.gitlab_client import (
    GitLabClient,
    PermanentGitLabError,
    TransientGitLabError,
    jittered,
)
from workers.review import ReviewBusy

log = logging.getLogger(__name__)

MAX_RETRIES = 8
MAX_BACKOFF_SECONDS = 300.0


def retry_countdown(error: Exception, retries: int) -> float:
    """The wait GitLab asked for when it named one, else exponential back-off with jitter."""
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, int | float) and hint > 0:
        return min(float(hint), MAX_BACKOFF_SECONDS)
    return min(jittered(2.0, retries), MAX_BACKOFF_SECONDS)


def run_later(task: Task[Any, Any], settings: Settings, countdown: float, *, retries: int) -> None:
    """Send this task again, same arguments and id, in ``countdown`` seconds.

    With Redis it waits in Redis (``workers.delayed``); on the embedded one-machine queue,
    where a worker holds nothing against a visibility timeout, as a Celery countdown.
    """
    request = task.request
    if settings.uses_embedded_queue:
        task.apply_async(
            args=request.args,
            kwargs=request.kwargs,
            task_id=request.id,
            countdown=countdown,
            retries=retries,
        )
        return
    later = delayed.Delayed(
        task=str(task.name),
        args=list(request.args or ()),
        kwargs=dict(request.kwargs or {}),
        task_id=str(request.id),
        retries=retries,
    )
    delayed.schedule(redis_client(settings.redis_url), later, countdown)


class _Worker:
    """Per-process state: the settings and one GitLab client, built on first use (after fork)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: GitLabClient | None = None

    @property
    def client(self) -> GitLabClient:
        if self._client is None:
            self._client = GitLabClient(self.settings)
        return self._client

    def auth_ok(self) -> None:
        from layerbot.health import clear_gitlab_auth_failure

        try:
            clear_gitlab_auth_failure(self.settings)
        except Exception:  # the health flag is advisory; a review never fails for it
            log.debug("could not clear the GitLab auth flag", exc_info=True)

    def auth_failed(self, error: PermanentGitLabError) -> None:
        from layerbot.health import record_gitlab_auth_failure

        try:
            record_gitlab_auth_failure(self.settings, f"GitLab answered {error.status}")
        except Exception:
            log.warning("could not record the GitLab auth failure", exc_info=True)

    def run(self, task: Task[Any, Any], what: str, call: Any) -> dict[str, Any]:
        try:
            outcome = call()
        except (TransientGitLabError, ReviewBusy, SoftTimeLimitExceeded) as error:
            retries = task.request.retries
            if retries >= MAX_RETRIES:
                log.error("%s: %s; giving up after %d retries", what, error, retries)
                return {"status": "failed:retries"}
            countdown = retry_countdown(error, retries)
            stopped = isinstance(error, SoftTimeLimitExceeded)
            reason = "stopped at REVIEW_TIME_LIMIT" if stopped else str(error)
            log.warning("%s: %s; retrying in %.1fs", what, reason, countdown)
            run_later(task, self.settings, countdown, retries=retries + 1)
            return {"status": "retrying", "countdown": countdown}
        except PermanentGitLabError as error:
            log.error("%s failed for good: %s", what, error)
            if error.status in (401, 403):
                self.auth_failed(error)
            return {"status": f"failed:{error.status}"}
        self.auth_ok()
        result: dict[str, Any] = asdict(outcome)
        return result


def register_tasks(app: Celery, settings: Settings) -> None:
    from workers.commands import handle_note
    from workers.review import review_merge_request

    worker = _Worker(settings)

    def review(self: Task[Any, Any], project_id: int, mr_iid: int, head_sha: str | None) -> Any:
        # head_sha None: GitLab sent no last commit; review whatever the head is now
        try:
            with project_slot(settings, project_id, str(self.request.id)):
                return worker.run(
                    self,
                    f"review of !{mr_iid} in project {project_id}",
                    lambda: review_merge_request(
                        worker.client, settings, project_id, mr_iid, head_sha
                    ),
                )
        except ProjectBusy as busy:
            # waiting for a slot is not a failure: the same retry count, not one more
            run_later(self, settings, busy.retry_after, retries=self.request.retries)
            log.info("%s; deferred by %.1fs", busy, busy.retry_after)
            return {"status": "deferred"}

    def note(
        self: Task[Any, Any], project_id: int, mr_iid: int, note_id: int, internal: bool = False
    ) -> Any:
        # `internal`: the note is an internal one, so the answer must be internal too
        return worker.run(
            self,
            f"note {note_id} on !{mr_iid} in project {project_id}",
            lambda: handle_note(
                worker.client, settings, project_id, mr_iid, note_id, internal=internal
            ),
        )

    options = {"bind": True, "acks_late": True, "max_retries": MAX_RETRIES}
    app.task(name=REVIEW_TASK, **options)(review)
    app.task(name=NOTE_TASK, **options)(note)


def worker_app(settings: Settings) -> Celery:
    """The Celery app with the bot's tasks registered (what ``layerbot worker`` runs); with
    Redis, the worker's main process also sends the delayed tasks that are due."""
    app = make_celery(settings)
    register_tasks(app, settings)
    if not settings.uses_embedded_queue:
        pump = delayed.Pump(redis_client(settings.redis_url), app)
        worker_ready.connect(pump.start, weak=False)
        worker_shutdown.connect(pump.stop, weak=False)
    return app
