"""One noisy project cannot starve the others: reviews of one project take at most
``PROJECT_CONCURRENCY`` workers (see ``workers/fairness.py``), so a review of another project
queued behind a long backlog runs before that backlog drains. Real worker, real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from layerbot.celery_app import REVIEW_TASK
from layerbot.settings import Settings
from tests.e2e.worker_fixtures import Stack, bot_notes, fake_process_fixture, summary_at, wait_for  # noqa: F401
from tests.hardening.figures import record, scaled
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    enqueue,
    hardening_redis_fixture,
    hstack_fixture,
)
from tests.worker.expect import example_files, findings_for, inline_findings, markers
from workers.fairness import (
    DEFER_MIN_SECONDS,
    DEFER_SPREAD_SECONDS,
    ProjectBusy,
    project_slot,
    slot_key,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_review_of_a_quiet_project_overtakes_a_noisy_backlog(hstack: Stack) -> None:
    fake, settings = hstack.fake, hstack.settings
    assert settings.project_concurrency == 1 < settings.worker_concurrency
    backlog = scaled(40)
    noisy = fake.add_project("noisy/app", files={"README.md": "hello\n"})
    quiet = fake.add_project("quiet/app", files={"README.md": "hello\n"})
    noisy_mrs = [fake.open_merge_request(noisy, None, example_files()) for _ in range(backlog)]
    quiet_mr = fake.open_merge_request(quiet, None, example_files())
    heads = {(noisy, iid): fake.merge_request(noisy, iid)["sha"] for iid in noisy_mrs}
    heads[(quiet, quiet_mr)] = fake.merge_request(quiet, quiet_mr)["sha"]
    for (project, iid), sha in heads.items():  # the noisy backlog first, the quiet MR last
        enqueue(settings, REVIEW_TASK, project, iid, sha)

    wait_for(lambda: summary_at(fake, quiet, quiet_mr, heads[(quiet, quiet_mr)]), 120, "quiet MR")
    noisy_done_first = sum(
        1 for iid in noisy_mrs if summary_at(fake, noisy, iid, heads[(noisy, iid)])
    )
    # first in, first out would have reviewed at least backlog - concurrency noisy MRs by now
    assert noisy_done_first <= backlog // 2

    def noisy_done() -> int:
        return sum(1 for iid in noisy_mrs if summary_at(fake, noisy, iid, heads[(noisy, iid)]))

    wait_for(lambda: noisy_done() == backlog, 300, "the noisy backlog")
    inline = len(inline_findings(findings_for(example_files())))  # advice stays in the summary
    notes = {key: bot_notes(fake, *key) for key in heads}
    assert {key: len(found) for key, found in notes.items()} == {k: inline + 1 for k in heads}
    assert all(len(set(markers(found))) == inline for found in notes.values())
    duplicates = sum(len(markers(found)) - len(set(markers(found))) for found in notes.values())
    deferred = hstack.log.read_text().count("deferred by")
    assert deferred > 0
    record(
        "fairness",
        noisy_reviews_queued=backlog,
        quiet_reviews_queued=1,
        noisy_reviews_done_before_the_quiet_one=noisy_done_first,
        deferrals=deferred,
        reviews_completed=sum(1 for found in notes.values() if found),
        duplicates=duplicates,
        losses=sum(1 for found in notes.values() if not found),
    )


def test_project_slots_are_leased_renewable_by_their_holder_and_freed(
    hardening_redis: str, tmp_path: Path
) -> None:
    settings = Settings(redis_url=hardening_redis, data_dir=tmp_path / "data")
    client = redis.Redis.from_url(hardening_redis)
    with project_slot(settings, 7, "task-a"):
        with pytest.raises(ProjectBusy) as busy, project_slot(settings, 7, "task-b"):
            pytest.fail("a second review of project 7 ran")
        assert (
            DEFER_MIN_SECONDS <= busy.value.retry_after <= DEFER_MIN_SECONDS + DEFER_SPREAD_SECONDS
        )
        with project_slot(settings, 8, "task-c"):  # another project is not held up
            pass
        with project_slot(settings, 7, "task-a"):  # the same task redelivered takes its slot
            pass
        # a holder that died: its lease ran out (set in the past instead of waiting for it)
        client.zadd(slot_key(7), {"task-a": 0})
        with project_slot(settings, 7, "task-b"):
            assert client.zrange(slot_key(7), 0, -1) == [b"task-b"]
    assert client.zcard(slot_key(7)) == 0
    unlimited = Settings(redis_url=hardening_redis, project_concurrency=0)
    with project_slot(unlimited, 7, "x"), project_slot(unlimited, 7, "y"):
        assert client.zcard(slot_key(7)) == 0
