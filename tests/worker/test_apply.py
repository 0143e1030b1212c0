"""``apply`` against the fake GitLab over HTTP: who may ask, never over a human's push, and
exactly once whatever answer is lost (issue 12, points 2, 3 and 4)."""

from __future__ import annotations

import threading
import time

import pytest

from layerbot.settings import Settings
from tests.fake_gitlab.server import FakeGitLab
from tests.worker.expect import example_files
from tests.worker.test_review_gitlab import head, human, replies
from workers.commands import TRAILER, handle_note
from workers.gitlab_client import AmbiguousWriteError, GitLabClient

MAINTAINER, DEVELOPER, REPORTER = 40, 30, 20
NOT_A_DEVELOPER = "Only members with the Developer role or more can ask me to commit fixes."
PROTECTED = (
    "`feature` is protected and you cannot push to it, so I will not push there for you; "
    "the summary has the patch."
)


def commits_by_bot(fake: FakeGitLab, project: int) -> list[str]:
    """Shas of the commits on record that carry the bot's trailer."""
    commits = fake.state.project(project).commits.values()
    return [c.sha for c in commits if f"\n{TRAILER}: " in c.message]


@pytest.mark.parametrize(
    ("role", "rules", "refusal"),
    [
        (REPORTER, [], NOT_A_DEVELOPER),
        (DEVELOPER, [], None),
        # the bot is a Maintainer: its own can_push would let a Developer through
        (DEVELOPER, [("feature", MAINTAINER, [])], PROTECTED),
        (DEVELOPER, [("feat*", MAINTAINER, [])], PROTECTED),
        (DEVELOPER, [("feature", 0, ["dev", "layerbot"])], None),
        (DEVELOPER, [("feature", MAINTAINER, []), ("*", DEVELOPER, [])], None),
        (MAINTAINER, [("feature", MAINTAINER, [])], None),
        (MAINTAINER, [("feature", 0, [])], PROTECTED),
    ],
)
def test_apply_needs_the_commenters_own_right_to_push(
    fake_gitlab: FakeGitLab,
    client: GitLabClient,
    settings: Settings,
    mr: tuple[int, int],
    role: int,
    rules: list[tuple[str, int, list[str]]],
    refusal: str | None,
) -> None:
    project, iid = mr
    fake_gitlab.add_member(project, "layerbot", MAINTAINER)
    human(fake_gitlab, project, role)
    for name, level, users in rules:
        fake_gitlab.protect_branch(project, name, push_access_level=level, allowed_to_push=users)
    before = head(fake_gitlab, project, iid)
    note = fake_gitlab.add_note(project, iid, "dev", "@layerbot apply")
    handle_note(client, settings, project, iid, note)
    [reply] = replies(fake_gitlab, project, iid, note)
    if refusal is None:
        assert reply.startswith("Applied ")
        assert head(fake_gitlab, project, iid) != before
    else:
        assert reply == refusal
        assert head(fake_gitlab, project, iid) == before


@pytest.mark.parametrize(
    ("rule", "level", "refusal"), [("feature", DEVELOPER, None), ("feat*", MAINTAINER, PROTECTED)]
)
def test_without_the_rules_apply_judges_from_the_branch_flags(
    fake_gitlab: FakeGitLab,
    client: GitLabClient,
    settings: Settings,
    mr: tuple[int, int],
    rule: str,
    level: int,
    refusal: str | None,
) -> None:
    """GitLab before 15.x listed protection rules to Maintainers only; a Developer bot then
    goes by the branch's `protected` and `developers_can_push` flags."""
    project, iid = mr
    fake_gitlab.restrict_protection_rules(MAINTAINER)
    human(fake_gitlab, project, DEVELOPER)
    fake_gitlab.protect_branch(project, rule, push_access_level=level)
    note = fake_gitlab.add_note(project, iid, "dev", "@layerbot apply")
    handle_note(client, settings, project, iid, note)
    [reply] = replies(fake_gitlab, project, iid, note)
    assert fake_gitlab.calls(path_regex="protected_branches$")[0]["status"] == 403
    if refusal is None:
        assert reply.startswith("Applied ")
    else:
        assert reply == refusal


