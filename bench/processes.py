"""The processes a benchmark runs: the bot's web side and worker, and the fake GitLab."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fake_gitlab.remote import RemoteFakeGitLab

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL after 30 s: no stray worker outlives a run."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def running(
    argv: list[str], env: dict[str, str], health_url: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` in a session of its own, ready once ``health_url`` answers."""
    process = subprocess.Popen(
        argv,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if health_url:
            wait_http(health_url)
        yield process
    finally:
        _stop(process)


def layerbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "layerbot.cli", *args]


@contextmanager
def fake_gitlab() -> Iterator[RemoteFakeGitLab]:
    """The fake GitLab in a process of its own, driven through its admin API."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_gitlab", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().split("=", 1)[1]
        yield RemoteFakeGitLab(url)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
