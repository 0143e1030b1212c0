"""A throttled bot waits what GitLab asks, and its waiting retries survive a dead worker
(issue 12, points 9 and 10).

GitLab answers a throttled request `429` with `Retry-After` (seconds) and `RateLimit-Reset` (a
Unix time) on its Rack::Attack throttles; some application throttles send neither. The bot waits
`Retry-After`, else until `RateLimit-Reset`, else backs off exponentially with jitter. A wait
longer than a few seconds is not slept in a worker: the task waits in Redis and any worker
sends it when due, so a worker killed meanwhile loses nothing.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis

from layerbot.celery_app import REVIEW_TASK
from layerbot.settings import Settings
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    Stack,
    bot_notes,
    fake_process_fixture,
    start_worker,
    stop_worker,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.server import FakeGitLab
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    enqueue,
    hardening_redis_fixture,
    hstack_fixture,
)
from tests.worker.expect import example_files, findings_for, inline_findings
from workers import delayed
from workers.gitlab_client import GitLabClient, RetryPolicy, TransientGitLabError
from workers.tasks import MAX_BACKOFF_SECONDS, retry_countdown

MR_PATH = r"/merge_requests/\d+$"


@pytest.fixture
def project(fake_gitlab: FakeGitLab) -> int:
    return fake_gitlab.add_project("group/app", files={"Dockerfile": "FROM alpine:3.20\n"})


def patient_client(fake: FakeGitLab, **policy: float) -> GitLabClient:
    settings = Settings(gitlab_url=fake.url, gitlab_token=fake.bot_token)
    return GitLabClient(settings, RetryPolicy(**{"attempts": 3, "max_wait": 1.0, **policy}))


def throttled_wait(fake: FakeGitLab, project: int, client: GitLabClient) -> float | None:
    with pytest.raises(TransientGitLabError) as raised:
        client.folder_entries(project, "main", "")
    return raised.value.retry_after


def test_retry_after_is_honoured(fake_gitlab: FakeGitLab, project: int) -> None:
    reset = str(int(time.time()) + 600)
    fake_gitlab.inject(
        method="GET",
        path_regex="/repository/tree",
        status=429,
        retry_after=30,
        headers={"RateLimit-Reset": reset},
    )
    assert throttled_wait(fake_gitlab, project, patient_client(fake_gitlab)) == 30.0
    assert len(fake_gitlab.calls(path_regex="/repository/tree")) == 1  # not slept in place


def test_without_retry_after_the_rate_limit_reset_time_is_waited_for(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    asked = time.time()
    reset = int(asked) + 45
    fake_gitlab.inject(
        method="GET",
        path_regex="/repository/tree",
        status=429,
        retry_after=None,
        headers={"RateLimit-Reset": str(reset), "RateLimit-Remaining": "0"},
    )
    wait = throttled_wait(fake_gitlab, project, patient_client(fake_gitlab))
    assert wait is not None
    assert reset - time.time() <= wait <= reset - asked
    [call] = fake_gitlab.calls(path_regex="/repository/tree")
    assert call["status"] == 429


def test_a_short_rate_limit_reset_is_waited_out_in_place(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    reset = int(time.time()) + 1
    fake_gitlab.inject(
        method="GET",
        path_regex="/repository/tree",
        status=429,
        retry_after=None,
        headers={"RateLimit-Reset": str(reset)},
    )
    client = patient_client(fake_gitlab, max_wait=5.0)
    assert client.folder_entries(project, "main", "") == {"Dockerfile": True}
    first, second = fake_gitlab.calls(path_regex="/repository/tree")
    assert (first["status"], second["status"]) == (429, 200)
    assert second["at"] >= reset - 1  # not before the second GitLab named (whole seconds)


def test_without_any_hint_the_back_off_is_exponential_with_jitter(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    fake_gitlab.inject(
        method="GET", path_regex="/repository/tree", status=429, retry_after=None, times=None
    )
    client = patient_client(fake_gitlab, rate_limit_backoff=0.01, max_wait=5.0)
    with pytest.raises(TransientGitLabError) as raised:
        client.folder_entries(project, "main", "")
    error = raised.value
    assert error.retry_after is None
    assert [c["status"] for c in fake_gitlab.calls(path_regex="/repository/tree")] == [429] * 3
    waits = {retries: [retry_countdown(error, retries) for _ in range(50)] for retries in range(9)}
    for retries, drawn in waits.items():
        ceiling = min(2.0 * 2**retries, MAX_BACKOFF_SECONDS)
        assert all(ceiling / 2 <= wait <= ceiling for wait in drawn), retries
        assert len(set(drawn)) > 1  # jitter: throttled workers do not retry in step
    assert max(waits[3]) < min(waits[5])  # it grows


def test_delayed_tasks_wait_in_redis_until_due(hardening_redis: str) -> None:
    from layerbot.celery_app import make_celery

    client = redis.Redis.from_url(hardening_redis)
    app = make_celery(Settings(redis_url=hardening_redis))
    later = delayed.Delayed(REVIEW_TASK, [5, 6, "abc"], {}, "review-5-6-abc", retries=2)
    delayed.schedule(client, later, 600)
    delayed.schedule(client, later, 0)
    assert delayed.pending(client) == 2
    assert delayed.release_due(client, app) == 1  # only the due one
    assert delayed.pending(client) == 1
    queued = client.lrange("celery", 0, -1)
    assert len(queued) == 1
    assert b"review-5-6-abc" in queued[0]


def _released(client: redis.Redis) -> bool:
    return delayed.pending(client) == 0


@pytest.mark.slow  # kills and restarts a real worker, waits out a 20 s reset
def test_a_retry_waiting_for_rate_limit_reset_survives_the_worker_being_killed(
    hstack: Stack, tmp_path: Path
) -> None:
    fake, settings = hstack.fake, hstack.settings
    client = redis.Redis.from_url(settings.redis_url)
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]
    reset = int(time.time()) + 20  # longer than the client sleeps in place
    fake.inject(
        method="GET",
        path_regex=MR_PATH,
        status=429,
        retry_after=None,
        headers={"RateLimit-Reset": str(reset)},
    )
    enqueue(settings, REVIEW_TASK, project, iid, sha)
    wait_for(lambda: delayed.pending(client) == 1, 60, "the retry to wait in Redis")
    os.killpg(hstack.worker.pid, signal.SIGKILL)  # the whole worker, as an OOM-killed pod
    hstack.worker.wait(timeout=10)
    assert summary_at(fake, project, iid, sha) is None
    hstack.worker = start_worker(hstack.env, hstack.log)
    summary = wait_for(lambda: summary_at(fake, project, iid, sha), 120, "the retried review")
    found = findings_for(example_files())
    expected = len(found)  # the summary counts every finding
    inline = len(inline_findings(found))  # advice stays in the summary
    assert f"{expected} findings" in summary
    assert len(bot_notes(fake, project, iid)) == inline + 1
    throttled, *retried = fake.calls(method="GET", path_regex=MR_PATH)
    assert throttled["status"] == 429
    assert retried[0]["at"] >= reset  # honoured: not retried before the reset time
    assert _released(client)
    stop_worker(hstack.worker)
