"""Shared pytest configuration: the fake GitLab fixtures (`fake_gitlab`, `gitlab_client`)."""

pytest_plugins = ["tests.fake_gitlab.fixtures"]
