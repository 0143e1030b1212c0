"""pytest fixtures for the fake GitLab.

Register them once in `tests/conftest.py`:

    pytest_plugins = ["tests.fake_gitlab.fixtures"]

`fake_gitlab` is a started in-process `FakeGitLab` (fresh per test); `gitlab_client` is a
python-gitlab client logged in as the bot against it.
"""

from __future__ import annotations

from collections.abc import Iterator

import gitlab
import pytest

from tests.fake_gitlab.server import FakeGitLab


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    fake = FakeGitLab()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def gitlab_client(fake_gitlab: FakeGitLab) -> gitlab.Gitlab:
    return gitlab.Gitlab(fake_gitlab.url, private_token=fake_gitlab.bot_token, timeout=10)
