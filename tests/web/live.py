"""Run ``layerbot serve`` (the production server) as a subprocess and talk to it over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60.0
_INHERITED_SETTINGS = (
    "REDIS_URL",
    "GITLAB_URL",
    "GITLAB_TOKEN",
    "WEBHOOK_SECRET",
    "WEBHOOK_SIGNING_TOKEN",
    "ALLOWED_PROJECTS",
    "LAYERBOT_DATA_DIR",
    "PROMETHEUS_MULTIPROC_DIR",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds; a bound on waiting, not a timing assertion."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def http(
    url: str, data: bytes | Iterable[bytes] | None = None, headers: dict[str, str] | None = None
) -> Any:
    """(status, parsed JSON or text), without raising on 4xx/5xx."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Server:
    def __init__(self, process: subprocess.Popen[bytes], base: str, log: Path) -> None:
        self.process = process
        self.base = base
        self.log = log

    def post(self, body: bytes | Iterable[bytes], headers: dict[str, str]) -> Any:
        return http(f"{self.base}/webhook", body, headers)

    def up(self) -> bool:
        try:
            return bool(http(f"{self.base}/healthz")[0] == 200)
        except OSError:
            return False


@contextlib.contextmanager
def serve(settings: dict[str, str], tmp_path: Path, port: int | None = None) -> Iterator[Server]:
    """``layerbot serve`` on ``port`` (default a free one) with exactly ``settings`` as the bot's
    environment.

    On leaving, SIGTERM must stop the whole tree and ``serve`` must exit 0 (unless the test
    already made it exit).
    """
    port = port or free_port()
    env = {key: value for key, value in os.environ.items() if key not in _INHERITED_SETTINGS}
    env.update(settings)
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "layerbot.cli", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        stopped_here = False
        try:
            wait_for(lambda: process.poll() is not None or server.up(), "the server to answer")
            assert process.poll() is None, log_path.read_text()
            yield server
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
                stopped_here = True
    if stopped_here:
        assert process.returncode == 0, log_path.read_text()
