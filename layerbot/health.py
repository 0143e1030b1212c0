"""The GitLab-auth health flag the worker raises and ``/healthz`` reports.

When GitLab answers 401/403 (token revoked or lacking rights), the worker records a short reason
so the web side's ``/healthz`` can say so; it clears the flag after the next authenticated call.
The contract, usable from the worker without importing Flask:

- with Redis: the string key ``layerbot:health:gitlab_auth_failed`` holds the reason
  (``SET`` it, ``DEL`` it to clear);
- on the embedded queue (no Redis): the file ``<LAYERBOT_DATA_DIR>/health/gitlab_auth_failed``.

The reason must never contain the token.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import redis

from layerbot.settings import Settings

GITLAB_AUTH_FAILED_KEY = "layerbot:health:gitlab_auth_failed"
_REASON_LIMIT = 200


def _flag_file(settings: Settings) -> Path:
    return settings.data_dir / "health" / "gitlab_auth_failed"


def _client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)


def record_gitlab_auth_failure(settings: Settings, reason: str) -> None:
    """Called by the worker when GitLab refuses the token."""
    reason = reason[:_REASON_LIMIT]
    if settings.uses_embedded_queue:
        path = _flag_file(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reason, encoding="utf-8")
    else:
        _client(settings).set(GITLAB_AUTH_FAILED_KEY, reason)


def clear_gitlab_auth_failure(settings: Settings) -> None:
    """Called by the worker after GitLab accepted the token again."""
    if settings.uses_embedded_queue:
        with contextlib.suppress(FileNotFoundError):
            _flag_file(settings).unlink()
    else:
        _client(settings).delete(GITLAB_AUTH_FAILED_KEY)


def gitlab_auth_failure(settings: Settings, client: redis.Redis | None) -> str | None:
    """The recorded reason, or ``None`` when no failure is flagged (or Redis is unreachable)."""
    if client is None:
        try:
            return _flag_file(settings).read_text(encoding="utf-8")[:_REASON_LIMIT]
        except (FileNotFoundError, UnicodeDecodeError):
            return None
    try:
        value: object = client.get(GITLAB_AUTH_FAILED_KEY)
    except redis.RedisError:
        return None
    if value is None:
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text[:_REASON_LIMIT]
