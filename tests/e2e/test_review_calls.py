"""What one review asks of GitLab, call by call, for the merge requests people open most (issue 13).

Against the fake GitLab over HTTP, through the real client and the real review: the reads are
the MR (twice: before and after the fetch), its discussions, drafts and diffs, the root CI file,
the listings of the changed Dockerfiles' folders, the changed files and the manifests and
ignore files of their build contexts; `GET /user` once per process. And a review whose reads
and drafts go out at once posts exactly what the same review posts one call at a time.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from layerbot.settings import Settings
from tests.e2e.test_fetch_calls import PACKAGE_JSON, SERVICE_DOCKERFILE, monorepo
from tests.fake_gitlab.server import FakeGitLab
from tests.worker.expect import example_files
from workers.fetch import MAX_OTHER_READS, RepoReads
from workers.gitlab_client import GitLabClient, endpoint_template
from workers.review import ReviewOutcome, run_review

MR = "/projects/:id/merge_requests/:iid"
RAW = "/projects/:id/repository/files/:path/raw"
TREE = "/projects/:id/repository/tree"


def make_client(
    fake: FakeGitLab, folder: Path, threads: int = 8, token: str | None = None
) -> GitLabClient:
    settings = Settings(
        gitlab_url=fake.url,
        gitlab_token=token or fake.bot_token,
        data_dir=folder,
        gitlab_parallel_calls=threads,
    )
    return GitLabClient(settings)


@pytest.fixture
def client(fake_gitlab: FakeGitLab, tmp_path: Path) -> Iterator[GitLabClient]:
    made = make_client(fake_gitlab, tmp_path)
    made.current_user()  # the process's first review asked it; these do not
    yield made
    made.close()


def endpoints(fake: FakeGitLab) -> Counter[str]:
    return Counter(f"{call['method']} {endpoint_template(call['path'])}" for call in fake.calls())


def raw_reads(fake: FakeGitLab) -> Counter[str]:
    return Counter(
        unquote(str(call["path"]).rsplit("/repository/files/", 1)[1].removesuffix("/raw"))
        for call in fake.calls(method="GET", path_regex=r"/repository/files/.+/raw$")
    )


def listed(fake: FakeGitLab) -> list[str]:
    calls = fake.calls(method="GET", path_regex=r"/repository/tree$")
    assert all("recursive" not in call["query"] for call in calls)
    return sorted(str(call["query"].get("path", "")) for call in calls)


def writes(inline: int) -> Counter[str]:
    """A first review's writes: one draft per inline finding, one publish, the summary (and
    the discussions read back in between)."""
    return Counter(
        {
            f"POST {MR}/draft_notes": inline,
            f"POST {MR}/draft_notes/bulk_publish": 1,
            f"GET {MR}/discussions": 1,
            f"POST {MR}/notes": 1,
        }
    )


def review(
    fake: FakeGitLab, client: GitLabClient, before: dict[str, str], after: dict[str, str]
) -> ReviewOutcome:
    project = fake.add_project(f"group/app{len(fake.calls())}", files=before)
    iid = fake.open_merge_request(project, None, after)
    fake.clear_calls()
    outcome = run_review(client, client.settings, project, iid)
    assert outcome.status == "posted"
    return outcome


def reads(listings: int, raw: int, pipelines: int) -> Counter[str]:
    """A first review's reads: the MR twice (before and after the fetch), its discussions,
    drafts and diffs, the folder listings, the raw files, the build timings' pipelines."""
    return Counter(
        {
            f"GET {MR}": 2,
            f"GET {MR}/discussions": 1,
            f"GET {MR}/draft_notes": 1,
            f"GET {MR}/diffs": 1,
            f"GET {TREE}": listings,
            f"GET {RAW}": raw,
            "GET /projects/:id/pipelines": pipelines,
        }
    )


@pytest.mark.parametrize("changed", [["Dockerfile"], ["Dockerfile", ".gitlab-ci.yml"]])
def test_a_dockerfile_merge_request_with_or_without_its_ci_file(
    fake_gitlab: FakeGitLab, client: GitLabClient, changed: list[str]
) -> None:
    after = example_files()
    before = {path: text for path, text in after.items() if path not in changed}
    outcome = review(fake_gitlab, client, before, after)

    # the root CI file builds the Dockerfile: one pipelines call for its latest build's times
    assert endpoints(fake_gitlab) == reads(1, 3, 1) + writes(outcome.inline)
    assert listed(fake_gitlab) == [""]
    # the Dockerfile, the CI file that builds it, the one manifest the rules open (go.sum is
    # a lockfile: read only when a rule asks, and none does here)
    assert raw_reads(fake_gitlab) == Counter(["Dockerfile", ".gitlab-ci.yml", "go.mod"])


def test_a_monorepo_merge_request_reads_its_service_folder_only(
    fake_gitlab: FakeGitLab, client: GitLabClient
) -> None:
    before = monorepo(folders=40, files_per_folder=30)  # 1,200 files: 12 pages recursively
    before["services/api/Dockerfile"] = "FROM python:3.12-slim\nCOPY . /app\n"
    after = {**before, "services/web/Dockerfile": SERVICE_DOCKERFILE}
    outcome = review(fake_gitlab, client, before, after)

    assert endpoints(fake_gitlab) == reads(3, 3, 0) + writes(outcome.inline)
    assert listed(fake_gitlab) == ["", "services", "services/web"]
    # no root CI file (its read is the one 404), no other service's files, no lockfile
    assert raw_reads(fake_gitlab) == Counter(
        [".gitlab-ci.yml", "services/web/Dockerfile", "services/web/package.json"]
    )
    statuses = {call["status"] for call in fake_gitlab.calls(path_regex=r"gitlab-ci\.yml/raw$")}
    assert statuses == {404}


