"""The Celery application, configured from :class:`~layerbot.settings.Settings`.

With ``REDIS_URL`` the broker is Redis; without it, Celery's filesystem transport in the data
folder is an embedded, durable queue for a one-machine install. Tasks acknowledge late and are
redelivered when a worker dies, so every task must be idempotent.
"""

from __future__ import annotations

from celery import Celery

from layerbot.settings import Settings

REVIEW_TASK = "layerbot.review_merge_request"
NOTE_TASK = "layerbot.handle_note"


def broker_options(settings: Settings) -> tuple[str, dict[str, object]]:
    """Broker URL and transport options for the configured queue."""
    if not settings.uses_embedded_queue:
        return settings.redis_url, {"visibility_timeout": 3600}
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
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
    )
    return app
