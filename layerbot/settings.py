"""Settings shared by the web side, the worker and the CLI, read from the environment once.

Nothing reads ``os.environ`` elsewhere: the app factory and the Celery app get a
:class:`Settings` passed in, so tests build their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int_set(raw: str, name: str) -> frozenset[int]:
    try:
        return frozenset(int(part) for part in raw.replace(",", " ").split())
    except ValueError:
        raise SettingsError(f"{name} must be a comma-separated list of project ids") from None


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _bool(raw: str | None, name: str, default: bool) -> bool:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Every environment variable the bot reads (the README's configuration table)."""

    gitlab_url: str = "https://gitlab.com"
    gitlab_token: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    webhook_signing_token: str = field(default="", repr=False)
    redis_url: str = ""
    allowed_projects: frozenset[int] = frozenset()
    data_dir: Path = Path("var")
    max_body_bytes: int = 25 * 1024 * 1024
    """Well above any delivery GitLab sends: an MR description may hold 1 MB and an update event
    repeats it in ``changes`` (a refused delivery counts towards GitLab disabling the hook)."""
    worker_concurrency: int = 2
    project_concurrency: int = 1
    worker_metrics_port: int = 0
    """Reviews of one project that may run at once (0: no limit); see ``workers.fairness``."""
    gitlab_timeout: float = 10.0
    gitlab_parallel_calls: int = 8
    """GitLab calls one review makes at once (its independent reads, its draft notes), per
    worker process; 1: one after the other."""
    docs_url: str = ""
    """An explicit link template of a rule's documentation (``{name}`` is the rule)."""
    public_url: str = ""
    """Where users reach the web side (``https://layerbot.example.com``): comments link its
    ``/rules/<name>`` pages."""
    review_drafts: bool = True
    review_time_limit: int = 60
    """Seconds a review or command may run before it is stopped and retried; the broker's
    visibility timeout is sized from it (see ``layerbot.celery_app``)."""
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            gitlab_url=env.get("GITLAB_URL", defaults.gitlab_url).rstrip("/"),
            gitlab_token=env.get("GITLAB_TOKEN", ""),
            webhook_secret=env.get("WEBHOOK_SECRET", ""),
            webhook_signing_token=env.get("WEBHOOK_SIGNING_TOKEN", ""),
            redis_url=env.get("REDIS_URL", ""),
            allowed_projects=_int_set(env.get("ALLOWED_PROJECTS", ""), "ALLOWED_PROJECTS"),
            data_dir=Path(env.get("LAYERBOT_DATA_DIR", str(defaults.data_dir))),
            max_body_bytes=_int(
                env.get("MAX_BODY_BYTES"), "MAX_BODY_BYTES", defaults.max_body_bytes
            ),
            worker_concurrency=_int(
                env.get("WORKER_CONCURRENCY"), "WORKER_CONCURRENCY", defaults.worker_concurrency
            ),
            worker_metrics_port=_int(
                env.get("WORKER_METRICS_PORT"), "WORKER_METRICS_PORT", defaults.worker_metrics_port
            ),
            project_concurrency=_int(
                env.get("PROJECT_CONCURRENCY"), "PROJECT_CONCURRENCY", defaults.project_concurrency
            ),
            gitlab_timeout=float(env.get("GITLAB_TIMEOUT", defaults.gitlab_timeout)),
            gitlab_parallel_calls=max(
                1,
                _int(
                    env.get("GITLAB_PARALLEL_CALLS"),
                    "GITLAB_PARALLEL_CALLS",
                    defaults.gitlab_parallel_calls,
                ),
            ),
            docs_url=env.get("LAYERBOT_DOCS_URL", defaults.docs_url),
            public_url=env.get("PUBLIC_URL", "").strip().rstrip("/"),
            review_drafts=_bool(env.get("REVIEW_DRAFTS"), "REVIEW_DRAFTS", defaults.review_drafts),
            review_time_limit=_int(
                env.get("REVIEW_TIME_LIMIT"), "REVIEW_TIME_LIMIT", defaults.review_time_limit
            ),
            log_level=env.get("LOG_LEVEL", defaults.log_level).upper(),
        )

    @property
    def rule_docs_url(self) -> str | None:
        """Where a rule's name links: ``LAYERBOT_DOCS_URL``, else the web side's own page under
        ``PUBLIC_URL``, else ``None``: no page known to resolve, so comments explain the rule
        instead of linking it."""
        if self.docs_url:
            return self.docs_url
        return f"{self.public_url}/rules/{{name}}" if self.public_url else None

    @property
    def uses_embedded_queue(self) -> bool:
        """No ``REDIS_URL``: one machine, a durable on-disk queue and a worker beside the web."""
        return not self.redis_url

    @property
    def spool_dir(self) -> Path:
        """Accepted events wait here while the broker is unreachable."""
        return self.data_dir / "spool"

    @property
    def queue_dir(self) -> Path:
        """The embedded queue's folder (Celery's filesystem transport)."""
        return self.data_dir / "queue"
