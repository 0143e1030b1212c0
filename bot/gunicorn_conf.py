"""The production gunicorn configuration: ``gunicorn -c python:bot.gunicorn_conf``.

Sized for a 2-core machine: two worker processes (one per core; a request is mostly CPU: JSON,
HMAC, a Redis round trip) with two threads each, so a slow broker round trip does not hold a core
(measured at 16 connections on 2 cores: 2 threads ≈ 1.4× the naive intake, 4 threads ≈ 1.2×,
more threads only contend for the GIL).
``WEB_CONCURRENCY`` and ``WEB_THREADS`` override the sizing, ``LAYERBOT_BIND`` the address
(``layerbot serve`` passes ``--bind`` itself).

Metrics are multi-process (see :mod:`bot.metrics`): this file sets ``PROMETHEUS_MULTIPROC_DIR``
(default ``<LAYERBOT_DATA_DIR>/metrics``) before any worker imports prometheus_client, empties it
when the server starts, and drops a dead worker's live gauges. Each worker runs a spool replayer
thread. Each delivery is logged once, by the app (event, project, task id, outcome); gunicorn's
access log is off unless ``WEB_ACCESS_LOG=1``: a second line per delivery, which took 6 % of a
worker's Python time in a profile under load (issue 13). It has the method, path without query
string, status, size and time: never a header, a query string or a body, so no token can leak.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from layerbot.settings import Settings

_settings = Settings.from_env()
_metrics_dir = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_settings.data_dir / "metrics"))
)

wsgi_app = "bot.app:create_app_from_env()"
bind = [os.environ.get("LAYERBOT_BIND", "127.0.0.1:8080")]
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "2"))
# GitLab gives up on a delivery after 10 s; a request here takes milliseconds.
timeout = 30
graceful_timeout = 20
keepalive = 5
# gunicorn >= 27 opens a control socket in $HOME; several servers on one host would share it.
control_socket_disable = True
# Headers are small; a body is capped by MAX_BODY_BYTES inside the app.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

accesslog = "-" if os.environ.get("WEB_ACCESS_LOG") == "1" else None
errorlog = "-"
loglevel = _settings.log_level.lower()
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def on_starting(server: Any) -> None:
    """Empty the metrics folder: values of a previous run must not be summed into this one."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):
        stale.unlink(missing_ok=True)


def post_worker_init(worker: Any) -> None:
    worker.wsgi.extensions["layerbot"].replayer.start()


def worker_exit(server: Any, worker: Any) -> None:
    state = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("layerbot")
    if state is not None:
        state.replayer.stop()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(_metrics_dir))  # type: ignore[no-untyped-call]
