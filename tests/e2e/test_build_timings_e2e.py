"""Measured build times end to end: a real worker reads the build job's trace from the fake
GitLab (its own process) and keeps what it read in Redis for the next review."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from layerbot.celery_app import REVIEW_TASK, make_celery
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    Stack,
    bot_notes,
    fake_process_fixture,
    redis_db_fixture,
    stack_fixture,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.worker.expect import example_files
from workers.build_timings import CACHE_SECONDS, MAX_LOGS, MAX_PIPELINES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TRACE = (Path(__file__).resolve().parents[1] / "build_logs" / "buildkit-go-service.log").read_text()
JOB_CALLS = r"/pipelines|/jobs"


def review(stack: Stack, project: int, iid: int, sha: str) -> str:
    make_celery(stack.settings).send_task(REVIEW_TASK, args=[project, iid, sha])
    summary: str = wait_for(lambda: summary_at(stack.fake, project, iid, sha), what="summary")
    return summary


def job_calls(fake: RemoteFakeGitLab) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = fake.calls(method="GET", path_regex=JOB_CALLS)
    return calls


def test_review_reports_the_traced_seconds_and_the_next_review_reads_the_cache(
    stack: Stack,
) -> None:
    fake = stack.fake
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    finished = (datetime.now(UTC) - timedelta(days=2, hours=3)).isoformat()
    ids = fake.add_job(project, "build", trace=TRACE, finished_at=finished)
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]

    summary = review(stack, project, iid, sha)
    source = f"pipeline `#{ids['pipeline']}` (job `build`, 2 days ago)"
    # go mod download: DONE 41.8s, go build: DONE 23.6s; with WORKDIR 0.3 s and COPY 0.1 s
    assert (
        f"Measured: `Dockerfile`: its steps took 66 s in {source}; the fixes would save about "
        "42 s per code-only pipeline. Slowest steps: `go mod download` 42 s, "
        f"`go build -o main .` 24 s. [Job log]({fake.url}/group/app/-/jobs/{ids['job']})."
    ) in summary
    order = next(
        note["body"]
        for note in bot_notes(fake, project, iid)
        if re.match(r"<!-- layerbot:finding dependency-layer-order ", note["body"])
    )
    assert f"in {source} these steps took 42 s and ran uncached" in order
    cache = next(n["body"] for n in bot_notes(fake, project, iid) if "ci-cache-from " in n["body"])
    assert f"in {source} the build's steps took 66 s and none came from the cache" in cache
    assert [call["path"].rsplit("/", 2)[-2:] for call in job_calls(fake)] == [
        [str(project), "pipelines"],
        [str(ids["pipeline"]), "jobs"],
        [str(ids["job"]), "trace"],
    ]

    # what the log said is in Redis, under a key and value without the token
    store = redis.Redis.from_url(stack.env["REDIS_URL"])
    [key] = store.keys("layerbot:build-timings:*")
    assert key.decode() == f'layerbot:build-timings:{project}:["main", "build"]'
    assert stack.settings.gitlab_token not in key.decode() + store.get(key).decode()
    assert 0 < store.ttl(key) <= CACHE_SECONDS

    # a new push within the cache window: the same figures, and no job or trace call
    fake.clear_calls()
    new_sha = fake.push(project, iid, {"main.go": example_files()["main.go"] + "\n"})
    again = review(stack, project, iid, new_sha)
    assert f"its steps took 66 s in {source}" in again
    assert job_calls(fake) == []
    assert fake.calls(method="GET", path_regex=r"/diffs$"), "the second review ran"


@pytest.mark.parametrize("setup", ["forbidden", "absent"])
def test_no_rights_or_no_trace_says_nothing_about_time_in_bounded_calls(
    stack: Stack, setup: str
) -> None:
    fake = stack.fake
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    fake.add_job(project, "build", trace=TRACE if setup == "forbidden" else None)
    if setup == "forbidden":
        fake.restrict_jobs(project, 40)
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]

    summary = review(stack, project, iid, sha)
    bodies = [note["body"] for note in bot_notes(fake, project, iid)]
    assert "findings in" in summary
    assert not any(re.search(r"Measured|pipeline `#|ran uncached|Job log", b) for b in bodies)
    calls = job_calls(fake)
    assert len(calls) <= 1 + MAX_PIPELINES + MAX_LOGS
    if setup == "forbidden":
        assert [call["status"] for call in calls] == [403]
    else:
        assert [call["status"] for call in calls] == [200, 200, 404]