def test_apply_to_a_branch_only_the_bot_cannot_push_to_is_refused(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    human(fake_gitlab, project, MAINTAINER)
    fake_gitlab.protect_branch(project, "feature", push_access_level=MAINTAINER)
    before = head(fake_gitlab, project, iid)
    note = fake_gitlab.add_note(project, iid, "dev", "@layerbot apply")
    handle_note(client, settings, project, iid, note)
    assert replies(fake_gitlab, project, iid, note) == [
        "`feature` is protected against my pushes; the summary has the patch to apply."
    ]
    assert head(fake_gitlab, project, iid) == before


@pytest.mark.parametrize(
    ("pushed", "committed"),
    [({"Dockerfile": "FROM alpine:3.20\n"}, False), ({"main.go": "package human\n"}, True)],
)
def test_a_push_during_apply_is_never_overwritten(
    fake_gitlab: FakeGitLab,
    client: GitLabClient,
    settings: Settings,
    mr: tuple[int, int],
    pushed: dict[str, str],
    committed: bool,
) -> None:
    """A human pushes while ``apply`` reads the files: the commit carries each file's
    last_commit_id, so GitLab refuses it when the human changed a file it rewrites (the bot
    says the branch moved and reviews again) and stacks it on top otherwise."""
    project, iid = mr
    human(fake_gitlab, project, DEVELOPER)
    seen = head(fake_gitlab, project, iid)
    fake_gitlab.inject(method="GET", path_regex=r"/files/Dockerfile/raw$", delay=1.5)
    note = fake_gitlab.add_note(project, iid, "dev", "@layerbot apply")
    worker = threading.Thread(target=handle_note, args=(client, settings, project, iid, note))
    worker.start()
    while not any(f["fired"] for f in fake_gitlab.faults()):
        time.sleep(0.01)
    human_head = fake_gitlab.push(project, iid, pushed)
    worker.join()
    files = fake_gitlab.files(project, "feature")
    assert all(files[path] == text for path, text in pushed.items())
    [reply] = replies(fake_gitlab, project, iid, note)
    if committed:
        assert reply.startswith("Applied ")
        [commit] = commits_by_bot(fake_gitlab, project)
        assert commit == head(fake_gitlab, project, iid)
        assert fake_gitlab.state.project(project).commits[commit].parent == human_head
    else:
        assert reply.startswith(f"The source branch moved since I analysed `{seen[:12]}`")
        assert head(fake_gitlab, project, iid) == human_head
        assert commits_by_bot(fake_gitlab, project) == []


def test_a_lost_commit_answer_is_announced_not_committed_again(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    human(fake_gitlab, project, DEVELOPER)
    note = fake_gitlab.add_note(project, iid, "dev", "@layerbot apply")
    fake_gitlab.inject(method="POST", path_regex=r"/repository/commits$", status=502, after=True)
    with pytest.raises(AmbiguousWriteError):
        handle_note(client, settings, project, iid, note)
    [commit] = commits_by_bot(fake_gitlab, project)
    message = fake_gitlab.state.project(project).commits[commit].message
    assert message.endswith(f"\n\n{TRAILER}: {note}\n")
    applied = head(fake_gitlab, project, iid)
    assert applied == commit

    assert handle_note(client, settings, project, iid, note).status == "done"

    assert commits_by_bot(fake_gitlab, project) == [commit]
    assert head(fake_gitlab, project, iid) == applied
    [reply] = replies(fake_gitlab, project, iid, note)
    assert reply.startswith("Applied ") and reply.endswith(f" as {applied[:12]}.")


def test_a_lost_reply_is_not_posted_again(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, mr: tuple[int, int]
) -> None:
    project, iid = mr
    human(fake_gitlab, project, DEVELOPER)
    note = fake_gitlab.add_note(project, iid, "dev", "@layerbot apply")
    fake_gitlab.inject(method="POST", path_regex=r"/notes$", status=502, after=True)
    with pytest.raises(AmbiguousWriteError):
        handle_note(client, settings, project, iid, note)

    assert handle_note(client, settings, project, iid, note).status == "already"

    assert len(commits_by_bot(fake_gitlab, project)) == 1
    assert len(replies(fake_gitlab, project, iid, note)) == 1
    assert fake_gitlab.files(project, "feature") != example_files()
