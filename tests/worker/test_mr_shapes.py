"""Merge requests of awkward shapes and hostile content, reviewed against the fake GitLab."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from layerbot.settings import Settings
from tests.fake_gitlab.server import FakeGitLab
from workers.gitlab_client import GitLabClient, RetryPolicy, TransientGitLabError
from workers.review import review_merge_request

NAIVE = "FROM golang:latest\nWORKDIR /app\nCOPY . .\nRUN go mod download\nRUN go build -o app .\n"
GO_MOD = "module example.com/app\n\ngo 1.22\n"
Review = Callable[[int, int], str]


@pytest.fixture
def review(fake_gitlab: FakeGitLab, tmp_path: Path) -> Review:
    settings = Settings(
        gitlab_url=fake_gitlab.url,
        gitlab_token=fake_gitlab.bot_token,
        data_dir=tmp_path,
        docs_url="https://docs.example/{name}",
    )
    client = GitLabClient(settings, RetryPolicy(backoff=0.01))

    def run(project: int, iid: int) -> str:
        sha = fake_gitlab.merge_request(project, iid)["sha"]
        return review_merge_request(client, settings, project, iid, sha).status

    return run


def bot_bodies(fake: FakeGitLab, project: int, iid: int) -> list[str]:
    return [
        note["body"]
        for thread in fake.discussions(project, iid)
        for note in thread["notes"]
        if note["author"]["username"] == "layerbot"
    ]


def positions(fake: FakeGitLab, project: int, iid: int) -> list[dict[str, object]]:
    return [
        note["position"]
        for thread in fake.discussions(project, iid)
        for note in thread["notes"]
        if note.get("position")
    ]


def test_deleted_dockerfile_is_not_reviewed(fake_gitlab: FakeGitLab, review: Review) -> None:
    project = fake_gitlab.add_project(files={"Dockerfile": NAIVE, "go.mod": GO_MOD})
    iid = fake_gitlab.open_merge_request(project, None, {"go.mod": GO_MOD})
    assert review(project, iid) == "unchanged"
    assert bot_bodies(fake_gitlab, project, iid) == []


def test_moved_dockerfile_is_reviewed_under_its_new_path(
    fake_gitlab: FakeGitLab, review: Review
) -> None:
    project = fake_gitlab.add_project(files={"Dockerfile": NAIVE, "go.mod": GO_MOD})
    iid = fake_gitlab.open_merge_request(
        project, None, {"build/Dockerfile": NAIVE, "build/go.mod": GO_MOD}
    )
    assert review(project, iid) == "posted"
    # a pure move shows no diff lines, so its findings live in the summary, under the new path
    assert positions(fake_gitlab, project, iid) == []
    [summary] = [b for b in bot_bodies(fake_gitlab, project, iid) if "layerbot:summary" in b]
    assert "| `build/Dockerfile:1` |" in summary
    assert "`Dockerfile:" not in summary


def test_unchanged_lines_of_a_changed_file_stay_in_the_summary(
    fake_gitlab: FakeGitLab, review: Review
) -> None:
    padded = NAIVE + "".join(f"# note {n}\n" for n in range(30))
    project = fake_gitlab.add_project(files={"Dockerfile": padded, "go.mod": GO_MOD})
    iid = fake_gitlab.open_merge_request(
        project, None, {"Dockerfile": padded + "EXPOSE 8080\n", "go.mod": GO_MOD}
    )
    assert review(project, iid) == "posted"
    bodies = bot_bodies(fake_gitlab, project, iid)
    [summary] = [b for b in bodies if b.startswith("<!-- layerbot:summary")]
    assert "0 of them commented inline" in summary
    assert [b for b in bodies if b.startswith("<!-- layerbot:finding")] == []


def test_large_merge_request_is_read_across_pages(fake_gitlab: FakeGitLab, review: Review) -> None:
    files = {f"src/file{n}.go": f"package src // {n}\n" for n in range(150)}
    project = fake_gitlab.add_project(files={"go.mod": GO_MOD})
    iid = fake_gitlab.open_merge_request(
        project, None, {"go.mod": GO_MOD, **files, "zz/Dockerfile": NAIVE}
    )
    assert review(project, iid) == "posted"
    assert len(fake_gitlab.calls(method="GET", path_regex=r"/diffs$")) == 2
    assert {p["new_path"] for p in positions(fake_gitlab, project, iid)} == {"zz/Dockerfile"}


def test_binary_dockerfile_gets_one_invalid_file_finding(
    fake_gitlab: FakeGitLab, review: Review
) -> None:
    project = fake_gitlab.add_project(files={"README.md": "x\n"})
    iid = fake_gitlab.open_merge_request(
        project, None, {"README.md": "x\n", "Dockerfile": b"FROM \x00\xff\n"}
    )
    assert review(project, iid) == "posted"
    [summary] = [b for b in bot_bodies(fake_gitlab, project, iid) if "layerbot:summary" in b]
    assert "[`invalid-file`](https://docs.example/invalid-file)" in summary


HOSTILE = (
    "FROM golang:latest\n"
    "# ``` @all <script>alert(1)</script>\n"
    "WORKDIR /app\n"
    "COPY . .\n"
    'RUN echo "````" && echo @all "<img src=x onerror=alert(1)>" && go mod download\n'
    "RUN go build -o app .\n"
)


def test_hostile_dockerfile_reaches_gitlab_inert(fake_gitlab: FakeGitLab, review: Review) -> None:
    project = fake_gitlab.add_project(files={"README.md": "x\n"})
    files = {"README.md": "x\n", "Dockerfile": HOSTILE, "go.mod": GO_MOD}
    iid = fake_gitlab.open_merge_request(project, None, files)
    assert review(project, iid) == "posted"
    bodies = bot_bodies(fake_gitlab, project, iid)
    assert len(bodies) > 2
    for body in bodies:
        outside_code = _strip_code(body)
        assert not re.search(r"@(all|here)\b", outside_code), body
        assert "<script" not in outside_code and "<img" not in outside_code, body
        assert not any(line.startswith("/") for line in body.split("\n")), body
        assert _fences_balanced(body), body


def _outside_fences(body: str) -> tuple[list[str], bool]:
    """The lines outside fenced blocks, and whether every fence opened was closed."""
    outside, fence = [], ""
    for line in body.split("\n"):
        if fence:
            fence = "" if line == fence else fence
            continue
        opener = re.match(r"^(`{3,})", line)
        if opener:
            fence = opener.group(1)
        else:
            outside.append(line)
    return outside, fence == ""


def _strip_code(body: str) -> str:
    """The Markdown outside fenced blocks and code spans (what GitLab renders live)."""
    lines, _ = _outside_fences(body)
    text = "\n".join(re.sub(r"(`+).*?\1", "", line) for line in lines)
    return re.sub(r"</?details>|<summary>.*?</summary>", "", text)


def _fences_balanced(body: str) -> bool:
    return _outside_fences(body)[1]


def test_random_faults_never_duplicate_or_lose_a_comment(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """20 % of all API calls fail (429, 502 after GitLab acted, reset connections); each review
    is retried as the task queue would, and every MR ends with exactly its comments."""
    settings = Settings(
        gitlab_url=fake_gitlab.url, gitlab_token=fake_gitlab.bot_token, data_dir=tmp_path
    )
    client = GitLabClient(settings, RetryPolicy(attempts=4, backoff=0.0, max_wait=1.0))
    project = fake_gitlab.add_project(files={"go.mod": GO_MOD})
    iids = [
        fake_gitlab.open_merge_request(
            project, None, {"go.mod": GO_MOD, "Dockerfile": NAIVE}, source_branch=f"b{n}"
        )
        for n in range(12)
    ]
    first = iids.pop(0)
    review_merge_request(client, settings, project, first, None)
    expected = len(bot_bodies(fake_gitlab, project, first))
    fake_gitlab.seed(7)
    fake_gitlab.inject(status=429, retry_after=0, rate=0.1, times=None)
    fake_gitlab.inject(method="POST", status=502, after=True, rate=0.1, times=None)
    fake_gitlab.inject(reset=True, rate=0.05, times=None)
    attempts = 0
    for iid in iids:
        for _ in range(20):
            attempts += 1
            try:
                review_merge_request(client, settings, project, iid, None)
                break
            except TransientGitLabError:
                continue
        else:
            pytest.fail(f"!{iid} never completed")
    fake_gitlab.clear_faults()
    assert attempts > len(iids), "no fault fired"
    for iid in iids:
        assert len(bot_bodies(fake_gitlab, project, iid)) == expected, iid
        assert fake_gitlab.draft_notes(project, iid) == []