def services(count: int) -> dict[str, str]:
    """A monorepo of Go services, each built by a job of the root CI file."""
    service = {path: text for path, text in example_files().items() if "/" not in path}
    del service[".gitlab-ci.yml"]
    files = {f"svc{i:03d}/{path}": text for i in range(count) for path, text in service.items()}
    jobs = [
        f"build{i}:\n  image: docker:24\n  script:\n    - docker build -t app/svc{i} svc{i:03d}\n"
        for i in range(count)
    ]
    return {**files, ".gitlab-ci.yml": "\n".join(jobs)}


def test_a_monorepo_with_a_root_ci_file_building_every_service(
    fake_gitlab: FakeGitLab, client: GitLabClient
) -> None:
    """The root CI file is reviewed with the changed Dockerfile it builds; the Dockerfiles of
    its other jobs are read only within the budget of other reads, whatever their number."""
    calls = []
    for count in (6, 30):
        after = services(count)
        before = {**after, "svc003/Dockerfile": "FROM golang:1.22\n"}
        outcome = review(fake_gitlab, client, before, after)
        ours = {"", "svc003"}
        assert set(listed(fake_gitlab)) >= ours
        assert raw_reads(fake_gitlab) >= Counter(
            ["svc003/Dockerfile", ".gitlab-ci.yml", "svc003/go.mod"]
        )
        others = len(set(listed(fake_gitlab)) - ours) + len(raw_reads(fake_gitlab)) - 3
        assert others == MAX_OTHER_READS
        assert endpoints(fake_gitlab) == reads(2, 3, 1) + Counter(
            {f"GET {TREE}": others // 2, f"GET {RAW}": others // 2}
        ) + writes(outcome.inline)
        calls.append(endpoints(fake_gitlab))
    assert calls[0] == calls[1]  # five times the services, the same calls


def test_the_bot_user_is_read_once_per_process(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    """Cached per GitLab URL and token: a token no other test used starts with nothing."""
    token = f"bot-{uuid.uuid4().hex}"
    fake_gitlab.set_token(fake_gitlab.bot_username, token)
    for index in range(2):
        client = make_client(fake_gitlab, tmp_path, token=token)  # the cache is the process's
        project = fake_gitlab.add_project(f"group/user{index}", files={"README.md": "x\n"})
        iid = fake_gitlab.open_merge_request(project, None, example_files())
        assert run_review(client, client.settings, project, iid).status == "posted"
        client.close()
    assert len(fake_gitlab.calls(path_regex=r"^/api/v4/user$")) == 1


def test_reads_of_other_files_are_bounded(fake_gitlab: FakeGitLab, client: GitLabClient) -> None:
    files = {f"notes/{index}.md": f"note {index}\n" for index in range(MAX_OTHER_READS + 2)}
    files["deploy/go.mod"] = "module x\n"
    project = fake_gitlab.add_project("group/others", files=files)
    iid = fake_gitlab.open_merge_request(project, None, files)
    sha = str(fake_gitlab.merge_request(project, iid)["sha"])
    reads = RepoReads(client, project, sha)
    fake_gitlab.clear_calls()
    texts = [reads.text_of(path) for path in sorted(files)]
    assert texts[0] == "module x\n"  # a manifest does not count
    assert texts[1 : 1 + MAX_OTHER_READS] == [f"note {i}\n" for i in range(MAX_OTHER_READS)]
    assert texts[1 + MAX_OTHER_READS :] == [None, None]
    assert len(raw_reads(fake_gitlab)) == 1 + MAX_OTHER_READS


def posted(fake: FakeGitLab, project: int, iid: int) -> dict[str, Any]:
    """What the bot published, its head sha written as HEAD (each project has its own)."""
    sha = str(fake.merge_request(project, iid)["sha"])
    threads = []
    for thread in fake.discussions(project, iid):
        note = thread["notes"][0]
        where = note.get("position") or {}
        spot = (where.get("new_path"), where.get("new_line"), where.get("old_line"))
        threads.append((spot, note["body"].replace(sha, "HEAD").replace(sha[:12], "HEAD")))
    return {"threads": sorted(threads, key=repr), "drafts": fake.draft_notes(project, iid)}


def test_parallel_reads_post_the_same_review_as_sequential_ones(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    after = {
        **example_files(),
        "services/web/Dockerfile": SERVICE_DOCKERFILE,
        "services/web/package.json": PACKAGE_JSON,
    }
    before = {path: text for path, text in after.items() if "Dockerfile" not in path}
    reviews = {}
    connections: dict[int, set[int]] = {}
    for threads in (1, 8):
        client = make_client(fake_gitlab, tmp_path, threads)
        project = fake_gitlab.add_project(f"group/same{threads}", files=before)
        iid = fake_gitlab.open_merge_request(project, None, after)
        client.current_user()  # asked by whichever review of the process came first
        fake_gitlab.clear_calls()
        outcome = run_review(client, client.settings, project, iid)
        client.close()
        reviews[threads] = (outcome, posted(fake_gitlab, project, iid), endpoints(fake_gitlab))
        connections[threads] = {call["connection"] for call in fake_gitlab.calls()}
    # one session, one kept-alive connection; calls at once come over several
    assert len(connections[1]) == 1 < len(connections[8])
    sequential, parallel = reviews[1], reviews[8]
    assert sequential[0].status == "posted" and sequential[0].inline > 0
    assert parallel[0] == sequential[0]
    assert parallel[1] == sequential[1]  # the same threads, bodies and summary
    assert parallel[2] == sequential[2]  # and the same calls
