"""Two pushes to one MR within a second: one review, of the newest head, and no interleaved
comments. The first review is still reading the MR (its diff request is slow) when the second
push lands; it notices before posting anything and drops itself. Real worker, real Redis.

A worker killed with SIGKILL mid-review is covered by
``tests/e2e/test_worker_review.py::test_worker_killed_mid_review_is_redelivered_without_duplicates``.
"""

from __future__ import annotations

import pytest

from layerbot.analysis.fixes import apply_fix
from layerbot.celery_app import REVIEW_TASK
from tests.e2e.worker_fixtures import Stack, bot_notes, fake_process_fixture, summary_at, wait_for  # noqa: F401
from tests.hardening.figures import record
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    enqueue,
    hardening_redis_fixture,
    hstack_fixture,
)
from tests.worker.expect import example_files, finding, findings_for, inline_findings, markers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_two_quick_pushes_get_one_review_of_the_newest_head(hstack: Stack) -> None:
    fake, settings = hstack.fake, hstack.settings
    project = fake.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake.open_merge_request(project, None, example_files())
    first_files = {**example_files(), "README.md": "hello, first push\n"}
    order = finding(findings_for(first_files), "dependency-layer-order")
    assert order.fix is not None
    newest_files = {**first_files, "Dockerfile": apply_fix(first_files["Dockerfile"], order.fix)}
    expected = findings_for(newest_files)
    before = len(fake.calls())

    fake.inject(method="GET", path_regex=r"/diffs$", delay=4.0, times=1)
    first = fake.push(project, iid, {"README.md": first_files["README.md"]})
    enqueue(settings, REVIEW_TASK, project, iid, first)
    # The first review has read the MR (the old head) and waits on its slow diffs when the
    # second push lands; its re-check of the head comes after the diffs, so it sees the push.
    wait_for(
        lambda: fake.calls(method="GET", path_regex=r"/merge_requests/\d+$"), 60, "the first review"
    )
    newest = fake.push(project, iid, {"Dockerfile": newest_files["Dockerfile"]})
    enqueue(settings, REVIEW_TASK, project, iid, newest)

    summary = wait_for(lambda: summary_at(fake, project, iid, newest), 60, "the newest review")
    wait_for(lambda: "dropped: stale" in hstack.log.read_text(), 60, "the first review to drop")
    notes = bot_notes(fake, project, iid)
    on_older_head = [
        note
        for note in notes
        if first[:12] in note["body"] or (note.get("position") or {}).get("head_sha") == first
    ]
    assert on_older_head == []
    assert f"{len(expected)} findings" in summary
    inline = inline_findings(expected)  # every finding but advice inline (new files)
    assert len(notes) == len(inline) + 1  # plus the summary
    assert sorted(rule for rule, _ in set(markers(notes))) == sorted(i.rule for i in inline)
    assert {note["position"]["head_sha"] for note in notes if note.get("position")} == {newest}
    writes = [
        (call["method"], call["path"].rsplit("/", 1)[-1])
        for call in fake.calls()[before:]
        if call["method"] != "GET"
    ]
    # one burst: the newest review's drafts, one publish, then the summary note; nothing from
    # the first review
    assert writes == [("POST", "draft_notes")] * len(inline) + [
        ("POST", "bulk_publish"),
        ("POST", "notes"),
    ]
    record(
        "two_pushes",
        pushes=2,
        bulk_publishes=writes.count(("POST", "bulk_publish")),
        reviews_dropped_as_stale=hstack.log.read_text().count("dropped: stale"),
        notes_posted=len(notes),
        notes_on_the_older_head=len(on_older_head),
        duplicates=len(markers(notes)) - len(set(markers(notes))),
    )
