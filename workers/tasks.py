"""The Celery tasks: thin wrappers that take small ids and call the review and commands code.

Retries: a transient GitLab error (429, 5xx, timeout, an ambiguous write) or a busy MR lock
retries the whole task after GitLab's ``Retry-After`` or an exponential backoff; the task is
idempotent, so the retry posts only what is missing. A permanent 4xx is logged and not retried;
401/403 also raise the auth-failure flag that ``/healthz`` reports.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict
from typing import Any

from celery import Celery, Task

from layerbot.celery_app import NOTE_TASK, REVIEW_TASK, make_celery
from layerbot.settings import Settings
from workers.fairness import ProjectBusy, defer, project_slot
from workers.gitlab_client import GitLabClient, PermanentGitLabError, TransientGitLabError
from workers.review import ReviewBusy

log = logging.getLogger(__name__)

MAX_RETRIES = 8
MAX_BACKOFF_SECONDS = 300.0


def retry_countdown(error: Exception, retries: int) -> float:
    """GitLab's ``Retry-After`` when it gave one, else exponential backoff with jitter."""
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, int | float) and hint > 0:
        return min(float(hint), MAX_BACKOFF_SECONDS)
    backoff: float = min(2.0 * 2**retries, MAX_BACKOFF_SECONDS)
    return backoff * (0.5 + random.random() / 2)


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
        except (TransientGitLabError, ReviewBusy) as error:
            countdown = retry_countdown(error, task.request.retries)
            log.warning("%s: %s; retrying in %.1fs", what, error, countdown)
            raise task.retry(countdown=countdown, max_retries=MAX_RETRIES) from None
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

    def review(self: Task[Any, Any], project_id: int, mr_iid: int, head_sha: str) -> Any:
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
            return defer(self, busy)

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
    """The Celery app with the bot's tasks registered (what ``layerbot worker`` runs)."""
    app = make_celery(settings)
    register_tasks(app, settings)
    return app
