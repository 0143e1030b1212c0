"""The CI analysis is linear in jobs: counted in executed lines of Python, never timed.

A pipeline of ``n`` jobs is analysed under ``sys.settrace`` and every line event counted (a
comprehension's or a loop's iteration counts as one): four times the jobs must cost about four
times the lines, where a comparison of every job with every other would cost sixteen times.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from layerbot.analysis.config import Config
from layerbot.analysis.engine import analyse_file
from layerbot.analysis.model import RepoView

CI = ".gitlab-ci.yml"
DOCKERFILE = "FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM alpine:3.20\n"


def _own_jobs(n: int) -> str:
    """Every job writes its own build, with a cache source another job pushes."""
    jobs = [
        f"build-{i}:\n  image: docker:24\n  services: [docker:24-dind]\n  script:\n"
        f"    - docker build --cache-from $CI_REGISTRY_IMAGE/s{i}:latest"
        f" -t $CI_REGISTRY_IMAGE/s{i}:latest s{i}\n"
        f"    - docker push $CI_REGISTRY_IMAGE/s{i}:latest\n"
        for i in range(n)
    ]
    return "stages: [build]\n\n" + "\n".join(jobs)


def _template_jobs(n: int) -> str:
    """Every job runs one template's build line (each finding names the jobs that run it)."""
    template = (
        ".build:\n  image: docker:24\n  services: [docker:24-dind]\n  script:\n"
        "    - docker build --cache-from $CI_REGISTRY_IMAGE/$SVC:latest"
        " -t $CI_REGISTRY_IMAGE/$SVC:latest $SVC\n"
        "    - docker push $CI_REGISTRY_IMAGE/$SVC:latest\n"
    )
    jobs = [f"build-{i}:\n  extends: .build\n  variables:\n    SVC: s{i}\n" for i in range(n)]
    return template + "\n" + "\n".join(jobs)


def _lines_run(text: str, n: int) -> int:
    files = {CI: text} | {f"s{i}/Dockerfile": DOCKERFILE for i in range(n)}
    repo = RepoView.from_files(files)
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        analyse_file(CI, text.encode(), repo, Config())
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("shape", [_own_jobs, _template_jobs], ids=["own-jobs", "template"])
def test_four_times_the_jobs_cost_about_four_times_the_work(
    shape: Callable[[int], str],
) -> None:
    small, large = 60, 240
    ratio = _lines_run(shape(large), large) / _lines_run(shape(small), small)
    assert 3.0 < ratio < 5.0, ratio
