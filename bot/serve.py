"""``layerbot serve``: gunicorn with the shipped config, plus a Celery worker without Redis.

With ``REDIS_URL`` this is the web side only (run ``layerbot worker`` anywhere that reaches
Redis). Without it the whole bot runs as one process tree on the embedded filesystem queue:
gunicorn, then (once gunicorn listens and has reset the metrics folder) ``layerbot worker`` beside
it. SIGTERM or SIGINT stops both gracefully; if either exits on its own, the other is stopped too;
and if ``serve`` itself is killed, both get SIGTERM from the kernel (Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from bot.app import validate_settings
from layerbot.settings import Settings, SettingsError

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listening(host: str, port: int) -> bool:
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        with socket.create_connection((probe, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_listening(web: subprocess.Popen[bytes], host: str, port: int) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and web.poll() is None:
        if _listening(host, port):
            return True
        time.sleep(0.1)
    return False


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM when ``serve`` dies without stopping it (SIGKILL, OOM)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_serve(host: str, port: int) -> int:
    try:
        settings = Settings.from_env()
        validate_settings(settings)
    except SettingsError as error:
        print(f"layerbot serve: {error}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.data_dir / "metrics"))
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    web_command = [sys.executable, "-m", "gunicorn", "--config", "python:bot.gunicorn_conf"]
    web = _spawn([*web_command, "--bind", _bind(host, port)], env)
    children = [web]
    try:
        if settings.uses_embedded_queue:
            if not _wait_listening(web, host, port):
                print("layerbot serve: the web server did not start", file=sys.stderr)
                return 1
            worker_command = [sys.executable, "-m", "layerbot.cli", "worker"]
            children.append(_spawn(worker_command, env))
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        _stop(children)
    if stopping:
        return 0
    return next((child.returncode for child in children if child.returncode), 1)
