"""Redelivery dedupe: the first delivery of an event claims its keys, later ones see a duplicate.

A claim stores the *delivery's* own id as the key's owner, so claiming again with the same owner
succeeds: a spooled event replayed after a crash is not mistaken for a duplicate of itself, while
GitLab's redelivery of the same push (a new delivery id) is. Keys live in Redis (``SET NX EX``)
or, on the embedded one-machine queue, in a local SQLite file shared by every web process.

On Redis the claim can also store the event's task: the script pushes the message (serialized by
kombu, see :mod:`bot.queue`) onto the broker's queue only when the claim succeeds, so accepting an
event is one round trip and a duplicate never reaches the queue.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

import redis

DEDUPE_TTL_SECONDS = 3 * 24 * 3600
"""How long a push stays "already seen": longer than anyone re-sends a webhook by hand."""

KEY_PREFIX = "layerbot:dedupe:"

# Claim every key for ARGV[1] unless another owner holds one; then, when ARGV[3] (a message) is
# given, LPUSH it onto the last key (the queue). One round trip per delivery.
_CLAIM_SCRIPT = """
local claims = #KEYS
if ARGV[3] then claims = claims - 1 end
for i = 1, claims do
  if not redis.call('SET', KEYS[i], ARGV[1], 'NX', 'EX', ARGV[2]) then
    if redis.call('GET', KEYS[i]) ~= ARGV[1] then return 0 end
  end
end
if ARGV[3] then redis.call('LPUSH', KEYS[#KEYS], ARGV[3]) end
return 1
"""


class DedupeUnavailable(Exception):
    """The dedupe store cannot be reached; the caller spools the event and claims later."""


class DedupeStore(Protocol):
    def claim(self, keys: tuple[str, ...], owner: str) -> bool:
        """True when ``owner`` now holds every key; False when another delivery holds one."""
        ...


class RedisDedupe:
    def __init__(self, client: redis.Redis, ttl: int = DEDUPE_TTL_SECONDS) -> None:
        self._client = client
        self._ttl = ttl
        self._script = client.register_script(_CLAIM_SCRIPT)

    def claim(self, keys: tuple[str, ...], owner: str, push: tuple[str, str] | None = None) -> bool:
        """Claim ``keys``; then, if claimed, ``LPUSH`` the message ``push[1]`` onto the list
        ``push[0]`` in the same script (nothing is pushed for a duplicate)."""
        names = [KEY_PREFIX + key for key in keys]
        args: list[str | int] = [owner, self._ttl]
        if push is not None:
            names.append(push[0])
            args.append(push[1])
        try:
            claimed = self._script(keys=names, args=args)
        except redis.RedisError as error:
            raise DedupeUnavailable(type(error).__name__) from None
        return bool(claimed)


class SqliteDedupe:
    """The same claims in a SQLite file, for the embedded queue where there is no Redis."""

    def __init__(self, path: Path, ttl: int = DEDUPE_TTL_SECONDS) -> None:
        self._path = path
        self._ttl = ttl
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS claims"
                " (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL)"
            )
            self._local.connection = connection
        return connection

    def claim(self, keys: tuple[str, ...], owner: str) -> bool:
        now = time.time()
        try:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                owned = self._claim_all(connection, keys, owner, now)
            finally:
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise DedupeUnavailable(type(error).__name__) from None
        return owned

    def _claim_all(
        self, connection: sqlite3.Connection, keys: tuple[str, ...], owner: str, now: float
    ) -> bool:
        for key in keys:
            connection.execute("DELETE FROM claims WHERE key = ? AND expires < ?", (key, now))
            connection.execute(
                "INSERT OR IGNORE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                (key, owner, now + self._ttl),
            )
            (holder,) = connection.execute(
                "SELECT owner FROM claims WHERE key = ?", (key,)
            ).fetchone()
            if holder != owner:
                return False
        return True
