"""A review fetches what its analysis needs, not the repository (issue 12, point 11).

Against the fake GitLab speaking HTTP, through the real client and the real review: the changed
files, a non-recursive listing of each folder a rule looks into (the root, a Dockerfile's build
context) and the small files rules open; never a recursive tree. A collapsed or too large diff
(GitLab answers an empty `diff`) does not hide its file from the review: the file is read at the
head sha and analysed, and commented inline only on the lines a diff shows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import unquote

from layerbot.analysis.engine import analyse
from layerbot.settings import Settings
from tests.fake_gitlab.diffs import COLLAPSE_LIMIT, SIZE_LIMIT
from tests.fake_gitlab.server import FakeGitLab
from workers.fetch import fetch_review_input
from workers.gitlab_client import GitLabClient
from workers.review import run_review

SERVICE_DOCKERFILE = """FROM node:20
WORKDIR /app
COPY . .
RUN npm ci
CMD ["node", "server.js"]
"""
PACKAGE_JSON = '{"name": "web", "version": "1.0.0", "dependencies": {"express": "^4.19.0"}}\n'


def client_for(fake: FakeGitLab) -> GitLabClient:
    return GitLabClient(Settings(gitlab_url=fake.url, gitlab_token=fake.bot_token))


def monorepo(folders: int, files_per_folder: int) -> dict[str, str]:
    files = {
        f"lib{folder:03d}/src/module{index:03d}.py": f"VALUE = {index}\n"
        for folder in range(folders)
        for index in range(files_per_folder)
    }
    files["README.md"] = "a monorepo\n"
    files["services/web/package.json"] = PACKAGE_JSON
    files["services/web/package-lock.json"] = '{"lockfileVersion": 3}\n'
    files["services/web/server.js"] = "require('express')\n"
    return files


def tree_calls(fake: FakeGitLab) -> list[dict[str, object]]:
    return fake.calls(method="GET", path_regex=r"/repository/tree$")


def test_a_review_in_a_large_repository_lists_only_the_folders_it_looks_into(
    fake_gitlab: FakeGitLab,
) -> None:
    before = monorepo(folders=40, files_per_folder=30)  # 1,200 files: 12 pages recursively
    project = fake_gitlab.add_project("group/mono", files=before)
    after = {**before, "services/web/Dockerfile": SERVICE_DOCKERFILE}
    iid = fake_gitlab.open_merge_request(project, None, after)
    client = client_for(fake_gitlab)
    fake_gitlab.clear_calls()

    fetched = fetch_review_input(client, client.merge_request(project, iid))
    rules = {
        finding.rule for finding in analyse(fetched.files, fetched.repo, fetched.config).findings
    }
    assert "dependency-layer-order" in rules  # package.json was seen in the build context
    assert "dockerignore" in rules  # and no .dockerignore there

    listings = tree_calls(fake_gitlab)
    assert all("recursive" not in call["query"] for call in listings)
    assert sorted(str(call["query"].get("path", "")) for call in listings) == [
        "",
        "services",
        "services/web",
    ]
    reads = Counter(
        unquote(str(call["path"]).rsplit("/repository/files/", 1)[1].removesuffix("/raw"))
        for call in fake_gitlab.calls(method="GET", path_regex=r"/repository/files/.+/raw$")
    )
    assert set(reads) <= {
        ".gitlab-ci.yml",  # the root CI file, read with the changed files (here a 404)
        "services/web/Dockerfile",
        "services/web/package.json",
        "services/web/package-lock.json",
    }
    assert reads["services/web/Dockerfile"] == 1
    assert all(count == 1 for count in reads.values())
    assert client.tally.total == 1 + 1 + len(listings) + sum(reads.values())  # MR, diffs


def test_the_calls_do_not_grow_with_the_repository(fake_gitlab: FakeGitLab) -> None:
    totals = []
    for folders in (2, 60):
        before = monorepo(folders=folders, files_per_folder=25)
        project = fake_gitlab.add_project(f"group/mono{folders}", files=before)
        after = {**before, "services/web/Dockerfile": SERVICE_DOCKERFILE}
        iid = fake_gitlab.open_merge_request(project, None, after)
        client = client_for(fake_gitlab)
        fetch_review_input(client, client.merge_request(project, iid))
        totals.append(client.tally.total)
    assert totals[0] == totals[1]


def test_collapsed_and_too_large_diffs_are_read_and_analysed_but_not_commented_inline(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    padding_collapsed = "".join(f"# note {i:05d} about the build\n" for i in range(500))
    padding_large = "".join(f"# line {i:06d} of a generated header\n" for i in range(4000))
    collapsed = padding_collapsed + SERVICE_DOCKERFILE
    large = padding_large + "FROM python:latest\nCOPY . .\nRUN pip install -r requirements.txt\n"
    assert COLLAPSE_LIMIT < len(collapsed) < SIZE_LIMIT < len(large)
    project = fake_gitlab.add_project(
        "group/big", files={"README.md": "x\n", "web/package.json": PACKAGE_JSON}
    )
    after = {
        "README.md": "x\n",
        "web/package.json": PACKAGE_JSON,
        "web/Dockerfile": collapsed,
        "api/Dockerfile": large,
        "api/requirements.txt": "flask==3.0.0\n",
    }
    iid = fake_gitlab.open_merge_request(project, None, after)
    client = client_for(fake_gitlab)
    listed = {d.new_path: d for d in client.merge_request_diffs(project, iid)}
    assert listed["web/Dockerfile"].collapsed and listed["web/Dockerfile"].diff == ""
    assert listed["api/Dockerfile"].too_large and listed["api/Dockerfile"].diff == ""

    settings = Settings(
        gitlab_url=fake_gitlab.url, gitlab_token=fake_gitlab.bot_token, data_dir=tmp_path
    )
    outcome = run_review(client, settings, project, iid)
    assert outcome.findings > 0
    assert outcome.inline == 0  # no line of either file is shown by a diff
    summary = next(
        note["body"]
        for discussion in fake_gitlab.discussions(project, iid)
        for note in discussion["notes"]
        if note["body"].startswith("<!-- layerbot:summary -->")
    )
    assert "`web/Dockerfile:" in summary and "`api/Dockerfile:" in summary
    assert "(inline)" not in summary
