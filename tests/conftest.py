"""Shared pytest configuration: the fake GitLab fixtures (`fake_gitlab`, `gitlab_client`), and a
cache folder of the session's own for every ``layerbot check`` the tests run (in process or as
a child process), so no test reads what another run kept or writes into the user's cache."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from layerbot.pipeline_cache import CACHE_DIR_VARIABLE

pytest_plugins = ["tests.fake_gitlab.fixtures"]


@pytest.fixture(autouse=True, scope="session")
def _session_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get(CACHE_DIR_VARIABLE)
    os.environ[CACHE_DIR_VARIABLE] = str(tmp_path_factory.mktemp("layerbot-cache"))
    yield
    if before is None:
        del os.environ[CACHE_DIR_VARIABLE]
    else:
        os.environ[CACHE_DIR_VARIABLE] = before
