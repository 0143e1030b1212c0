"""``layerbot check`` over many files: the forked workers give the report one process gives, and
the collector thresholds it runs with are its own."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from layerbot.analysis.config import Config
from layerbot.check import (
    COLLECTOR_THRESHOLDS,
    FILES_PER_WORKER,
    LocalRepoView,
    UsageError,
    check_files,
    collect,
    fewer_collections,
)
from layerbot.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "go-service"


def _jobs() -> list[tuple[str, bytes]]:
    paths = sorted((ROOT / "tests" / "realworld").glob("*/Dockerfile"))
    return [(path.relative_to(ROOT).as_posix(), path.read_bytes()) for path in paths]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_give_the_report_of_one_process(workers: int) -> None:
    jobs = _jobs()
    assert len(jobs) >= workers * FILES_PER_WORKER
    alone = check_files(jobs, LocalRepoView(str(ROOT)), Config())
    shared = check_files(jobs, LocalRepoView(str(ROOT)), Config(), workers=workers)
    assert shared == alone
    assert sum(len(findings) for findings, _ in alone) > len(jobs)  # something to compare


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_child_that_fails_sends_nothing_to_use() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, b"half a report")
        os._exit(3)
    os.close(write)
    assert collect(pid, read) is None


def test_the_collector_thresholds_hold_for_the_check_only() -> None:
    own = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS
    assert gc.get_threshold() == own
    with pytest.raises(UsageError), fewer_collections():
        raise UsageError("a check that stops")
    assert gc.get_threshold() == own
    assert main(["check", "--format", "json", str(EXAMPLE)]) == 1
    assert gc.get_threshold() == own
