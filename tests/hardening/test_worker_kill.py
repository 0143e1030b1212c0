"""A whole worker killed mid-review (an OOM-killed pod: main process and pool together) loses
no review: Redis hands the unacknowledged task back after the visibility timeout, which is sized
to the longest a task may run (issue 12, point 9). Killing only the pool processes is covered by
``tests/e2e/test_worker_review.py``: the main process hands the task back at once."""

from __future__ import annotations

import os
import signal
import time

import pytest

from layerbot.celery_app import REVIEW_TASK, visibility_timeout
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    Stack,
    bot_notes,
    fake_process_fixture,
    start_worker,
    stop_worker,
    summary_at,
    wait_for,
)
from tests.hardening.figures import record
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    enqueue,
    hardening_redis_fixture,
    hstack_fixture,
)
from tests.worker.expect import example_files, findings_for, inline_findings, markers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROMISED_SECONDS = 120


def test_a_whole_worker_killed_mid_review_is_redelivered_and_posts_once(hstack: Stack) -> None:
    fake, settings = hstack.fake, hstack.settings
    assert visibility_timeout(settings) < PROMISED_SECONDS  # the default sizing keeps the promise
    # a patient client and a folder listing that hangs: once the diffs are read the review is
    # stuck there, so the kill surely lands mid-review
    stop_worker(hstack.worker)
    hstack.worker = start_worker({**hstack.env, "GITLAB_TIMEOUT": "120"}, hstack.log)
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]
    fake.inject(method="GET", path_regex=r"/repository/tree$", delay=90.0)
    enqueue(settings, REVIEW_TASK, project, iid, sha)
    wait_for(lambda: fake.calls(method="GET", path_regex=r"/diffs$"), 60, "the diffs read")
    wait_for(lambda: fake.faults()[0]["fired"] == 1, 30, "the hanging listing")
    os.killpg(hstack.worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    hstack.worker.wait(timeout=10)
    hstack.worker = start_worker(hstack.env, hstack.log)  # the pod restarted
    assert summary_at(fake, project, iid, sha) is None

    summary = wait_for(
        lambda: summary_at(fake, project, iid, sha), PROMISED_SECONDS + 60, "the redelivery"
    )
    redelivered_after = time.monotonic() - killed_at
    found = findings_for(example_files())
    expected = len(found)  # the summary counts every finding
    inline = len(inline_findings(found))  # advice stays in the summary
    assert f"{expected} findings" in summary
    notes = bot_notes(fake, project, iid)
    assert len(notes) == inline + 1
    assert len(markers(notes)) == len(set(markers(notes))) == inline
    assert len(fake.calls(method="POST", path_regex=r"/bulk_publish$")) == 1
    record(
        "worker_sigkill",
        reviews_killed=1,
        visibility_timeout_seconds=visibility_timeout(settings),
        redelivered_and_posted_after_seconds=round(redelivered_after, 1),
        duplicates=len(notes) - (inline + 1),
        losses=0,
    )


def test_a_review_over_the_time_limit_is_stopped_and_retried_once(hstack: Stack) -> None:
    """The bound the visibility timeout is sized from holds: a review still running at
    ``REVIEW_TIME_LIMIT`` is stopped in its worker and retried, not left to be redelivered."""
    fake, settings = hstack.fake, hstack.settings
    stop_worker(hstack.worker)
    env = {**hstack.env, "REVIEW_TIME_LIMIT": "3", "GITLAB_TIMEOUT": "30"}
    hstack.worker = start_worker(env, hstack.log)
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]
    fake.inject(method="GET", path_regex=r"/repository/tree$", delay=10.0)
    enqueue(settings, REVIEW_TASK, project, iid, sha)
    summary = wait_for(lambda: summary_at(fake, project, iid, sha), 90, "the retried review")
    found = findings_for(example_files())
    expected = len(found)  # the summary counts every finding
    inline = len(inline_findings(found))  # advice stays in the summary
    assert f"{expected} findings" in summary
    assert len(bot_notes(fake, project, iid)) == inline + 1
    assert "stopped at REVIEW_TIME_LIMIT; retrying in" in hstack.log.read_text()
    assert len(fake.calls(method="GET", path_regex=r"/diffs$")) == 2
