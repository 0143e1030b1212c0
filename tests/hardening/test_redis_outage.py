"""Redis stops while webhooks keep arriving, then comes back: every accepted event is reviewed
once (the web side spools to disk and replays), none lost, none doubled.

Real parts end to end: ``layerbot serve`` (gunicorn), a ``layerbot worker`` process, the fake
GitLab in its own process, and a throwaway ``redis-server`` of this test that it stops and
restarts (the shared Redis is never touched).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.worker_fixtures import (
    bot_notes,
    fake_process_fixture,
    start_worker,
    stop_worker,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.fake_gitlab.webhooks import headers
from tests.hardening.figures import record, scaled
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    OwnRedis,
    bot_env,
    own_redis_fixture,
)
from tests.web.live import Server, http, serve
from tests.worker.expect import example_files, findings_for, inline_findings, markers

assert fake_process_fixture  # a fixture, used by name
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "outage-hook-secret"
MR_HOOK = "Merge Request Hook"
WEB_SETTINGS = ("REDIS_URL", "GITLAB_URL", "GITLAB_TOKEN", "WEBHOOK_SECRET", "LAYERBOT_DATA_DIR")
WEB_SETTINGS += ("PYTHONPATH", "LAYERBOT_AUDIT_LOG")


def deliver(server: Server, fake: RemoteFakeGitLab, key: tuple[int, int], delivery: str) -> Any:
    """One GitLab delivery of an "open" event; the same ``delivery`` is a redelivery."""
    project, iid = key
    # invoke: RemoteFakeGitLab binds these arguments against the unwrapped hook builder
    body = json.dumps(fake.invoke("merge_request_hook", {"project": project, "mr_iid": iid}))
    return server.post(body.encode(), headers(MR_HOOK, token=SECRET, idempotency_key=delivery))


def test_events_accepted_while_redis_is_down_are_reviewed_once_it_is_back(
    own_redis: OwnRedis, fake_process: RemoteFakeGitLab, tmp_path: Path
) -> None:
    fake = fake_process
    env = bot_env(fake, own_redis.url, tmp_path, WEBHOOK_SECRET=SECRET)
    web_settings = {name: env[name] for name in WEB_SETTINGS}
    per_phase = scaled(5)
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    mrs = [fake.open_merge_request(project, None, example_files()) for _ in range(3 * per_phase)]
    before, during, after = (mrs[n * per_phase : (n + 1) * per_phase] for n in range(3))
    answers: list[tuple[str, int, str]] = []

    def send(phase: str, iid: int, times: int = 1) -> None:
        for _ in range(times):  # GitLab's "Resend request" keeps the delivery's key
            status, answer = deliver(server, fake, (project, iid), f"delivery-{iid}")
            answers.append((phase, status, answer["status"]))

    def reviewed(iids: list[int]) -> bool:
        return all(
            summary_at(fake, project, iid, fake.merge_request(project, iid)["sha"]) for iid in iids
        )

    worker = start_worker(env, tmp_path / "worker.log")
    try:
        with serve(web_settings, tmp_path) as server:
            for iid in before:
                send("before", iid, times=2)
            wait_for(lambda: reviewed(before), 120, "the reviews before the outage")

            own_redis.stop()
            for iid in during:
                send("during", iid, times=2)
            assert http(f"{server.base}/healthz")[1]["spool"]["pending"] == 2 * per_phase
            own_redis.start()
            for iid in after:
                send("after", iid)
            for iid in during:  # a late resend of an event that was spooled
                send("after", iid)
            wait_for(lambda: reviewed(mrs), 180, "every accepted event reviewed")
            wait_for(
                lambda: http(f"{server.base}/healthz")[1]["spool"]["pending"] == 0, 60, "spool"
            )
            metrics = http(f"{server.base}/metrics")[1]
    finally:
        stop_worker(worker)

    by_phase = {
        phase: sorted({(status, outcome) for p, status, outcome in answers if p == phase})
        for phase in ("before", "during", "after")
    }
    assert by_phase["before"] == [(200, "duplicate"), (202, "queued")]
    assert by_phase["during"] == [(202, "spooled")]
    # right after the restart the web may still spool (it replays the spool first, in order)
    assert set(by_phase["after"]) <= {(200, "duplicate"), (202, "queued"), (202, "spooled")}
    inline = len(inline_findings(findings_for(example_files())))  # advice stays in the summary
    notes = {iid: bot_notes(fake, project, iid) for iid in mrs}
    assert {iid: len(found) for iid, found in notes.items()} == {iid: inline + 1 for iid in mrs}
    assert all(len(set(markers(found))) == inline for found in notes.values())
    reviews_per_mr = {
        iid: len(fake.calls(method="GET", path_regex=rf"/merge_requests/{iid}/diffs$"))
        for iid in mrs
    }
    assert set(reviews_per_mr.values()) == {1}  # each event reviewed once: no doubled task
    assert "layerbot_events_spooled_total" in metrics
    record(
        "redis_outage",
        webhook_deliveries_sent=len(answers),
        events_accepted_while_redis_was_down=sum(1 for p, *_ in answers if p == "during"),
        redeliveries=len(answers) - len(mrs),
        answers=dict(
            sorted(Counter(f"{status} {outcome}" for _, status, outcome in answers).items())
        ),
        merge_requests=len(mrs),
        reviews_completed=sum(reviews_per_mr.values()),
        duplicates=sum(len(found) - len(set(markers(found))) - 1 for found in notes.values()),
        losses=len(mrs) - sum(1 for found in notes.values() if found),
    )
