"""GitLab as it really behaves, through the whole bot: ``layerbot serve`` (gunicorn) takes the
webhooks, Redis queues them, a ``layerbot worker`` acts on the fake GitLab process over HTTP.
Issue 12: the summary never blocks a merge (1), ``apply`` never overwrites a push (2) and asks
whether the commenter could push (3), commands act once when answers are lost (4), a finding
back after its fix reopens its thread (5), every mention shape is a command (8), and a comment
GitLab drops at publish is reported, not claimed (12). Nothing of the bot is mocked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitlab
import pytest

from layerbot.analysis.fixes import apply_fix
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    answers,
    bot_notes,
    fake_process_fixture,
    start_worker,
    stop_worker,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.fake_gitlab.webhooks import headers
from tests.hardening.figures import record
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    bot_env,
    hardening_redis_fixture,
)
from tests.hardening.test_redis_outage import WEB_SETTINGS
from tests.web.live import Server, serve
from tests.worker.expect import example_files, finding, findings_for, inline_findings, markers

SECRET = "semantics-hook-secret"
DEVELOPER, MAINTAINER = 30, 40
COMMITS = r"/repository/commits$"


@dataclass
class Bot:
    fake: RemoteFakeGitLab
    server: Server
    log: Path

    def deliver(self, event: str, payload: dict[str, Any]) -> None:
        status, _ = self.server.post(json.dumps(payload).encode(), headers(event, token=SECRET))
        assert status == 202, (event, status)

    def review(self, project: int, iid: int, *, pushed: bool = False) -> str:
        """Deliver the MR event GitLab sends on open (or on a push); returns the head sha."""
        spec: dict[str, Any] = {"project": project, "mr_iid": iid}
        if pushed:
            spec |= {"action": "update", "pushed": True}
        self.deliver("Merge Request Hook", self.fake.invoke("merge_request_hook", spec))
        return str(self.fake.merge_request(project, iid)["sha"])

    def command(self, project: int, iid: int, author: str, text: str) -> int:
        note = self.fake.add_note(project, iid, author, text)
        spec = {"project": project, "mr_iid": iid, "note_id": note}
        self.deliver("Note Hook", self.fake.invoke("note_hook", spec))
        return note


@pytest.fixture
def bot(hardening_redis: str, fake_process: RemoteFakeGitLab, tmp_path: Path) -> Iterator[Bot]:
    env = bot_env(fake_process, hardening_redis, tmp_path, WEBHOOK_SECRET=SECRET)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        with serve({name: env[name] for name in WEB_SETTINGS}, tmp_path) as server:
            yield Bot(fake_process, server, log)
    finally:
        stop_worker(worker)


def example_mr(fake: RemoteFakeGitLab, developer: str = "dev") -> tuple[int, int]:
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    fake.add_user(developer, token=f"{developer}-token")
    fake.add_member(project, developer, DEVELOPER)
    return project, iid


def head(fake: RemoteFakeGitLab, project: int, iid: int) -> str:
    return str(fake.merge_request(project, iid)["sha"])


def fired(fake: RemoteFakeGitLab) -> bool:
    return any(fault["fired"] for fault in fake.faults())


def threads_of(fake: RemoteFakeGitLab, project: int, iid: int, rule: str) -> list[Any]:
    return [
        d
        for d in fake.discussions(project, iid)
        if d["notes"][0]["body"].startswith(f"<!-- layerbot:finding {rule} ")
    ]


def test_the_summary_never_blocks_merging_and_every_mention_shape_is_a_command(
    bot: Bot,
) -> None:
    fake = bot.fake
    project, iid = example_mr(fake)
    sha = bot.review(project, iid)
    body = wait_for(lambda: summary_at(fake, project, iid, sha), 90, "the review")
    [summary] = [n for n in bot_notes(fake, project, iid) if n["body"] == body]
    assert summary["resolvable"] is False
    # reviewers resolve the bot's inline threads: nothing of the bot is left blocking
    reviewer = gitlab.Gitlab(fake.url, private_token="dev-token")
    mr = reviewer.projects.get(project).mergerequests.get(iid)
    for thread in fake.discussions(project, iid):
        if thread["notes"][0]["resolvable"]:
            mr.discussions.update(thread["id"], {"resolved": True})
    assert fake.merge_request(project, iid)["blocking_discussions_resolved"] is True

    bot.command(project, iid, "dev", "@layerbot: help")
    bot.command(project, iid, "dev", "Thanks!\n\n@LayerBot, help")
    wait_for(lambda: len(answers(fake, project, iid)) == 2, 60, "both answers")
    assert all(a.startswith("I review the Dockerfiles") for a in answers(fake, project, iid))


def test_apply_asks_whether_the_commenter_could_push(bot: Bot) -> None:
    """A Maintainer-token bot, a Developer commenter, a branch only Maintainers push to (by a
    wildcard rule): the bot's own can_push would say yes; the commenter's right says no."""
    fake = bot.fake
    project, iid = example_mr(fake)
    fake.add_member(project, fake.bot_username, MAINTAINER)
    fake.protect_branch(project, "feat*", push_access_level=MAINTAINER)
    before = head(fake, project, iid)
    bot.command(project, iid, "dev", "@layerbot apply")
    wait_for(lambda: answers(fake, project, iid), 60, "the answer")
    assert answers(fake, project, iid) == [
        "`feature` is protected and you cannot push to it, so I will not push there for you; "
        "the summary has the patch."
    ]
    assert head(fake, project, iid) == before
    assert fake.calls(method="POST", path_regex=COMMITS) == []


def test_a_push_landing_while_apply_reads_the_files_survives(bot: Bot) -> None:
    fake = bot.fake
    project, iid = example_mr(fake)
    seen = head(fake, project, iid)
    fake.inject(method="GET", path_regex=r"/files/Dockerfile/raw$", delay=3.0)
    bot.command(project, iid, "dev", "@layerbot apply")
    wait_for(lambda: fired(fake), 60, "apply to read the Dockerfile")
    mine = "FROM golang:1.22-alpine\nWORKDIR /app\nCOPY . .\nRUN go build -o main .\n"
    pushed = fake.push(project, iid, {"Dockerfile": mine})
    wait_for(lambda: answers(fake, project, iid), 60, "the answer")
    [answer] = answers(fake, project, iid)
    assert answer.startswith(f"The source branch moved since I analysed `{seen[:12]}`")
    assert fake.files(project, "feature")["Dockerfile"] == mine
    assert head(fake, project, iid) == pushed
    refused = [c["status"] for c in fake.calls(method="POST", path_regex=COMMITS)]
    assert refused == [400]
    # and the bot reviewed the branch as the human left it
    wait_for(lambda: summary_at(fake, project, iid, pushed), 60, "the review of the push")
    record(
        "apply_after_a_push",
        human_pushes=1,
        commits_refused_by_gitlab=refused.count(400),
        human_changes_lost=int(fake.files(project, "feature")["Dockerfile"] != mine),
        branch_moved_answers=1,
    )


@pytest.mark.slow  # every write of a command lost once, through a real worker
def test_a_command_acts_once_when_its_writes_are_lost(bot: Bot) -> None:
    """The commit lands but its answer is lost (502 after GitLab acted), then the same for the
    reply: Celery retries the task twice; it finds its commit by the note's trailer (and
    announces it) and then its reply by the note's marker (and stops)."""
    fake = bot.fake
    project, iid = example_mr(fake)
    fake.inject(method="POST", path_regex=COMMITS, status=502, after=True)
    fake.inject(method="POST", path_regex=rf"/merge_requests/{iid}/notes$", status=502, after=True)
    note = bot.command(project, iid, "dev", "@layerbot apply")
    wait_for(lambda: "'status': 'already'" in bot.log.read_text(), 90, "the third run")
    commits = fake.calls(method="POST", path_regex=COMMITS)
    assert [(c["status"], c["handled"]) for c in commits] == [(502, True)]
    assert f"\n\nLayerbot-Note: {note}\n" in commits[0]["json"]["commit_message"]
    applied = head(fake, project, iid)
    said = answers(fake, project, iid)
    assert len(said) == 1 and said[0].endswith(f" as {applied[:12]}.")
    replies = fake.calls(method="POST", path_regex=rf"/merge_requests/{iid}/notes$")
    record(
        "command_once",
        writes_lost=len(commits) + 1,
        task_runs=bot.log.read_text().count(f"note {note} on !{iid}") + 1,
        commits=len(commits),
        reply_posts=len(replies),
        replies_on_the_mr=len(said),
        duplicates=len(said) - 1 + len(commits) - 1,
    )


