"""A durable on-disk spool for accepted events while the broker is unreachable.

One JSON file per event under ``Settings.spool_dir``: written to ``tmp/``, fsynced, renamed into
``ready/`` (and the folder fsynced), so a file in ``ready/`` is always complete. Several gunicorn
workers replay the same folder safely: each claims a file by renaming it into ``claimed/`` with
its process identity in the name (a rename succeeds for exactly one process), and a claim left
by a process that died goes back to ``ready/``. Dedupe keys travel inside the file, so a replay
is never doubled (see :mod:`bot.dedupe`). A crash between handing a job to the broker and
deleting its file sends it once more with the same Celery task id; tasks are idempotent anyway.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.queue import Job

log = logging.getLogger(__name__)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or ``None`` if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def process_identity(pid: int | None = None) -> str:
    """``pid.starttime``: unlike a bare pid, not reused by a later process (a restarted
    container gives its gunicorn workers the same small pids)."""
    pid = os.getpid() if pid is None else pid
    started = _start_time(pid)
    return f"{pid}.{started}" if started else str(pid)


def _alive(identity: str) -> bool:
    pid_text, _, started = identity.partition(".")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or _start_time(pid) == started


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tmp = folder / "tmp"
        self.ready = folder / "ready"
        self.claimed = folder / "claimed"

    def _prepare(self) -> None:
        for sub in (self.tmp, self.ready, self.claimed):
            sub.mkdir(parents=True, exist_ok=True)

    def put(self, job: Job) -> Path:
        """Store ``job`` durably; raises ``OSError`` when the disk will not take it."""
        self._prepare()
        name = f"{time.time_ns():020d}-{job.delivery}.json"
        temporary = self.tmp / name
        data = json.dumps(job.to_json()).encode()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        final = self.ready / name
        os.rename(temporary, final)
        _fsync_dir(self.ready)
        return final

    def pending(self) -> int:
        """Events waiting or being replayed right now."""
        count = 0
        for sub in (self.ready, self.claimed):
            with contextlib.suppress(FileNotFoundError):
                count += sum(1 for entry in os.scandir(sub) if entry.name.endswith(".json"))
        return count

    def writable(self) -> bool:
        try:
            self._prepare()
        except OSError:
            return False
        return os.access(self.tmp, os.W_OK)

    def claims(self) -> Iterator[tuple[Path, Job]]:
        """Claim ready files one by one, oldest first; the caller must ``done`` or ``release``."""
        try:
            names = sorted(entry.name for entry in os.scandir(self.ready))
        except FileNotFoundError:
            return
        for name in names:
            claimed = self.claimed / f"{name.removesuffix('.json')}@{process_identity()}.json"
            try:
                os.rename(self.ready / name, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            try:
                job = Job.from_json(json.loads(claimed.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError):
                log.error("spool: unreadable file %s kept aside", claimed.name)
                os.rename(claimed, self.folder / f"{name}.bad")
                continue
            yield claimed, job

    def done(self, claimed: Path) -> None:
        claimed.unlink()

    def release(self, claimed: Path) -> None:
        """Put a claimed file back for a later attempt."""
        os.rename(claimed, self.ready / self._ready_name(claimed.name))

    @staticmethod
    def _ready_name(claimed_name: str) -> str:
        return claimed_name.rsplit("@", 1)[0] + ".json"

    def recover(self) -> int:
        """Return claims of processes that died mid-replay to ``ready/``."""
        recovered = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.claimed):
                owner = entry.name.removesuffix(".json").rsplit("@", 1)[-1]
                if not _alive(owner):
                    with contextlib.suppress(FileNotFoundError):
                        os.rename(entry.path, self.ready / self._ready_name(entry.name))
                        recovered += 1
        return recovered


class Replayer:
    """A background thread that hands spooled jobs to ``deliver`` while it returns True."""

    def __init__(self, spool: Spool, deliver: Callable[[Job], bool], interval: float = 1.0) -> None:
        self.spool = spool
        self.deliver = deliver
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="spool-replayer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.replay_once()
            except Exception:
                log.exception("spool: replay round failed")

    def replay_once(self) -> int:
        """One pass over the spool; returns how many jobs left it. Stops at the first failure."""
        self.spool.recover()
        delivered = 0
        for claimed, job in self.spool.claims():
            if self._stop.is_set() or not self.deliver(job):
                self.spool.release(claimed)
                break
            self.spool.done(claimed)
            delivered += 1
        return delivered
