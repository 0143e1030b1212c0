"""The fake GitLab, driven with python-gitlab over real HTTP exactly as the bot drives GitLab."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from tests.fake_gitlab import DEVELOPER, MAINTAINER, FakeGitLab, RemoteFakeGitLab
from tests.fake_gitlab.state import LINE_CODE_ERROR
from tests.fake_gitlab.webhooks import headers, signature_headers

REPO_ROOT = Path(__file__).resolve().parents[2]

BEFORE = 'FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /app\nCMD ["/app"]\n'
AFTER = (
    "FROM golang:1.22\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n"
    'COPY . .\nRUN go build -o /app\nCMD ["/app"]\n'
)
EXPECTED_DIFF = (
    "@@ -1,5 +1,7 @@\n FROM golang:1.22\n WORKDIR /src\n+COPY go.mod go.sum ./\n"
    '+RUN go mod download\n COPY . .\n RUN go build -o /app\n CMD ["/app"]\n'
)


@pytest.fixture
def review(fake_gitlab: FakeGitLab) -> dict[str, Any]:
    """A project with one MR changing the Dockerfile, plus a developer and a guest."""
    fake_gitlab.add_user("alice", token="alice-token")
    fake_gitlab.add_user("guest")
    project = fake_gitlab.add_project(
        "group/app",
        members={fake_gitlab.bot_username: DEVELOPER, "alice": DEVELOPER, "guest": 10},
    )
    iid = fake_gitlab.open_merge_request(
        project,
        {"Dockerfile": BEFORE, "main.go": "package main\n"},
        {"Dockerfile": AFTER, "main.go": "package main\n", "go.mod": "module app\n"},
        author="alice",
    )
    return {"project": project, "iid": iid}


def bot_mr(client: gitlab.Gitlab, review: dict[str, Any]) -> Any:
    return client.projects.get(review["project"]).mergerequests.get(review["iid"])


def position(
    mr: Any, new_line: int | None, old_line: int | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        **mr.diff_refs,
        "position_type": "text",
        "old_path": "Dockerfile",
        "new_path": "Dockerfile",
        "new_line": new_line,
        "old_line": old_line,
        **extra,
    }


# -- auth ------------------------------------------------------------------------------------


def test_missing_or_wrong_token_is_401(fake_gitlab: FakeGitLab) -> None:
    anonymous = requests.get(f"{fake_gitlab.url}/api/v4/user", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "401 Unauthorized"}
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(fake_gitlab.url, private_token="wrong").auth()
    assert [c["status"] for c in fake_gitlab.calls()] == [401, 401]


def test_current_user_is_the_bot(gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab) -> None:
    gitlab_client.auth()
    assert gitlab_client.user is not None
    assert gitlab_client.user.username == fake_gitlab.bot_username
    assert gitlab_client.user.id == fake_gitlab.bot_user_id


def test_bearer_token_is_accepted(fake_gitlab: FakeGitLab) -> None:
    client = gitlab.Gitlab(fake_gitlab.url, oauth_token=fake_gitlab.bot_token)
    client.auth()
    assert client.user is not None and client.user.username == fake_gitlab.bot_username


# -- merge requests and diffs ----------------------------------------------------------------


def test_merge_request_has_diff_refs_of_its_branches(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    project = gitlab_client.projects.get("group/app")
    mr = project.mergerequests.get(review["iid"])
    assert mr.state == "opened"
    assert mr.author["username"] == "alice"
    assert mr.sha == mr.diff_refs["head_sha"] == project.branches.get("feature").commit["id"]
    assert mr.diff_refs["base_sha"] == project.branches.get("main").commit["id"]
    assert mr.diff_refs["start_sha"] == mr.diff_refs["base_sha"]


def test_diffs_endpoint_gives_gitlab_style_diffs(
    gitlab_client: gitlab.Gitlab, review: dict[str, Any]
) -> None:
    path = f"/projects/{review['project']}/merge_requests/{review['iid']}/diffs"
    diffs = {d["new_path"]: d for d in gitlab_client.http_list(path, get_all=True)}
    assert sorted(diffs) == ["Dockerfile", "go.mod"]
    assert diffs["Dockerfile"]["diff"] == EXPECTED_DIFF
    assert (diffs["Dockerfile"]["new_file"], diffs["Dockerfile"]["deleted_file"]) == (False, False)
    assert diffs["go.mod"]["new_file"] is True
    assert diffs["go.mod"]["diff"] == "@@ -0,0 +1 @@\n+module app\n"
    assert diffs["go.mod"]["a_mode"] == "0"
    assert {"too_large", "collapsed", "renamed_file", "old_path"} <= set(diffs["go.mod"])


def test_renames_deletions_and_missing_final_newline(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab
) -> None:
    project = fake_gitlab.add_project("group/moves")
    iid = fake_gitlab.open_merge_request(
        project,
        {"old/Dockerfile": "FROM alpine\n", "gone.txt": "bye\n", "a.txt": "x\ny"},
        {"new/Dockerfile": "FROM alpine\n", "a.txt": "x\nz"},
    )
    path = f"/projects/{project}/merge_requests/{iid}/diffs"
    diffs = {d["new_path"]: d for d in gitlab_client.http_list(path, get_all=True)}
    assert diffs["new/Dockerfile"]["renamed_file"] is True
    assert diffs["new/Dockerfile"]["old_path"] == "old/Dockerfile"
    assert diffs["gone.txt"]["deleted_file"] is True
    assert diffs["gone.txt"]["diff"] == "@@ -1 +0,0 @@\n-bye\n"
    assert diffs["a.txt"]["diff"] == (
        "@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+z\n\\ No newline at end of file\n"
    )


def test_diffs_paginate_over_250_files_with_gitlab_headers(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab
) -> None:
    project = fake_gitlab.add_project("group/big")
    after = {f"svc{n:03d}/Dockerfile": f"FROM alpine:3.{n}\n" for n in range(250)}
    iid = fake_gitlab.open_merge_request(project, {}, after)
    path = f"/projects/{project}/merge_requests/{iid}/diffs"

    first = gitlab_client.http_list(path, iterator=True)
    assert isinstance(first, gitlab.GitlabList)
    assert (first.total, first.total_pages, first.per_page, first.next_page) == (250, 13, 20, 2)
    everything = gitlab_client.http_list(path, get_all=True, per_page=100)
    assert [d["new_path"] for d in everything] == sorted(after)

    raw = requests.get(
        f"{fake_gitlab.url}/api/v4{path}",
        params={"page": 3, "per_page": 100},
        headers={"PRIVATE-TOKEN": fake_gitlab.bot_token},
        timeout=5,
    )
    assert len(raw.json()) == 50
    assert raw.headers["X-Page"] == "3"
    assert raw.headers["X-Next-Page"] == ""
    assert raw.headers["X-Prev-Page"] == "2"
    assert raw.links["prev"]["url"] == f"{fake_gitlab.url}/api/v4{path}?page=2&per_page=100"
    assert "next" not in raw.links
    pages = [c["query"].get("page") for c in fake_gitlab.calls(path_regex=r"/diffs$")]
    assert pages == [None, None, "2", "3", "3"]


def test_too_large_diffs_are_pruned_like_gitlab(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab
) -> None:
    project = fake_gitlab.add_project("group/huge")
    big = "".join(f"RUN echo {n}\n" for n in range(20000))
    iid = fake_gitlab.open_merge_request(project, {}, {"Dockerfile": big})
    path = f"/projects/{project}/merge_requests/{iid}/diffs"
    (entry,) = gitlab_client.http_list(path, get_all=True)
    assert (entry["too_large"], entry["diff"]) == (True, "")
    assert fake_gitlab.diffs(project, iid)[0]["diff"].startswith("@@ -0,0 +1,20000 @@\n")


def test_versions_follow_pushes(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    old_head = fake_gitlab.merge_request(review["project"], review["iid"])["sha"]
    new_head = fake_gitlab.push(review["project"], review["iid"], {"go.sum": "", "main.go": None})
    mr = bot_mr(gitlab_client, review)
    assert mr.diff_refs["head_sha"] == new_head != old_head
    versions = mr.diffs.list(get_all=True)
    assert [v.head_commit_sha for v in versions] == [new_head, old_head]
    newest = mr.diffs.get(versions[0].id)
    assert sorted(d["new_path"] for d in newest.diffs) == [
        "Dockerfile",
        "go.mod",
        "go.sum",
        "main.go",
    ]
    assert [c["id"] for c in newest.commits] == [new_head, old_head]
    deleted = next(d for d in newest.diffs if d["new_path"] == "main.go")
    assert deleted["deleted_file"] is True


# -- repository ------------------------------------------------------------------------------


def test_tree_and_files_at_a_sha(gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab) -> None:
    files: dict[str, str | bytes] = {f"pkg/m{n:03d}.go": f"package m{n}\n" for n in range(130)}
    files["Dockerfile"] = "FROM scratch\n"
    files["bin/tool"] = b"\x00\x01binary"
    project_id = fake_gitlab.add_project("group/tree", files=files)
    project = gitlab_client.projects.get(project_id)
    sha = project.branches.get("main").commit["id"]

    tree = project.repository_tree(recursive=True, ref=sha, get_all=True)
    blobs = sorted(e["path"] for e in tree if e["type"] == "blob")
    assert blobs == sorted(files)
    assert {e["path"] for e in tree if e["type"] == "tree"} == {"bin", "pkg"}
    top = project.repository_tree(ref=sha, get_all=True)
    assert sorted(e["name"] for e in top) == ["Dockerfile", "bin", "pkg"]

    assert project.files.raw("Dockerfile", ref=sha) == b"FROM scratch\n"
    assert project.files.raw("bin/tool", ref="main") == b"\x00\x01binary"
    assert project.files.get("pkg/m007.go", ref=sha).decode() == b"package m7\n"
    dockerfile_blob = next(e["id"] for e in tree if e["path"] == "Dockerfile")
    assert project.repository_raw_blob(dockerfile_blob) == b"FROM scratch\n"
    with pytest.raises(gitlab.GitlabGetError) as missing:
        project.files.raw("nope.txt", ref=sha)
    assert missing.value.response_code == 404


def test_members_and_protected_branches(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.protect_branch(review["project"], "main", push_access_level=MAINTAINER)
    project = gitlab_client.projects.get(review["project"])
    alice = fake_gitlab.state.user("alice").id
    assert project.members_all.get(alice).access_level == DEVELOPER
    with pytest.raises(gitlab.GitlabGetError):
        project.members_all.get(fake_gitlab.add_user("stranger"))
    protected = project.protectedbranches.get("main")
    assert protected.push_access_levels[0]["access_level"] == MAINTAINER
    with pytest.raises(gitlab.GitlabGetError):
        project.protectedbranches.get("feature")
    assert project.branches.get("main").can_push is False
    assert project.branches.get("feature").can_push is True


def test_wildcard_protections_and_user_entries_decide_who_pushes(
    fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    """A wildcard rule protects every branch it matches (`*` crosses `/`); of several
    matching rules the most permissive wins; a user entry lets that user push."""
    fake_gitlab.add_user("carol", token="carol-token")
    fake_gitlab.add_member(review["project"], "carol", DEVELOPER)
    fake_gitlab.protect_branch(review["project"], "feat*", push_access_level=MAINTAINER)
    alice = gitlab.Gitlab(fake_gitlab.url, private_token="alice-token")
    carol = gitlab.Gitlab(fake_gitlab.url, private_token="carol-token")
    update = {"action": "update", "file_path": "main.go", "content": "package app\n"}
    commit = {"branch": "feature", "commit_message": "m", "actions": [update]}
    rules = alice.projects.get(review["project"]).protectedbranches.list(get_all=True)
    assert [(r.name, r.push_access_levels[0]["access_level"]) for r in rules] == [
        ("feat*", MAINTAINER)
    ]
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        alice.projects.get(review["project"]).commits.create(commit)
    assert refused.value.response_code == 403
    assert alice.projects.get(review["project"]).branches.get("feature").protected is True

    fake_gitlab.protect_branch(
        review["project"], "feature", push_access_level=0, allowed_to_push=["carol"]
    )
    entries = carol.projects.get(review["project"]).protectedbranches.get("feature")
    assert [e["user_id"] for e in entries.push_access_levels] == [
        None,
        fake_gitlab.state.user("carol").id,
    ]
    carol.projects.get(review["project"]).commits.create(commit)
    with pytest.raises(gitlab.GitlabCreateError):
        alice.projects.get(review["project"]).commits.create(commit)
    fake_gitlab.protect_branch(review["project"], "f*e", push_access_level=DEVELOPER)
    alice.projects.get(review["project"]).commits.create(commit)


def test_last_commit_id_refuses_a_file_changed_since_and_start_sha_never_moves_a_branch(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    """Files::BaseService#file_has_changed? compares the file's last commit on the branch with
    its last commit as of last_commit_id; Commits::CreateService treats start_sha as a new
    branch, refused on an existing one unless force."""
    project = gitlab_client.projects.get(review["project"])
    seen = fake_gitlab.merge_request(review["project"], review["iid"])["sha"]
    human = fake_gitlab.push(review["project"], review["iid"], {"main.go": "package human\n"})

    def commit(path: str, **extra: Any) -> Any:
        update = {"action": "update", "file_path": path, "content": "x\n", "last_commit_id": seen}
        return project.commits.create(
            {"branch": "feature", "commit_message": "bot", "actions": [update], **extra}
        )

    with pytest.raises(gitlab.GitlabCreateError) as changed:
        commit("main.go")
    assert (changed.value.response_code, changed.value.error_message) == (
        400,
        "The file has changed since you started editing it: main.go",
    )
    with pytest.raises(gitlab.GitlabCreateError) as exists:
        commit("Dockerfile", start_sha=seen)
    assert exists.value.error_message == (
        "A branch called 'feature' already exists. Switch to that branch in order to make changes"
    )
    assert fake_gitlab.files(review["project"], "feature")["main.go"] == "package human\n"
    created = commit("Dockerfile")  # untouched since `seen`: allowed, on top of the human push
    assert created.parent_ids == [human]
    assert fake_gitlab.files(review["project"], "feature")["main.go"] == "package human\n"
    listed = project.commits.list(ref_name="feature", since=created.created_at, get_all=True)
    assert listed[0].id == created.id
    assert seen not in [c.id for c in listed]


# -- notes and discussions -------------------------------------------------------------------


def test_diff_discussion_on_added_and_context_lines(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    mr = bot_mr(gitlab_client, review)
    added = mr.discussions.create(
        {"body": "Cache the module download", "position": position(mr, 4)}
    )
    context = mr.discussions.create({"body": "Copy less", "position": position(mr, 5, 3)})
    stored = fake_gitlab.discussions(review["project"], review["iid"])
    assert [d["id"] for d in stored] == [added.id, context.id]
    first_note = stored[0]["notes"][0]
    assert first_note["type"] == "DiffNote"
    assert first_note["author"]["username"] == fake_gitlab.bot_username
    assert (first_note["position"]["new_line"], first_note["position"]["old_line"]) == (4, None)
    assert stored[1]["notes"][0]["position"]["old_line"] == 3
    assert first_note["resolvable"] is True and first_note["resolved"] is False


@pytest.mark.parametrize(
    ("new_line", "old_line", "change"),
    [
        (5, None, {}),  # context line without its old_line
        (5, 4, {}),  # old_line that does not match
        (99, None, {}),  # beyond the file
        (3, None, {"new_path": "main.go", "old_path": "main.go"}),  # file not in the diff
        (3, None, {"head_sha": "0" * 40}),  # stale head sha
    ],
)
def test_positions_off_the_diff_are_rejected_like_gitlab(
    gitlab_client: gitlab.Gitlab,
    fake_gitlab: FakeGitLab,
    review: dict[str, Any],
    new_line: int,
    old_line: int | None,
    change: dict[str, Any],
) -> None:
    mr = bot_mr(gitlab_client, review)
    with pytest.raises(gitlab.GitlabCreateError) as rejected:
        mr.discussions.create(
            {"body": "x", "position": {**position(mr, new_line, old_line), **change}}
        )
    assert rejected.value.response_code == 400
    assert json.loads(rejected.value.response_body or b"") == {"message": LINE_CODE_ERROR}
    assert fake_gitlab.discussions(review["project"], review["iid"]) == []


def test_lines_outside_the_hunks_are_not_in_the_diff(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab
) -> None:
    lines = [f"RUN echo {n}\n" for n in range(20)]
    project = fake_gitlab.add_project("group/long")
    changed = ["FROM alpine\n", *lines]
    iid = fake_gitlab.open_merge_request(
        project, {"Dockerfile": "".join(lines)}, {"Dockerfile": "".join(changed)}
    )
    mr = gitlab_client.projects.get(project).mergerequests.get(iid)
    mr.discussions.create({"body": "in hunk", "position": position(mr, 4, 3)})
    with pytest.raises(gitlab.GitlabCreateError):
        mr.discussions.create({"body": "outside", "position": position(mr, 15, 14)})


def test_suggestion_ranges_must_stay_inside_the_file(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    mr = bot_mr(gitlab_client, review)
    inside = "Reorder:\n```suggestion:-1+2\nCOPY go.* ./\nRUN x\nCOPY . .\nRUN y\n```"
    mr.discussions.create({"body": inside, "position": position(mr, 4)})
    for body in ("```suggestion:-4+0\nX\n```", "```suggestion:-0+4\nX\n```"):
        with pytest.raises(gitlab.GitlabCreateError) as rejected:
            mr.discussions.create({"body": body, "position": position(mr, 4)})
        assert rejected.value.response_code == 400
        assert "outside Dockerfile (7 lines)" in rejected.value.error_message
    assert len(fake_gitlab.discussions(review["project"], review["iid"])) == 1


def test_resolve_and_reply(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    mr = bot_mr(gitlab_client, review)
    discussion = mr.discussions.create({"body": "finding", "position": position(mr, 3)})
    discussion.notes.create({"body": "fixed in abc123"})
    discussion.resolved = True
    discussion.save()
    (stored,) = fake_gitlab.discussions(review["project"], review["iid"])
    assert [n["body"] for n in stored["notes"]] == ["finding", "fixed in abc123"]
    assert all(n["resolved"] for n in stored["notes"])
    assert stored["notes"][0]["resolved_by"]["username"] == fake_gitlab.bot_username
    put = fake_gitlab.calls(method="PUT")[-1]
    assert put["path"].endswith(f"/discussions/{discussion.id}")
    assert put["json"] == {"resolved": True}
    fetched = mr.discussions.get(discussion.id)
    assert fetched.attributes["notes"][1]["type"] == "DiffNote"


def test_summary_note_is_created_listed_and_edited(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.add_note(review["project"], review["iid"], "alice", "@layerbot recheck")
    mr = bot_mr(gitlab_client, review)
    summary = mr.notes.create({"body": "<!-- layerbot:summary -->\n2 findings"})
    summary.body = "<!-- layerbot:summary -->\nnothing left"
    summary.save()
    notes = mr.notes.list(get_all=True, sort="asc")
    assert [(n.author["username"], n.body) for n in notes] == [
        ("alice", "@layerbot recheck"),
        (fake_gitlab.bot_username, "<!-- layerbot:summary -->\nnothing left"),
    ]
    human = mr.notes.get(notes[0].id)
    human.body = "edited by the bot"
    with pytest.raises(gitlab.GitlabUpdateError) as forbidden:
        human.save()
    assert forbidden.value.response_code == 403
    discussions = mr.discussions.list(get_all=True)
    assert [d.individual_note for d in discussions] == [True, True]


# -- draft notes -----------------------------------------------------------------------------


def test_draft_notes_bulk_publish_into_discussions(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    mr = bot_mr(gitlab_client, review)
    earlier = mr.discussions.create({"body": "old finding", "position": position(mr, 3)})
    mr.draft_notes.create({"note": "first", "position": position(mr, 3)})
    mr.draft_notes.create({"note": "second", "position": position(mr, 7, 5)})
    mr.draft_notes.create(
        {
            "note": "fixed in abc",
            "in_reply_to_discussion_id": earlier.id,
            "resolve_discussion": True,
        }
    )
    drafts = mr.draft_notes.list(get_all=True)
    assert [d.note for d in drafts] == ["first", "second", "fixed in abc"]
    assert drafts[2].position["new_line"] is None
    assert drafts[2].discussion_id == earlier.id
    assert len(fake_gitlab.discussions(review["project"], review["iid"])) == 1

    mr.draft_notes.bulk_publish()

    assert mr.draft_notes.list(get_all=True) == []
    stored = fake_gitlab.discussions(review["project"], review["iid"])
    assert [[n["body"] for n in d["notes"]] for d in stored] == [
        ["old finding", "fixed in abc"],
        ["first"],
        ["second"],
    ]
    assert stored[0]["notes"][0]["resolved"] is True
    assert stored[2]["notes"][0]["position"]["old_line"] == 5
    assert [c["status"] for c in fake_gitlab.calls(path_regex="bulk_publish")] == [204]


def test_drafts_publish_like_gitlab_invalid_ones_are_dropped_silently(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    """DraftNote validates no position; PublishService drops a note it cannot place and
    deletes every draft; a draft with no position becomes a resolvable DiscussionNote."""
    mr = bot_mr(gitlab_client, review)
    mr.draft_notes.create({"note": "off the diff", "position": position(mr, 1)})
    mr.draft_notes.create({"note": "on the diff", "position": position(mr, 3)})
    mr.draft_notes.create({"note": "general remark"})
    assert len(fake_gitlab.draft_notes(review["project"], review["iid"])) == 3

    mr.draft_notes.bulk_publish()

    assert fake_gitlab.draft_notes(review["project"], review["iid"]) == []
    stored = fake_gitlab.discussions(review["project"], review["iid"])
    assert [(d["notes"][0]["body"], d["notes"][0]["type"]) for d in stored] == [
        ("on the diff", "DiffNote"),
        ("general remark", "DiscussionNote"),
    ]
    assert [d["notes"][0]["resolvable"] for d in stored] == [True, True]
    assert [c["status"] for c in fake_gitlab.calls(path_regex="bulk_publish")] == [204]
    plain = mr.notes.create({"body": "a plain comment"})
    assert plain.resolvable is False
    with pytest.raises(gitlab.GitlabCreateError) as rejected:
        mr.discussions.create({"body": "x", "position": position(mr, 1)})
    assert rejected.value.error_message == LINE_CODE_ERROR


def test_a_published_reply_without_resolve_reopens_its_thread(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    mr = bot_mr(gitlab_client, review)
    thread = mr.discussions.create({"body": "finding", "position": position(mr, 3)})
    mr.draft_notes.create(
        {"note": "fixed", "in_reply_to_discussion_id": thread.id, "resolve_discussion": True}
    )
    with pytest.raises(gitlab.GitlabCreateError) as twice:
        mr.draft_notes.create({"note": "again", "in_reply_to_discussion_id": thread.id})
    assert twice.value.response_code == 400
    mr.draft_notes.bulk_publish()
    assert mr.discussions.get(thread.id).attributes["notes"][0]["resolved"] is True
    mr.draft_notes.create({"note": "back again", "in_reply_to_discussion_id": thread.id})
    mr.draft_notes.bulk_publish()
    notes = mr.discussions.get(thread.id).attributes["notes"]
    assert [n["body"] for n in notes] == ["finding", "fixed", "back again"]
    assert [n["resolved"] for n in notes] == [False, False, False]


def test_drafts_are_private_to_their_author(
    fake_gitlab: FakeGitLab, gitlab_client: gitlab.Gitlab, review: dict[str, Any]
) -> None:
    alice = gitlab.Gitlab(fake_gitlab.url, private_token="alice-token")
    alice_mr = alice.projects.get(review["project"]).mergerequests.get(review["iid"])
    alice_mr.draft_notes.create({"note": "my pending review"})
    mr = bot_mr(gitlab_client, review)
    assert mr.draft_notes.list(get_all=True) == []
    mr.draft_notes.bulk_publish()
    assert [d["note"] for d in fake_gitlab.draft_notes(review["project"], review["iid"])] == [
        "my pending review"
    ]


def test_note_rate_limit_spares_draft_notes(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.limit_notes(3)
    mr = bot_mr(gitlab_client, review)
    for n in range(3):
        mr.notes.create({"body": f"note {n}"})
    with pytest.raises(gitlab.GitlabCreateError) as throttled:
        mr.notes.create({"body": "one too many"}, obey_rate_limit=False)
    assert throttled.value.response_code == 429
    limited = fake_gitlab.calls(method="POST")[-1]
    assert (limited["status"], limited["handled"]) == (429, True)
    for n in range(5):
        mr.draft_notes.create({"note": f"draft {n}", "position": position(mr, 3)})
    mr.draft_notes.bulk_publish()
    assert len(fake_gitlab.discussions(review["project"], review["iid"])) == 3 + 5


# -- commits API -----------------------------------------------------------------------------


def test_commit_actions_move_the_branch_and_the_merge_request(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    project = gitlab_client.projects.get(review["project"])
    old_head = bot_mr(gitlab_client, review).sha
    commit = project.commits.create(
        {
            "branch": "feature",
            "commit_message": "layerbot: apply 2 fixes",
            "actions": [
                {"action": "update", "file_path": "Dockerfile", "content": "FROM golang:1.23\n"},
                {
                    "action": "create",
                    "file_path": ".dockerignore",
                    "content": base64.b64encode(b".git\n").decode(),
                    "encoding": "base64",
                },
                {"action": "delete", "file_path": "main.go"},
            ],
        }
    )
    assert commit.parent_ids == [old_head]
    assert commit.title == "layerbot: apply 2 fixes"
    assert fake_gitlab.files(review["project"], "feature") == {
        "Dockerfile": "FROM golang:1.23\n",
        ".dockerignore": b".git\n",
        "go.mod": "module app\n",
    }
    mr = bot_mr(gitlab_client, review)
    assert mr.sha == commit.id == mr.diff_refs["head_sha"]
    assert len(mr.diffs.list(get_all=True)) == 2


def test_commit_errors_match_gitlab(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    project = gitlab_client.projects.get(review["project"])
    create_existing = {"action": "create", "file_path": "Dockerfile", "content": "x"}
    with pytest.raises(gitlab.GitlabCreateError) as exists:
        project.commits.create(
            {"branch": "feature", "commit_message": "m", "actions": [create_existing]}
        )
    assert (exists.value.response_code, exists.value.error_message) == (
        400,
        "A file with this name already exists",
    )
    fake_gitlab.protect_branch(review["project"], "feature")
    update = {"action": "update", "file_path": "Dockerfile", "content": "x"}
    with pytest.raises(gitlab.GitlabCreateError) as protected:
        project.commits.create({"branch": "feature", "commit_message": "m", "actions": [update]})
    assert protected.value.response_code == 403
    assert "not allowed to push" in protected.value.error_message
    fake_gitlab.add_member(review["project"], fake_gitlab.bot_username, MAINTAINER)
    project.commits.create({"branch": "feature", "commit_message": "m", "actions": [update]})
    assert fake_gitlab.files(review["project"], "feature")["Dockerfile"] == "x"


# -- faults ----------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_by_python_gitlab(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.inject(method="GET", path_regex=r"/merge_requests/\d+$", status=429, retry_after=0)
    mr = bot_mr(gitlab_client, review)
    assert mr.iid == review["iid"]
    statuses = [c["status"] for c in fake_gitlab.calls(path_regex=r"/merge_requests/\d+$")]
    assert statuses == [429, 200]


def test_502_then_success_only_with_transient_retries(
    fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    plain = gitlab.Gitlab(fake_gitlab.url, private_token=fake_gitlab.bot_token)
    fake_gitlab.inject(path_regex=r"/projects/\d+$", status=502, times=1)
    with pytest.raises(gitlab.GitlabGetError) as failed:
        plain.projects.get(review["project"])
    assert failed.value.response_code == 502
    retrying = gitlab.Gitlab(
        fake_gitlab.url, private_token=fake_gitlab.bot_token, retry_transient_errors=True
    )
    fake_gitlab.inject(path_regex=r"/projects/\d+$", status=503, times=2)
    assert retrying.projects.get(review["project"]).id == review["project"]
    statuses = [c["status"] for c in fake_gitlab.calls(path_regex=r"/projects/\d+$")]
    assert statuses == [502, 503, 503, 200]


def test_connection_reset(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.inject(method="GET", path_regex=r"/repository/tree", reset=True)
    project = gitlab_client.projects.get(review["project"])
    with pytest.raises(requests.exceptions.ConnectionError):
        project.repository_tree(ref="main")
    assert project.repository_tree(ref="main")
    assert [c["status"] for c in fake_gitlab.calls(path_regex="/tree")] == ["reset", 200]


def test_post_that_times_out_after_it_succeeded(
    fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    impatient = gitlab.Gitlab(fake_gitlab.url, private_token=fake_gitlab.bot_token, timeout=0.2)
    mr = bot_mr(impatient, review)
    fake_gitlab.inject(method="POST", path_regex=r"/notes$", delay=0.6, after=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        mr.notes.create({"body": "summary"})
    assert [n["body"] for n in fake_gitlab.notes(review["project"], review["iid"])] == ["summary"]


def test_random_rate_faults_are_deterministic_per_seed(review: dict[str, Any]) -> None:
    def statuses(seed: int) -> list[Any]:
        fake = FakeGitLab(seed=seed)
        with fake:
            fake.add_project("group/app")
            fake.inject(status=500, rate=0.3, times=None)
            session = requests.Session()
            for _ in range(40):
                session.get(
                    f"{fake.url}/api/v4/projects/group%2Fapp",
                    headers={"PRIVATE-TOKEN": fake.bot_token},
                    timeout=5,
                )
            return [c["status"] for c in fake.calls()]

    first, again, other = statuses(7), statuses(7), statuses(8)
    assert first == again
    assert first != other
    assert 0 < first.count(500) < 40
    assert set(first) == {200, 500}


def test_fault_plan_is_visible_and_clearable(fake_gitlab: FakeGitLab) -> None:
    fault_id = fake_gitlab.inject(method="POST", path_regex="draft_notes", status=502, times=3)
    assert fake_gitlab.faults() == [
        {
            "method": "POST",
            "path_regex": "draft_notes",
            "status": 502,
            "delay": 0.0,
            "reset": False,
            "after": False,
            "retry_after": 1,
            "headers": {},
            "times": 3,
            "rate": 1.0,
            "mix": None,
            "fired": 0,
            "id": fault_id,
        }
    ]
    fake_gitlab.clear_faults()
    assert fake_gitlab.faults() == []


def test_mixed_faults_at_a_rate_and_lost_posts(
    fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.seed(3)
    fake_gitlab.inject(
        method="POST",
        path_regex="/notes$",
        mix=["429", "502", "reset", "lost"],
        rate=0.5,
        times=None,
    )
    mr_path = f"projects/{review['project']}/merge_requests/{review['iid']}"
    url = f"{fake_gitlab.url}/api/v4/{mr_path}/notes"
    seen: list[int | str] = []
    for n in range(60):
        try:
            answer = requests.post(
                url,
                json={"body": f"note {n}"},
                headers={"PRIVATE-TOKEN": fake_gitlab.bot_token},
                timeout=5,
            )
            seen.append(answer.status_code)
        except requests.exceptions.ConnectionError:
            seen.append("reset")
    calls = fake_gitlab.calls(method="POST")
    assert [c["status"] for c in calls] == seen
    assert {201, 429, 502, "reset"} <= set(seen)
    handled = [c["json"]["body"] for c in calls if c["handled"]]
    lost = [c for c in calls if c["handled"] and c["status"] == "reset"]
    assert lost, "the seed gives some lost POSTs"
    assert [n["body"] for n in fake_gitlab.notes(review["project"], review["iid"])] == handled
    assert len(handled) == seen.count(201) + len(lost)


def test_private_projects_and_revoked_tokens(
    fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.add_user("outsider", token="outsider-token")
    outsider = gitlab.Gitlab(fake_gitlab.url, private_token="outsider-token")
    with pytest.raises(gitlab.GitlabGetError) as hidden:
        outsider.projects.get(review["project"])
    assert hidden.value.response_code == 404
    fake_gitlab.set_token(fake_gitlab.bot_username, None)
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(fake_gitlab.url, private_token=fake_gitlab.bot_token).auth()


def test_admin_shortcut_endpoints(fake_gitlab: FakeGitLab, review: dict[str, Any]) -> None:
    admin = f"{fake_gitlab.url}/__admin"
    fault = requests.post(
        f"{admin}/faults", json={"path_regex": "/user$", "status": 503}, timeout=5
    )
    assert fault.status_code == 200
    client = gitlab.Gitlab(fake_gitlab.url, private_token=fake_gitlab.bot_token)
    with pytest.raises(gitlab.GitlabError):
        client.auth()
    calls = requests.get(f"{admin}/calls", params={"method": "GET"}, timeout=5).json()["result"]
    assert [(c["path"], c["status"]) for c in calls] == [("/api/v4/user", 503)]
    assert requests.delete(f"{admin}/calls", timeout=5).status_code == 200
    assert fake_gitlab.calls() == []
    snapshot = requests.get(f"{admin}/state", timeout=5).json()["result"]
    fresh = FakeGitLab()
    with fresh:
        assert requests.post(f"{fresh.url}/__admin/state", json=snapshot, timeout=5).ok
        assert fresh.merge_request(review["project"], review["iid"])["title"] == "Update build"


# -- webhooks --------------------------------------------------------------------------------


def test_merge_request_hook_describes_the_push(
    fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    old_head = fake_gitlab.merge_request(review["project"], review["iid"])["sha"]
    new_head = fake_gitlab.push(review["project"], review["iid"], {"go.sum": ""}, message="deps")
    hook = fake_gitlab.merge_request_hook(
        review["project"], review["iid"], action="update", pushed=True
    )
    assert (hook["object_kind"], hook["event_type"]) == ("merge_request", "merge_request")
    attributes = hook["object_attributes"]
    assert (attributes["action"], attributes["oldrev"]) == ("update", old_head)
    assert attributes["last_commit"]["id"] == new_head
    assert attributes["last_commit"]["message"] == "deps"
    assert (attributes["iid"], attributes["source_branch"]) == (review["iid"], "feature")
    assert hook["project"]["id"] == attributes["target_project_id"] == review["project"]
    assert hook["user"]["username"] == "alice"


def test_draft_to_ready_hook_carries_the_draft_change(
    fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    fake_gitlab.set_merge_request(review["project"], review["iid"], draft=True)
    assert fake_gitlab.merge_request(review["project"], review["iid"])["title"].startswith("Draft:")
    fake_gitlab.set_merge_request(review["project"], review["iid"], draft=False)
    change = {"draft": {"previous": True, "current": False}}
    hook = fake_gitlab.merge_request_hook(
        review["project"], review["iid"], action="update", changes=change
    )
    assert hook["changes"] == change
    assert hook["object_attributes"]["draft"] is False
    assert "oldrev" not in hook["object_attributes"]


def test_note_hook_for_a_command(fake_gitlab: FakeGitLab, review: dict[str, Any]) -> None:
    note_id = fake_gitlab.add_note(review["project"], review["iid"], "alice", "@layerbot apply")
    hook = fake_gitlab.note_hook(review["project"], review["iid"], note_id)
    assert (hook["object_kind"], hook["event_type"]) == ("note", "note")
    assert hook["object_attributes"]["note"] == "@layerbot apply"
    assert hook["object_attributes"]["noteable_type"] == "MergeRequest"
    assert hook["object_attributes"]["id"] == note_id
    assert hook["user"]["username"] == "alice"
    assert hook["merge_request"]["iid"] == review["iid"]
    assert (
        hook["merge_request"]["last_commit"]["id"]
        == (fake_gitlab.merge_request(review["project"], review["iid"])["sha"])
    )


def test_delivery_and_signature_headers() -> None:
    body = b'{"object_kind":"note"}'
    first = headers("Note Hook", token="s3cret", idempotency_key="key-1")
    assert first["X-Gitlab-Event"] == "Note Hook"
    assert first["X-Gitlab-Token"] == "s3cret"
    assert first["Idempotency-Key"] == "key-1"
    token = "whsec_" + base64.b64encode(b"k" * 32).decode()
    signed = signature_headers(body, token, webhook_id="msg_1", timestamp=1700000000)
    assert signed["webhook-signature"].startswith("v1,")
    other = signature_headers(body + b" ", token, webhook_id="msg_1", timestamp=1700000000)
    assert other["webhook-signature"] != signed["webhook-signature"]


# -- state and separate process --------------------------------------------------------------


def test_snapshot_restores_everything(
    gitlab_client: gitlab.Gitlab, fake_gitlab: FakeGitLab, review: dict[str, Any]
) -> None:
    mr = bot_mr(gitlab_client, review)
    mr.discussions.create({"body": "kept", "position": position(mr, 3)})
    fake_gitlab.push(review["project"], review["iid"], {"bin": b"\xff\x00"})
    snapshot = json.loads(json.dumps(fake_gitlab.snapshot()))
    copy = FakeGitLab()
    copy.restore(snapshot)

    def notes(fake: FakeGitLab) -> list[tuple[Any, ...]]:
        return [
            (d["id"], n["id"], n["body"], n["position"], n["author"]["username"])
            for d in fake.discussions(review["project"], review["iid"])
            for n in d["notes"]
        ]

    assert notes(copy) == notes(fake_gitlab)
    assert (
        copy.merge_request(review["project"], review["iid"])["diff_refs"]
        == (fake_gitlab.merge_request(review["project"], review["iid"])["diff_refs"])
    )
    assert copy.files(review["project"], "feature")["bin"] == b"\xff\x00"


def start_process(state_file: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_gitlab", "--port", "0", "--state", str(state_file)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("FAKE_GITLAB_URL="), line
    return process, line.split("=", 1)[1]


def stop_process(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_separate_process_is_driven_through_admin_endpoints(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    process, url = start_process(state_file)
    try:
        remote = RemoteFakeGitLab(url)
        assert remote.health()["bot_username"] == remote.bot_username
        project = remote.add_project("group/app", files={"logo.png": b"\x89PNG\x00"})
        iid = remote.open_merge_request(
            project, None, {"Dockerfile": AFTER, "logo.png": b"\x89PNG\x00"}
        )
        remote.inject(method="POST", path_regex="/discussions$", status=502)
        client = gitlab.Gitlab(url, private_token=remote.bot_token, retry_transient_errors=True)
        mr = client.projects.get(project).mergerequests.get(iid)
        mr.discussions.create({"body": "remote", "position": position(mr, 3, None)})
        assert [d["notes"][0]["body"] for d in remote.discussions(project, iid)] == ["remote"]
        posts = remote.calls(method="POST")
        assert [c["status"] for c in posts] == [502, 201]
        assert posts[1]["json"]["position"]["new_line"] == 3
        assert remote.files(project, "main") == {"logo.png": b"\x89PNG\x00"}
        hook = remote.merge_request_hook(project, iid, action="update")
        assert (hook["project"]["id"], hook["object_attributes"]["iid"]) == (project, iid)
        assert hook["object_attributes"]["action"] == "update"
    finally:
        stop_process(process)
    saved = json.loads(state_file.read_text())
    assert [p["path_with_namespace"] for p in saved["projects"]] == ["group/app"]

    process, url = start_process(state_file)
    try:
        client = gitlab.Gitlab(url, private_token=RemoteFakeGitLab(url).bot_token)
        mr = client.projects.get("group/app").mergerequests.get(1)
        assert [d.attributes["notes"][0]["body"] for d in mr.discussions.list(get_all=True)] == [
            "remote"
        ]
    finally:
        stop_process(process)


def test_admin_rejects_unknown_operations(fake_gitlab: FakeGitLab) -> None:
    answer = requests.post(
        f"{fake_gitlab.url}/__admin/call",
        json={"operation": "stop", "kwargs": {}},
        timeout=5,
    )
    assert answer.status_code == 400
    assert "unknown operation" in answer.json()["error"]
    assert fake_gitlab.calls() == []
