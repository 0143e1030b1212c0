"""A GitLab that throttles, fails, hangs and drops connections, at a seeded 20 % rate on every
call: every review still lands exactly once with exactly the comments a calm GitLab gets. And a
GitLab that refuses the token: one call, no retry storm, a log line, a metric and ``/healthz``.

The 200-review run goes through ``workers.review`` in this process (threads, one client each,
the fake GitLab in its own process over real HTTP) with the Celery task's own retry policy
(``retry_countdown`` between attempts); a smaller run goes through a real ``layerbot worker``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from bot.app import create_app
from layerbot.celery_app import REVIEW_TASK
from layerbot.settings import Settings
from tests.e2e.worker_fixtures import Stack, bot_notes, fake_process_fixture, summary_at, wait_for  # noqa: F401
from tests.fake_gitlab.faults import MIX_KINDS
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.hardening.figures import record, scaled
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    enqueue,
    hardening_redis_fixture,
    hstack_fixture,
)
from tests.worker.expect import example_files, markers
from workers.gitlab_client import GitLabClient, PermanentGitLabError, TransientGitLabError
from workers.review import ReviewBusy, ReviewOutcome, review_merge_request
from workers.tasks import MAX_RETRIES, retry_countdown

pytestmark = pytest.mark.slow

FAULT_RATE = 0.2
REVIEW_THREADS = 200
"""Reviews in flight at once; most of them sleep out a retry countdown at any moment."""
SEED = 20261130
TIMEOUT = 0.4
"""The bot's GitLab timeout here; a "slow" answer takes twice as long, so the call times out."""
SLOW = 0.8
"""A timed-out POST is still handled by the fake after this long: before the first task retry
(``retry_countdown`` waits at least 1 s), as a GitLab that finishes a slow request would."""


def random_faults() -> dict[str, Any]:
    return {"mix": list(MIX_KINDS), "rate": FAULT_RATE, "times": None, "delay": SLOW}


def fault_kinds(calls: list[dict[str, Any]]) -> Counter[str]:
    """What each injected fault did, from the fake's call log."""
    kinds: Counter[str] = Counter()
    for call in calls:
        if call["fault"] is None:
            continue
        if call["status"] == "reset":
            kinds["lost" if call["handled"] else "reset"] += 1
        elif call["status"] in (429, 500, 502, 503):
            kinds[str(call["status"])] += 1
        else:
            kinds["slow"] += 1
    return kinds


def comments(fake: RemoteFakeGitLab, project: int, iid: int) -> list[tuple[str, Any, Any]]:
    """The bot's notes as (body, path, line), with the MR's own shas blanked out."""
    refs = fake.merge_request(project, iid)["diff_refs"]
    shas = sorted({refs["head_sha"], refs["base_sha"], refs["start_sha"]}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(sha[:12]) + "[0-9a-f]*" for sha in shas))
    found = []
    for note in bot_notes(fake, project, iid):
        position = note.get("position") or {}
        body = pattern.sub("<sha>", note["body"])
        found.append((body, position.get("new_path"), position.get("new_line")))
    return sorted(found, key=repr)


COUNTDOWN_CAP = 2.0
"""The task's countdown doubles per retry (up to 5 min); here it is capped so the unluckiest of
200 reviews does not set the pace. The cap stays above ``SLOW``: a retried review still starts
after GitLab finished a request the bot gave up on, as with the real countdown."""


def review_like_the_task(
    client: GitLabClient, settings: Settings, project: int, iid: int, sha: str
) -> tuple[ReviewOutcome, int]:
    """What the Celery task does: review, and on a transient error wait its countdown (capped)
    and run the whole review again (at most ``MAX_RETRIES`` times). Returns (outcome, retries)."""
    for retries in range(MAX_RETRIES + 1):
        try:
            return review_merge_request(client, settings, project, iid, sha), retries
        except (TransientGitLabError, ReviewBusy) as error:
            if retries == MAX_RETRIES:
                raise
            time.sleep(min(retry_countdown(error, retries), COUNTDOWN_CAP))
    raise AssertionError("unreachable")


