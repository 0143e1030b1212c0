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
    max_body_bytes: int = 1024 * 1024
    worker_concurrency: int = 2
    project_concurrency: int = 1
    worker_metrics_port: int = 0
    """Reviews of one project that may run at once (0: no limit); see ``workers.fairness``."""
    gitlab_timeout: float = 10.0
    docs_url: str = "https://gitlab.com/layerbot/layerbot/-/blob/main/docs/rules/{name}.md"
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
            docs_url=env.get("LAYERBOT_DOCS_URL", defaults.docs_url),
            log_level=env.get("LOG_LEVEL", defaults.log_level).upper(),
        )

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
