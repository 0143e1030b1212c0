"""``layerbot worker`` (the Celery worker) and ``layerbot review`` (one review, no queue)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from layerbot.settings import Settings, SettingsError


def _setup_logging(settings: Settings) -> None:
    from workers.gitlab_client import install_token_redaction

    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_token_redaction(
        settings.gitlab_token, settings.webhook_secret, settings.webhook_signing_token
    )


def _serve_metrics(settings: Settings) -> None:
    """Expose the worker's metrics on ``WORKER_METRICS_PORT`` (a worker deployed on its own).

    Celery's prefork children each count in their own process, so they write to a shared
    multi-process folder that this server (in the parent) sums; the variable must be set before
    any process imports prometheus_client.
    """
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # set by `layerbot serve`: shared, kept
        folder = settings.data_dir / "worker-metrics"
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(settings.worker_metrics_port, registry=registry)


def run_worker(concurrency: int | None) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"layerbot: error: {error}", file=sys.stderr)
        return 2
    if settings.worker_metrics_port:
        _serve_metrics(settings)  # before anything imports the worker's counters
    _setup_logging(settings)
    from workers.tasks import worker_app

    app = worker_app(settings)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0


def ci_environment(env: Mapping[str, str]) -> tuple[dict[str, str], int, int]:
    """Settings environment and (project, MR iid) inside a GitLab merge-request pipeline."""
    missing = [n for n in ("CI_PROJECT_ID", "CI_MERGE_REQUEST_IID") if not env.get(n)]
    if missing:
        raise SettingsError(
            f"{' and '.join(missing)} not set: pass PROJECT MR_IID, or run in an MR pipeline"
        )
    merged = dict(env)
    if env.get("CI_SERVER_URL") and not env.get("GITLAB_URL"):
        merged["GITLAB_URL"] = env["CI_SERVER_URL"]
    try:
        return merged, int(env["CI_PROJECT_ID"]), int(env["CI_MERGE_REQUEST_IID"])
    except ValueError:
        raise SettingsError("CI_PROJECT_ID and CI_MERGE_REQUEST_IID must be integers") from None


def run_review_once(project: int | None, mr_iid: int | None) -> int:
    """Review one MR now and post exactly what the worker would; prints one line."""
    try:
        if project is None or mr_iid is None:
            env, project, mr_iid = ci_environment(os.environ)
        else:
            env = dict(os.environ)
        settings = Settings.from_env(env)
        if not settings.gitlab_token:
            raise SettingsError("GITLAB_TOKEN is not set")
    except SettingsError as error:
        print(f"layerbot: error: {error}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    from workers.gitlab_client import GitLabClient, GitLabError
    from workers.review import ReviewBusy, review_merge_request

    client = GitLabClient(settings)
    try:
        outcome = review_merge_request(client, settings, project, mr_iid)
    except (GitLabError, ReviewBusy) as error:
        print(f"layerbot: error: {error}", file=sys.stderr)
        return 1
    print(
        f"layerbot review !{mr_iid}: {outcome.status}, {outcome.findings} finding(s), "
        f"{outcome.inline} new inline, {outcome.resolved} resolved, "
        f"{client.tally.total} GitLab API call(s)"
    )
    return 0