def test_reviews_under_random_gitlab_faults_post_exactly_the_right_comments_once(
    fake_process: RemoteFakeGitLab, tmp_path: Path
) -> None:
    fake = fake_process
    settings = Settings(
        gitlab_url=fake.url,
        gitlab_token=fake.bot_token,
        data_dir=tmp_path / "data",
        gitlab_timeout=TIMEOUT,
        docs_url="https://docs.example/{name}",
    )
    reviews = scaled(200)
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    reference = fake.open_merge_request(project, None, example_files())
    assert review_merge_request(GitLabClient(settings), settings, project, reference).status == (
        "posted"
    )
    expected = comments(fake, project, reference)
    assert len(expected) > 1
    mrs = [fake.open_merge_request(project, None, example_files()) for _ in range(reviews)]
    heads = {iid: str(fake.merge_request(project, iid)["sha"]) for iid in mrs}
    calm_calls = len(fake.calls())
    fake.seed(SEED)
    fake.inject(**random_faults())

    def run(iid: int) -> tuple[ReviewOutcome, int]:
        return review_like_the_task(GitLabClient(settings), settings, project, iid, heads[iid])

    with ThreadPoolExecutor(max_workers=REVIEW_THREADS) as pool:
        results = dict(zip(mrs, pool.map(run, mrs), strict=True))
    fake.clear_faults()

    calls = fake.calls()[calm_calls:]
    kinds = fault_kinds(calls)
    assert set(kinds) == set(MIX_KINDS)  # every kind of fault really happened
    assert {outcome.status for outcome, _ in results.values()} <= {"posted", "unchanged"}
    posted = {iid: comments(fake, project, iid) for iid in mrs}
    wrong = [iid for iid in mrs if posted[iid] != expected]
    duplicates = sum(
        len(found) - len(set(found))
        for found in (markers(bot_notes(fake, project, iid)) for iid in mrs)
    )
    assert (wrong, duplicates) == ([], 0)
    assert all(fake.draft_notes(project, iid) == [] for iid in mrs)
    retried = sum(1 for _, retries in results.values() if retries)
    assert retried > 0
    record(
        "gitlab_faults_in_process",
        reviews=reviews,
        fault_rate=FAULT_RATE,
        seed=SEED,
        api_calls=len(calls),
        faults_injected=sum(kinds.values()),
        faults_by_kind=dict(sorted(kinds.items())),
        reviews_retried_as_a_whole=retried,
        reviews_completed=len(results),
        reviews_with_wrong_comments=len(wrong),
        duplicates=duplicates,
        losses=reviews - len(results),
    )


