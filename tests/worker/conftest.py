"""Fixtures of the worker tests that drive the fake GitLab over HTTP without a queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerbot.settings import Settings
from tests.fake_gitlab.server import FakeGitLab
from tests.worker.expect import example_files
from workers.gitlab_client import GitLabClient, RetryPolicy

FAST = RetryPolicy(attempts=4, backoff=0.01, max_wait=2.0)


@pytest.fixture
def settings(fake_gitlab: FakeGitLab, tmp_path: Path) -> Settings:
    return Settings(
        gitlab_url=fake_gitlab.url,
        gitlab_token=fake_gitlab.bot_token,
        data_dir=tmp_path / "data",
        gitlab_timeout=5.0,
        docs_url="https://docs.example/{name}",
    )


@pytest.fixture
def client(settings: Settings) -> GitLabClient:
    return GitLabClient(settings, FAST)


@pytest.fixture
def mr(fake_gitlab: FakeGitLab) -> tuple[int, int]:
    project = fake_gitlab.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake_gitlab.open_merge_request(project, None, example_files())
    return project, iid