def test_a_finding_back_after_its_fix_reopens_its_thread(bot: Bot) -> None:
    fake = bot.fake
    project, iid = example_mr(fake)
    first = bot.review(project, iid)
    wait_for(lambda: summary_at(fake, project, iid, first), 90, "the first review")
    original = example_files()["Dockerfile"]
    order = finding(findings_for(example_files()), "dependency-layer-order")
    assert order.fix is not None
    fake.push(project, iid, {"Dockerfile": apply_fix(original, order.fix)})
    fixed = bot.review(project, iid, pushed=True)
    wait_for(lambda: summary_at(fake, project, iid, fixed), 90, "the review of the fix")
    [thread] = threads_of(fake, project, iid, "dependency-layer-order")
    assert thread["notes"][0]["resolved"] is True

    fake.push(project, iid, {"Dockerfile": original})
    back = bot.review(project, iid, pushed=True)
    summary = wait_for(lambda: summary_at(fake, project, iid, back), 90, "the third review")

    [thread] = threads_of(fake, project, iid, "dependency-layer-order")
    bodies = [n["body"] for n in thread["notes"]]
    assert bodies[1:] == [
        f"<!-- layerbot:resolved -->\nFixed in `{fixed[:12]}`.",
        f"<!-- layerbot:reopened -->\nReintroduced in `{back[:12]}`.",
    ]
    assert [n["resolved"] for n in thread["notes"]] == [False, False, False]
    row = next(line for line in summary.splitlines() if "[`dependency-layer-order`]" in line)
    assert f"`Dockerfile:{order.line}` (inline)" in row
    posted = markers(bot_notes(fake, project, iid))
    assert len(posted) == len(set(posted))
    record(
        "reintroduced_finding",
        pushes=2,
        threads_of_the_finding=len(threads_of(fake, project, iid, "dependency-layer-order")),
        open_after_reintroduction=int(not thread["notes"][0]["resolved"]),
        duplicates=len(posted) - len(set(posted)),
    )


def test_comments_gitlab_drops_at_publish_are_listed_not_claimed(bot: Bot) -> None:
    """A push lands while the bot publishes: GitLab drops every draft whose position no longer
    matches the diff, without an error. The summary says so instead of "inline"."""
    fake = bot.fake
    project, iid = example_mr(fake)
    fake.inject(method="POST", path_regex=r"/draft_notes/bulk_publish$", delay=3.0)
    sha = bot.review(project, iid)
    wait_for(lambda: fired(fake), 90, "the publish")
    fake.push(project, iid, {"README.md": "hello again\n"})
    summary = wait_for(lambda: summary_at(fake, project, iid, sha), 60, "the summary")
    meant = len(inline_findings(findings_for(example_files())))
    assert "; 0 of them commented inline" in summary
    assert summary.count("(not placed inline)") == meant
    assert "(inline)" not in summary
    assert markers(bot_notes(fake, project, iid)) == []
    assert fake.draft_notes(project, iid) == []
