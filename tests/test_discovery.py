"""Which files are Dockerfiles: by name, by use in the root CI configuration, and with which
build context; the same answer for ``layerbot check``, the engine and the bot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from layerbot.analysis.discovery import (
    DOCKERFILE,
    GITLAB_CI,
    build_context,
    built_under,
    file_kind,
    kind_in,
)
from layerbot.analysis.engine import analyse_file
from layerbot.analysis.model import RepoView
from workers.fetch import changed_targets
from workers.mr_model import FileDiff

CI = """build:
  image: docker:27
  services: [docker:27-dind]
  script:
    - docker build -f deploy/web.docker -t app .
    - docker buildx build --file images/Api.df --push -t api images
kaniko:
  image: {name: gcr.io/kaniko-project/executor:debug, entrypoint: [""]}
  script:
    - /kaniko/executor --context $CI_PROJECT_DIR/svc --dockerfile build.image --destination x
buildah:
  image: quay.io/buildah/stable:v1.37
  script:
    - buildah bud -f ci/Buildfile -t y ci
"""


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile",
        "build/Dockerfile.prod",
        "Dockerfile-api",
        "docker/Dockerfile2",
        "dockerfile_dev",
        "api.Dockerfile",
        "web.dockerfile",
        "Containerfile",
        "Containerfile.arm64",
        "Containerfile-worker",
        "x.containerfile",
    ],
)
def test_dockerfiles_by_name(path: str) -> None:
    assert file_kind(path) == DOCKERFILE


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile.dockerignore",
        "api.Dockerfile.dockerignore",
        "Dockerfile.template",
        "Dockerfile.j2",
        "docs/Dockerfile.md",
        "dockerfile-lint.yml",
        "Dockerfiles/README",
        "docker-compose.yml",
    ],
)
def test_files_named_like_a_dockerfile_that_are_not_one(path: str) -> None:
    assert file_kind(path) is None


def test_ci_files_by_name() -> None:
    assert file_kind(".gitlab-ci.yml") == file_kind("ci/.gitlab-ci.yaml") == GITLAB_CI


def _repo(extra: dict[str, str] | None = None) -> RepoView:
    files = {
        ".gitlab-ci.yml": CI,
        "deploy/web.docker": "FROM node:20\n",
        "images/Api.df": "FROM alpine:3.20\n",
        "svc/build.image": "FROM alpine:3.20\n",
        "ci/Buildfile": "FROM alpine:3.20\n",
        "notes.txt": "x\n",
    }
    return RepoView.from_files({**files, **(extra or {})})


@pytest.mark.parametrize(
    "path, context",
    [
        ("deploy/web.docker", "."),
        ("images/Api.df", "images"),
        ("svc/build.image", "svc"),
        ("ci/Buildfile", "ci"),
    ],
)
def test_dockerfiles_by_use_in_the_root_ci_file_and_their_context(path: str, context: str) -> None:
    repo = _repo()
    assert file_kind(path) is None
    assert kind_in(repo, path) == DOCKERFILE
    assert build_context(repo, path) == context


def test_a_file_no_job_builds_is_not_a_dockerfile() -> None:
    repo = _repo()
    assert kind_in(repo, "notes.txt") is None
    assert build_context(repo, "Dockerfile") is None
    assert built_under(repo, "") == [
        "ci/Buildfile",
        "deploy/web.docker",
        "images/Api.df",
        "svc/build.image",
    ]
    assert built_under(repo, "images") == ["images/Api.df"]


def test_the_engine_analyses_a_dockerfile_found_by_use_with_the_jobs_context() -> None:
    text = "FROM node:20.14\nWORKDIR /app\nCOPY . .\nRUN npm ci\n"
    repo = _repo({"package.json": "{}", "package-lock.json": "{}", ".dockerignore": ".git\n"})
    rules = {f.rule for f in analyse_file("deploy/web.docker", text, repo).findings}
    # the root .dockerignore counts (context "."), and the root manifests are the ones copied
    assert "dependency-layer-order" in rules and "dockerignore" not in rules
    [finding] = [
        f
        for f in analyse_file("deploy/web.docker", text, repo).findings
        if f.rule == "dependency-layer-order"
    ]
    assert finding.fix is not None
    assert finding.fix.edits[0].new_lines[0] == "COPY package.json package-lock.json ./"


def test_the_bot_reviews_changed_files_found_by_name_and_by_use() -> None:
    diffs = [
        FileDiff("deploy/web.docker", "deploy/web.docker", ""),
        FileDiff("Dockerfile-api", "Dockerfile-api", ""),
        FileDiff("notes.txt", "notes.txt", ""),
        FileDiff("old/Dockerfile", "old/Dockerfile", "", deleted_file=True),
    ]
    assert changed_targets(diffs) == ["Dockerfile-api"]
    assert changed_targets(diffs, _repo()) == ["Dockerfile-api", "deploy/web.docker"]


def test_check_on_a_folder_finds_dockerfiles_by_use(tmp_path: Path) -> None:
    for name, text in {
        ".gitlab-ci.yml": CI,
        "deploy/web.docker": "FROM node\n",
        ".git/HEAD": "ref: refs/heads/main\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "layerbot.cli", "check", "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert "deploy/web.docker" in result.stdout, result.stderr
    assert "pin-base-image" in result.stdout