def test_reviews_through_the_worker_under_random_gitlab_faults(
    hardening_redis: str, fake_process: RemoteFakeGitLab, tmp_path: Path
) -> None:
    from tests.e2e.worker_fixtures import start_worker, stop_worker
    from tests.hardening.stack import bot_env

    fake = fake_process
    env = bot_env(fake, hardening_redis, tmp_path, GITLAB_TIMEOUT=str(TIMEOUT))
    settings = Settings.from_env(env)
    reviews = scaled(12)
    projects = [fake.add_project(f"group/app{n}", files={"README.md": "hi\n"}) for n in range(3)]
    reference = fake.open_merge_request(projects[0], None, example_files())
    mrs = [
        (projects[n % 3], fake.open_merge_request(projects[n % 3], None, example_files()))
        for n in range(reviews)
    ]
    heads = {key: str(fake.merge_request(*key)["sha"]) for key in mrs}
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        enqueue(settings, REVIEW_TASK, projects[0], reference, None)
        calm = str(fake.merge_request(projects[0], reference)["sha"])
        wait_for(lambda: summary_at(fake, projects[0], reference, calm), 60, "the calm review")
        expected = comments(fake, projects[0], reference)
        calm_calls = len(fake.calls())
        fake.seed(SEED)
        fake.inject(**random_faults())
        for key, sha in heads.items():
            enqueue(settings, REVIEW_TASK, *key, sha)
        wait_for(
            lambda: all(summary_at(fake, *key, sha) for key, sha in heads.items()),
            420,
            "every review under faults",
        )
        fake.clear_faults()
    finally:
        stop_worker(worker)
    calls = fake.calls()[calm_calls:]
    kinds = fault_kinds(calls)
    wrong = [key for key in mrs if comments(fake, *key) != expected]
    duplicates = sum(
        len(found) - len(set(found)) for found in (markers(bot_notes(fake, *key)) for key in mrs)
    )
    assert (wrong, duplicates) == ([], 0)
    assert sum(kinds.values()) > 0
    log = (tmp_path / "worker.log").read_text()
    assert fake.bot_token not in log
    record(
        "gitlab_faults_worker",
        reviews=reviews,
        fault_rate=FAULT_RATE,
        seed=SEED,
        api_calls=len(calls),
        faults_injected=sum(kinds.values()),
        faults_by_kind=dict(sorted(kinds.items())),
        task_retries=len(re.findall(r"review of !\d+ in project \d+: .*; retrying in", log)),
        reviews_completed=len(mrs) - len(wrong),
        duplicates=duplicates,
        losses=len(wrong),
    )


def _gitlab_calls(status: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "layerbot_gitlab_api_calls_total" and (
                sample.labels.get("status") == status
            ):
                total += sample.value
    return total


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_fails_once_without_retries_logs_counts_and_shows_in_healthz(
    hstack: Stack, status: int, tmp_path: Path
) -> None:
    fake = hstack.fake
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    if status == 401:
        fake.set_token(fake.bot_username, None)  # revoked
    else:
        fake.inject(status=403, times=None)  # a token that lost its rights
    web = create_app(
        Settings(
            redis_url=hstack.settings.redis_url,
            webhook_secret="hook-secret",
            data_dir=tmp_path / "web",
        )
    ).test_client()
    assert web.get("/healthz").get_json()["gitlab_auth"] == "ok"

    # in this process: the first round of reads (made at once), each refused and never
    # retried, a permanent error, every call counted by its status
    before = _gitlab_calls(str(status))
    with pytest.raises(PermanentGitLabError):
        review_merge_request(GitLabClient(hstack.settings), hstack.settings, project, iid)
    first_round = [(call["method"], call["path"]) for call in fake.calls()]
    assert first_round and len(set(first_round)) == len(first_round)
    assert {call["status"] for call in fake.calls()} == {status}
    assert _gitlab_calls(str(status)) == before + len(first_round)
    fake.clear_calls()

    # through the worker: a clear log line, the health flag, and no retry of the task
    enqueue(hstack.settings, REVIEW_TASK, project, iid, None)
    line = wait_for(
        lambda: re.search(r".*failed for good.*", hstack.log.read_text()), 60, "the log line"
    ).group(0)
    assert f"HTTP {status}" in line and f"!{iid} in project {project}" in line
    # the worker logs first, then raises the flag
    health = wait_for(
        lambda: (answer := web.get("/healthz").get_json())["status"] == "degraded" and answer,
        30,
        "/healthz to report the refused token",
    )
    assert health["gitlab_auth"] == f"failed: GitLab answered {status}"
    worker_calls = [(call["method"], call["path"]) for call in fake.calls()]
    assert set(worker_calls) <= set(first_round) | {("GET", "/api/v4/user")}
    assert len(set(worker_calls)) == len(worker_calls)  # the task was not retried
    assert "retrying" not in hstack.log.read_text()
    assert fake.bot_token not in hstack.log.read_text() + str(health)
