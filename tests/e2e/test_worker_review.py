"""End to end through the queue: Redis → a real ``layerbot worker`` process → the fake GitLab
running as its own process. Asserts what lands on the merge request, exactly once."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from layerbot.analysis.fixes import apply_fix
from layerbot.celery_app import NOTE_TASK, REVIEW_TASK, make_celery
from layerbot.cli import main as layerbot
from tests.e2e.worker_fixtures import (  # noqa: F401  (fixtures are used by name)
    Stack,
    answers,
    bot_notes,
    fake_process_fixture,
    redis_db_fixture,
    stack_fixture,
    start_worker,
    stop_worker,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.worker.expect import (
    example_files,
    finding,
    findings_for,
    inline_findings,
    markers,
    suggestion_block,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def open_example_mr(fake: RemoteFakeGitLab) -> tuple[int, int, str]:
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    return project, iid, fake.merge_request(project, iid)["sha"]


def enqueue(stack: Stack, task: str, *args: Any) -> None:
    make_celery(stack.settings).send_task(task, args=list(args))


def inline(fake: RemoteFakeGitLab, project: int, iid: int) -> list[tuple[str, str, int, str]]:
    found = []
    for note in bot_notes(fake, project, iid):
        marker = re.match(r"<!-- layerbot:finding (\S+) ", note["body"])
        if marker:
            position = note["position"]
            found.append(
                (marker.group(1), position["new_path"], position["new_line"], position["head_sha"])
            )
    return sorted(found)


def test_review_through_the_queue_posts_once_resolves_and_applies(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = stack.fake
    project, iid, sha = open_example_mr(fake)
    # the same push delivered twice (a webhook redelivery): reviewed once
    enqueue(stack, REVIEW_TASK, project, iid, sha)
    enqueue(stack, REVIEW_TASK, project, iid, sha)
    summary = wait_for(lambda: summary_at(fake, project, iid, sha), what="the summary note")
    wait_for(lambda: len(fake.calls(method="GET", path_regex=r"/diffs$")) >= 2, what="both tasks")
    expected = findings_for(example_files())
    assert [(rule, path, head) for rule, path, _, head in inline(fake, project, iid)] == sorted(
        (item.rule, item.path, sha) for item in inline_findings(expected)
    )
    order = finding(expected, "dependency-layer-order")
    assert ("dependency-layer-order", "Dockerfile", order.line, sha) in inline(fake, project, iid)
    body = next(n["body"] for n in bot_notes(fake, project, iid) if "dependency-layer" in n["body"])
    assert suggestion_block(order, example_files()["Dockerfile"]) in body
    assert "[`dependency-layer-order`](https://docs.example/dependency-layer-order)" in body
    files = len({item.path for item in expected})
    assert f"{len(expected)} findings in {files} files" in summary
    assert "```diff\ndiff --git a/.gitlab-ci.yml b/.gitlab-ci.yml\n" in summary
    assert len(bot_notes(fake, project, iid)) == len(inline_findings(expected)) + 1
    assert len(fake.calls(method="POST", path_regex=r"/bulk_publish$")) == 1

    # a push that fixes the layer order: that thread is resolved, nothing is re-posted
    assert order.fix is not None
    fixed = apply_fix(example_files()["Dockerfile"], order.fix)
    new_sha = fake.push(project, iid, {"Dockerfile": fixed})
    enqueue(stack, REVIEW_TASK, project, iid, new_sha)
    wait_for(lambda: summary_at(fake, project, iid, new_sha), what="the edited summary")
    notes = bot_notes(fake, project, iid)
    posted = markers(notes)
    assert len(posted) == len(set(posted)), "a finding was posted twice"
    resolved = [n for n in notes if n["body"].startswith("<!-- layerbot:resolved -->")]
    assert f"Fixed in `{new_sha[:12]}`." in resolved[0]["body"]
    assert len(notes) == len(posted) + 1 + len(resolved)

    # @layerbot apply from a Developer: one commit equal to `layerbot check --fix`
    fake.add_user("dev", token="dev-token")
    fake.add_member(project, "dev", 30)
    note = fake.add_note(project, iid, "dev", "@layerbot apply")
    enqueue(stack, NOTE_TASK, project, iid, note)
    wait_for(lambda: fake.merge_request(project, iid)["sha"] != new_sha, what="the apply commit")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name, text in {**example_files(), "Dockerfile": fixed}.items():
        (checkout / name).write_text(text)
    layerbot(["check", "--fix", "--root", str(checkout), str(checkout)])
    capsys.readouterr()
    assert fake.files(project, "feature") == {p.name: p.read_text() for p in checkout.iterdir()}
    wait_for(
        lambda: any(a.startswith("Applied ") for a in answers(fake, project, iid)),
        what="the apply answer",
    )
    assert stack.settings.gitlab_token not in stack.log.read_text()


def _pool_children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (a pool process may be forked by any of them)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_worker_killed_mid_review_is_redelivered_without_duplicates(stack: Stack) -> None:
    fake = stack.fake
    # a patient client, and a tree read that hangs for a minute: once the diffs are read, the
    # review is stuck on the tree and the kill surely lands mid-review
    stop_worker(stack.worker)
    stack.worker = start_worker({**stack.env, "GITLAB_TIMEOUT": "120"}, stack.log)
    project, iid, sha = open_example_mr(fake)
    fake.inject(method="GET", path_regex=r"/repository/tree$", delay=60.0)
    enqueue(stack, REVIEW_TASK, project, iid, sha)
    wait_for(lambda: fake.calls(method="GET", path_regex=r"/diffs$"), what="the diffs read")
    # Killed before its tree read began, the review would leave the one-time hang to the
    # redelivery, which would then wait out the whole minute: kill once the read hangs.
    wait_for(lambda: fake.faults()[0]["fired"] == 1, what="the hanging tree read")
    children = _pool_children(stack.worker.pid)
    assert children, "no pool process to kill"
    for child in children:
        os.kill(child, signal.SIGKILL)
    assert summary_at(fake, project, iid, sha) is None
    summary = wait_for(
        lambda: summary_at(fake, project, iid, sha), timeout=60, what="the redelivered review"
    )
    expected = findings_for(example_files())
    assert f"{len(expected)} findings" in summary
    assert len(bot_notes(fake, project, iid)) == len(inline_findings(expected)) + 1
    assert len(fake.calls(method="GET", path_regex=r"/diffs$")) == 2
