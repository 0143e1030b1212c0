"""The bot reviews a changed file the root CI configuration builds as a Dockerfile, whatever
its name, with the build context of that job (the same discovery as ``layerbot check``)."""

from __future__ import annotations

from pathlib import Path

from layerbot.settings import Settings
from tests.fake_gitlab.server import FakeGitLab
from workers.gitlab_client import GitLabClient, RetryPolicy
from workers.review import review_merge_request

CI = """build:
  image: docker:27
  services: [docker:27-dind]
  script:
    - docker build -f deploy/web.docker -t web .
"""
WEB = 'FROM node:20.14\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD ["node", "server.js"]\n'
FILES = {
    ".gitlab-ci.yml": CI,
    "package.json": "{}\n",
    "package-lock.json": "{}\n",
    ".dockerignore": "node_modules\n",
    "README.md": "x\n",
}


def _review(fake: FakeGitLab, tmp_path: Path, project: int, iid: int) -> str:
    settings = Settings(
        gitlab_url=fake.url, gitlab_token=fake.bot_token, data_dir=tmp_path, docs_url="{name}"
    )
    client = GitLabClient(settings, RetryPolicy(backoff=0.01))
    sha = fake.merge_request(project, iid)["sha"]
    return review_merge_request(client, settings, project, iid, sha).status


def _bodies(fake: FakeGitLab, project: int, iid: int) -> list[str]:
    return [n["body"] for t in fake.discussions(project, iid) for n in t["notes"]]


def test_a_changed_file_the_ci_builds_is_reviewed_with_the_jobs_context(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    project = fake_gitlab.add_project(files=FILES)
    iid = fake_gitlab.open_merge_request(project, None, {**FILES, "deploy/web.docker": WEB})
    assert _review(fake_gitlab, tmp_path, project, iid) == "posted"
    bodies = "\n".join(_bodies(fake_gitlab, project, iid))
    assert "| `deploy/web.docker:3` (inline) |" in bodies
    assert "<!-- layerbot:finding dependency-layer-order" in bodies
    # the root .dockerignore is the build's: no dockerignore finding
    assert "<!-- layerbot:finding dockerignore" not in bodies
    assert "[`dockerignore`]" not in bodies
    assert "copy `package.json`, `package-lock.json` first" in bodies


def test_a_merge_request_without_dockerfiles_costs_one_read_of_the_ci_file(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    project = fake_gitlab.add_project(files={**FILES, "deploy/web.docker": WEB})
    iid = fake_gitlab.open_merge_request(project, None, {**FILES, "README.md": "changed\n"})
    fake_gitlab.clear_calls()
    _review(fake_gitlab, tmp_path, project, iid)
    assert _bodies(fake_gitlab, project, iid) == []
    assert fake_gitlab.calls(path_regex="/repository/tree") == []
    assert len(fake_gitlab.calls(path_regex=r"/repository/files/")) == 1
