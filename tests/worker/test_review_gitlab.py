"""The review and the note commands against the fake GitLab over real HTTP (no queue)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from layerbot.analysis.fixes import apply_fix
from layerbot.cli import main as layerbot
from layerbot.settings import Settings
from tests.fake_gitlab.server import FakeGitLab
from tests.worker.expect import (
    example_files,
    finding,
    findings_for,
    inline_findings,
    markers,
    suggestion_block,
)
from workers.commands import handle_note
from workers.gitlab_client import (
    AmbiguousWriteError,
    ForbiddenHostError,
    GitLabClient,
    install_token_redaction,
)
from workers.review import review_merge_request

SUMMARY = "<!-- layerbot:summary -->"


def head(fake: FakeGitLab, project: int, iid: int) -> str:
    return str(fake.merge_request(project, iid)["sha"])


def bot_threads(fake: FakeGitLab, project: int, iid: int) -> list[dict[str, object]]:
    return [
        d
        for d in fake.discussions(project, iid)
        if d["notes"][0]["author"]["username"] == "layerbot"
    ]


def inline_rules(fake: FakeGitLab, project: int, iid: int) -> list[tuple[str, str, int]]:
    found = []
    for thread in bot_threads(fake, project, iid):
        note = thread["notes"][0]  # type: ignore[index]
        marker = re.match(r"<!-- layerbot:finding (\S+) ", note["body"])
        if marker:
            position = note["position"]
            found.append((marker.group(1), position["new_path"], position["new_line"]))
    return sorted(found)


def writes(fake: FakeGitLab) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in fake.calls() if c["method"] != "GET"]


def test_first_review_posts_inline_suggestions_and_one_summary_in_one_burst(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    outcome = review_merge_request(client, settings, project, iid, head(fake_gitlab, project, iid))
    assert outcome.status == "posted"
    expected = findings_for(example_files())
    # every file is new, so every finding but info advice is on an added line and goes inline
    assert sorted((rule, path) for rule, path, _ in inline_rules(fake_gitlab, project, iid)) == (
        sorted((item.rule, item.path) for item in inline_findings(expected))
    )
    threads = bot_threads(fake_gitlab, project, iid)
    bodies = [t["notes"][0]["body"] for t in threads]  # type: ignore[index]
    order = finding(expected, "dependency-layer-order")
    assert ("dependency-layer-order", "Dockerfile", order.line) in inline_rules(
        fake_gitlab, project, iid
    )
    [order_body] = [b for b in bodies if "dependency-layer-order " in b]
    assert suggestion_block(order, example_files()["Dockerfile"]) in order_body
    [summary_thread] = [t for t in threads if t["notes"][0]["body"].startswith(SUMMARY)]  # type: ignore[index]
    summary = summary_thread["notes"][0]  # type: ignore[index]
    files = len({item.path for item in expected})
    inline = len(inline_findings(expected))
    assert f"{len(expected)} findings in {files} files" in summary["body"]
    assert f"{inline} of them commented inline" in summary["body"]
    assert "+FROM alpine" in summary["body"] and "<details>" in summary["body"]
    # a plain comment, not a thread: it never blocks "All threads must be resolved"
    assert summary["resolvable"] is False and summary_thread["individual_note"] is True
    # the threads arrived as drafts published by one bulk call, then the summary: one burst
    mr_path = f"/api/v4/projects/{project}/merge_requests/{iid}"
    draft_posts = [w for w in writes(fake_gitlab) if w[1].endswith("/draft_notes")]
    assert len(draft_posts) == inline
    assert [w for w in writes(fake_gitlab) if not w[1].endswith("/draft_notes")] == [
        ("POST", f"{mr_path}/draft_notes/bulk_publish"),
        ("POST", f"{mr_path}/notes"),
    ]
    assert fake_gitlab.draft_notes(project, iid) == []
    # once reviewers resolve the bot's inline threads, nothing of the bot blocks the merge
    assert fake_gitlab.merge_request(project, iid)["blocking_discussions_resolved"] is False
    for thread in threads:
        if thread["notes"][0]["resolvable"]:  # type: ignore[index]
            client.gl.http_put(f"{mr_path[7:]}/discussions/{thread['id']}", {"resolved": True})
    assert fake_gitlab.merge_request(project, iid)["blocking_discussions_resolved"] is True


def fix_one(rule: str) -> tuple[str, str]:
    """The example's Dockerfile with only ``rule``'s fix applied: (before, after)."""
    text = example_files()["Dockerfile"]
    item = finding(findings_for(example_files()), rule)
    assert item.fix is not None
    return text, apply_fix(text, item.fix)


def test_rerun_posts_nothing_and_a_fixing_push_resolves(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    review_merge_request(client, settings, project, iid, head(fake_gitlab, project, iid))
    fake_gitlab.clear_calls()
    again = review_merge_request(client, settings, project, iid, head(fake_gitlab, project, iid))
    assert again.status == "unchanged"
    assert writes(fake_gitlab) == []

    _, fixed = fix_one("dependency-layer-order")
    new_head = fake_gitlab.push(project, iid, {"Dockerfile": fixed})
    outcome = review_merge_request(client, settings, project, iid, new_head)
    assert outcome.resolved >= 1
    notes = [n for t in bot_threads(fake_gitlab, project, iid) for n in t["notes"]]  # type: ignore[attr-defined]
    posted = markers(notes)
    assert len(posted) == len(set(posted)), "a finding was posted twice"
    now = findings_for({**example_files(), "Dockerfile": fixed})
    assert {item.rule for item in inline_findings(now)} <= {rule for rule, _ in posted}
    [thread] = [
        t
        for t in bot_threads(fake_gitlab, project, iid)
        if "dependency-layer-order " in t["notes"][0]["body"]  # type: ignore[index]
    ]
    replies_ = thread["notes"]  # type: ignore[index]
    assert replies_[-1]["body"] == f"<!-- layerbot:resolved -->\nFixed in `{new_head[:12]}`."
    assert replies_[0]["resolved"] is True
    summary = next(
        t["notes"][0]["body"]  # type: ignore[index]
        for t in bot_threads(fake_gitlab, project, iid)
        if t["notes"][0]["body"].startswith("<!-- layerbot:summary")  # type: ignore[index]
    )
    assert f"{len(now)} findings in" in summary and new_head[:12] in summary


def test_closed_merge_request_and_stale_head_are_dropped(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    old = head(fake_gitlab, project, iid)
    fake_gitlab.push(project, iid, {"README.md": "changed\n"})
    assert review_merge_request(client, settings, project, iid, old).status == "dropped:stale"
    fake_gitlab.set_merge_request(project, iid, state="closed")
    now = head(fake_gitlab, project, iid)
    assert review_merge_request(client, settings, project, iid, now).status == "dropped:closed"
    assert writes(fake_gitlab) == []


def test_throttling_is_retried_and_an_ambiguous_write_is_not_duplicated(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    sha = head(fake_gitlab, project, iid)
    fake_gitlab.inject(method="GET", path_regex=r"/diffs$", status=429, retry_after=0)
    fake_gitlab.inject(method="GET", path_regex=r"/discussions$", status=502)
    # a draft is stored, but the answer is lost: GitLab acted, the bot never heard
    fake_gitlab.inject(method="POST", path_regex=r"/draft_notes$", status=502, after=True)
    expected = len(inline_findings(findings_for(example_files())))
    with pytest.raises(AmbiguousWriteError):
        review_merge_request(client, settings, project, iid, sha)
    # the drafts go out together, each once, before the lost answer fails the review
    assert len(fake_gitlab.draft_notes(project, iid)) == expected
    outcome = review_merge_request(client, settings, project, iid, sha)
    assert outcome.status == "posted"
    assert len(inline_rules(fake_gitlab, project, iid)) == expected
    assert len(bot_threads(fake_gitlab, project, iid)) == expected + 1
    statuses = [c["status"] for c in fake_gitlab.calls(method="GET", path_regex=r"/diffs$")]
    assert statuses[:2] == [429, 200]


def test_only_the_configured_host_is_ever_called(client: GitLabClient) -> None:
    with pytest.raises(ForbiddenHostError):
        client.gl.http_get("http://127.0.0.2:9/api/v4/user")


def test_token_is_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    redactor = install_token_redaction("s3cret-token")
    try:
        with caplog.at_level(logging.INFO):
            caplog.handler.addFilter(redactor)
            logging.getLogger("workers.test").info("calling with %s", "s3cret-token")
        assert caplog.messages == ["calling with [REDACTED]"]
    finally:
        logging.getLogger().removeFilter(redactor)
        for handler in logging.getLogger().handlers:
            handler.removeFilter(redactor)


# --- note commands ---------------------------------------------------------------------------


def human(fake: FakeGitLab, project: int, level: int, name: str = "dev") -> int:
    user = fake.add_user(name, token=f"{name}-token")
    fake.add_member(project, user, level)
    return user


def replies(fake: FakeGitLab, project: int, iid: int, note_id: int) -> list[str]:
    """The bot's answers to one comment (marked with the comment's id), without the marker."""
    marker = f"<!-- layerbot:reply {note_id} -->\n"
    return [
        n["body"].removeprefix(marker)
        for n in fake.notes(project, iid)
        if n["author"]["username"] == "layerbot" and n["body"].startswith(marker)
    ]


def test_apply_commits_what_check_fix_writes(
    fake_gitlab: FakeGitLab,
    client: GitLabClient,
    settings: Settings,
    mr: tuple[int, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, iid = mr
    human(fake_gitlab, project, 30)
    note = fake_gitlab.add_note(project, iid, "dev", "Thanks!\n@layerbot apply")
    outcome = handle_note(client, settings, project, iid, note)
    assert outcome.status == "done"
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name, text in example_files().items():
        (checkout / name).write_text(text)
    layerbot(["check", "--fix", "--root", str(checkout), str(checkout)])
    capsys.readouterr()
    expected = {p.name: p.read_text() for p in checkout.iterdir()}
    assert expected != example_files()
    assert fake_gitlab.files(project, "feature") == expected
    [reply] = replies(fake_gitlab, project, iid, note)
    assert reply.startswith("Applied ") and "`Dockerfile`" in reply


def test_own_notes_and_plain_comments_are_ignored(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    own = fake_gitlab.add_note(project, iid, "layerbot", "@layerbot recheck")
    assert handle_note(client, settings, project, iid, own).status == "ignored:own"
    human(fake_gitlab, project, 30)
    quoted = fake_gitlab.add_note(project, iid, "dev", "> @layerbot apply\nno thanks")
    assert handle_note(client, settings, project, iid, quoted).status == "ignored:no-command"
    assert writes(fake_gitlab) == []


def test_ignore_rule_resolves_its_threads_and_persists(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    review_merge_request(client, settings, project, iid, head(fake_gitlab, project, iid))
    human(fake_gitlab, project, 30)
    note = fake_gitlab.add_note(project, iid, "dev", "@layerbot ignore pin-base-image")
    handle_note(client, settings, project, iid, note)
    assert replies(fake_gitlab, project, iid, note) == [
        "`pin-base-image` is ignored for this merge request."
    ]
    [thread] = [
        t
        for t in bot_threads(fake_gitlab, project, iid)
        if "pin-base-image " in t["notes"][0]["body"]  # type: ignore[index]
    ]
    assert thread["notes"][-1]["body"].endswith(
        "Ignored for this merge request (`pin-base-image`)."
    )  # type: ignore[index]
    new_head = fake_gitlab.push(project, iid, {"README.md": "again\n"})
    review_merge_request(client, settings, project, iid, new_head)
    summary = next(
        t["notes"][0]["body"]  # type: ignore[index]
        for t in bot_threads(fake_gitlab, project, iid)
        if t["notes"][0]["body"].startswith("<!-- layerbot:summary")  # type: ignore[index]
    )
    assert "pin-base-image`](" not in summary
    assert summary.endswith('<!-- layerbot:state {"ignored": ["pin-base-image"]} -->\n')


def test_help_and_recheck_answer_in_the_thread(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    human(fake_gitlab, project, 10, name="guest")
    asked = fake_gitlab.add_note(project, iid, "guest", "@layerbot help")
    assert handle_note(client, settings, project, iid, asked).command == "help"
    [answer] = replies(fake_gitlab, project, iid, asked)
    assert answer.startswith("I review the Dockerfiles and GitLab CI files")
    assert "- `@layerbot apply all`: also commit the fixes marked for review." in answer
    recheck = fake_gitlab.add_note(project, iid, "guest", "@layerbot recheck")
    handle_note(client, settings, project, iid, recheck)
    count = len(findings_for(example_files()))
    sha = head(fake_gitlab, project, iid)
    assert replies(fake_gitlab, project, iid, recheck)[-1] == (
        f"Rechecked {sha[:12]}: {count} finding(s); the summary is current."
    )
    assert len(inline_rules(fake_gitlab, project, iid)) == len(
        inline_findings(findings_for(example_files()))
    )


def test_info_findings_go_inline_when_the_project_asks(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings
) -> None:
    files = {**example_files(), ".layerbot.yml": "inline-info: true\n"}
    project = fake_gitlab.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake_gitlab.open_merge_request(project, None, files)
    review_merge_request(client, settings, project, iid, head(fake_gitlab, project, iid))
    expected = findings_for(files)
    assert len(inline_findings(expected)) < len(expected)  # the example has info advice
    assert sorted(rule for rule, _, _ in inline_rules(fake_gitlab, project, iid)) == sorted(
        item.rule for item in expected
    )
