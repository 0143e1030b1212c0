"""The Celery application, configured from :class:`~layerbot.settings.Settings`.

With ``REDIS_URL`` the broker is Redis; without it, Celery's filesystem transport in the data
folder is an embedded, durable queue for a one-machine install. Tasks acknowledge late and are
redelivered when a worker dies, so every task must be idempotent.

Redelivery after a whole worker dies (an OOM-killed pod: no process left to hand the task
back) is Redis' visibility timeout: a task taken and not acknowledged within it goes back to the
queue. A task runs at most ``REVIEW_TIME_LIMIT`` seconds (then it is stopped and retried), so
the timeout is that limit plus the hard limit's grace plus a margin: a live review is never
handed to a second worker, a dead worker's review is back within about 90 s by default. Nothing
waits in a worker with a countdown (see ``workers.delayed``), so no wait counts against it.
"""

from __future__ import annotations

from celery import Celery

from layerbot.settings import Settings

REVIEW_TASK = "layerbot.review_merge_request"
NOTE_TASK = "layerbot.handle_note"


HARD_LIMIT_GRACE_SECONDS = 15
"""After the soft limit stops a task, how long it may take to hand itself over before the pool
process is killed."""
REDELIVERY_MARGIN_SECONDS = 15
RESTORE_SWEEP_SECONDS = 5
"""How often a worker looks for tasks whose visibility timeout passed."""


def hard_time_limit(settings: Settings) -> int:
    return settings.review_time_limit + HARD_LIMIT_GRACE_SECONDS


def visibility_timeout(settings: Settings) -> int:
    """Longer than any task may run, so only a dead worker's tasks are redelivered."""
    return hard_time_limit(settings) + REDELIVERY_MARGIN_SECONDS


def broker_options(settings: Settings) -> tuple[str, dict[str, object]]:
    """Broker URL and transport options for the configured queue."""
    if not settings.uses_embedded_queue:
        return settings.redis_url, {
            "visibility_timeout": visibility_timeout(settings),
            # kombu's sweep for expired tasks: every 5 s instead of 10 x 10 s
            "unacked_restore_interval": RESTORE_SWEEP_SECONDS,
            "unacked_restore_throttle": 1,
        }
    folder = settings.queue_dir
    for sub in ("in", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return "filesystem://", {
        "data_folder_in": str(folder / "in"),
        "data_folder_out": str(folder / "in"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


def make_celery(settings: Settings) -> Celery:
    broker, transport_options = broker_options(settings)
    app = Celery("layerbot", broker=broker, set_as_current=False)
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.review_time_limit,
        task_time_limit=hard_time_limit(settings),
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
    )
    return app
