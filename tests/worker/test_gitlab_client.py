"""The GitLab client against the fake GitLab: retries, what is never retried, call counts."""

from __future__ import annotations

import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest

from layerbot.settings import Settings
from tests.fake_gitlab.server import FakeGitLab
from tests.worker.expect import example_files, findings_for, inline_findings
from workers.gitlab_client import (
    GitLabClient,
    PermanentGitLabError,
    RetryPolicy,
    TransientGitLabError,
    endpoint_template,
    retry_after_seconds,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(fake_gitlab: FakeGitLab) -> int:
    return fake_gitlab.add_project("group/app", files={"Dockerfile": "FROM alpine:3.20\n"})


def client_for(
    fake: FakeGitLab, *, token: str | None = None, max_wait: float = 2.0
) -> GitLabClient:
    settings = Settings(gitlab_url=fake.url, gitlab_token=token or fake.bot_token)
    return GitLabClient(settings, RetryPolicy(attempts=3, backoff=0.01, max_wait=max_wait))


def test_endpoint_templates_hide_ids_and_paths() -> None:
    assert (
        endpoint_template("http://h/api/v4/projects/7/merge_requests/3/discussions/ab12/notes")
        == "/projects/:id/merge_requests/:iid/discussions/:discussion/notes"
    )
    assert (
        endpoint_template("http://h/api/v4/projects/g%2Fa/repository/files/a%2FDockerfile/raw")
        == "/projects/:id/repository/files/:path/raw"
    )


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None


def test_throttled_and_failing_reads_are_retried(fake_gitlab: FakeGitLab, project: int) -> None:
    client = client_for(fake_gitlab)
    fake_gitlab.inject(method="GET", path_regex="/repository/tree", status=429, retry_after=0)
    fake_gitlab.inject(method="GET", path_regex="/repository/tree", status=503)
    assert client.folder_entries(project, "main", "") == {"Dockerfile": True}
    statuses = [c["status"] for c in fake_gitlab.calls(path_regex="/repository/tree")]
    assert statuses == [429, 503, 200]
    assert client.tally.calls["GET /projects/:id/repository/tree"] == 3


def test_a_long_retry_after_is_handed_to_the_task_queue(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    client = client_for(fake_gitlab, max_wait=1.0)
    fake_gitlab.inject(method="GET", path_regex="/repository/tree", status=429, retry_after=30)
    with pytest.raises(TransientGitLabError) as raised:
        client.folder_entries(project, "main", "")
    assert raised.value.retry_after == 30.0
    assert len(fake_gitlab.calls(path_regex="/repository/tree")) == 1


def test_a_throttled_post_is_retried_but_permanent_errors_are_not(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    iid = fake_gitlab.open_merge_request(project, None, {"Dockerfile": "FROM alpine:3.21\n"})
    client = client_for(fake_gitlab)
    fake_gitlab.inject(method="POST", path_regex="/notes$", status=429, retry_after=0)
    client.create_note(project, iid, "hello")
    assert [c["status"] for c in fake_gitlab.calls(method="POST")] == [429, 201]
    fake_gitlab.inject(method="GET", path_regex="/merge_requests/", status=403, times=None)
    with pytest.raises(PermanentGitLabError) as raised:
        client.merge_request(project, iid)
    assert raised.value.status == 403
    assert len(fake_gitlab.calls(method="GET", path_regex="/merge_requests/")) == 1


def test_a_wrong_token_fails_once_and_never_shows_the_token(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    client = client_for(fake_gitlab, token="glpat-wrong-secret")
    with pytest.raises(PermanentGitLabError) as raised:
        client.current_user()
    assert raised.value.status == 401
    assert "glpat-wrong-secret" not in str(raised.value)
    assert len(fake_gitlab.calls()) == 1


def test_one_shot_review_in_a_ci_pipeline(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    project = fake_gitlab.add_project("group/app", files={"README.md": "hello\n"})
    iid = fake_gitlab.open_merge_request(project, None, example_files())
    env = {
        "PATH": "/usr/bin:/bin",
        "CI_SERVER_URL": fake_gitlab.url,
        "CI_PROJECT_ID": str(project),
        "CI_MERGE_REQUEST_IID": str(iid),
        "GITLAB_TOKEN": fake_gitlab.bot_token,
        "LAYERBOT_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "layerbot.cli", "review"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    count = len(findings_for(example_files()))
    inline = len(inline_findings(findings_for(example_files())))
    assert done.stdout.startswith(
        f"layerbot review !{iid}: posted, {count} finding(s), {inline} new inline"
    )
    assert fake_gitlab.bot_token not in done.stdout + done.stderr
    threads = fake_gitlab.discussions(project, iid)
    assert len(threads) == inline + 1


def test_calls_at_once_keep_their_order_and_finish_before_an_error_is_raised(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    client = client_for(fake_gitlab)
    sha = "main"
    paths = ["Dockerfile", "missing.txt", "Dockerfile"]
    found = client.run_all([partial(client.file_bytes, project, path, sha) for path in paths])
    assert found == [b"FROM alpine:3.20\n", None, b"FROM alpine:3.20\n"]

    fake_gitlab.clear_calls()
    calls = [
        partial(client.merge_request, project, 404),  # no such MR: fails
        partial(client.folder_entries, project, sha, ""),
        partial(client.file_bytes, project, "Dockerfile", sha),
    ]
    with pytest.raises(PermanentGitLabError) as raised:
        client.run_all(calls)
    assert raised.value.status == 404
    assert sorted(c["status"] for c in fake_gitlab.calls()) == [200, 200, 404]  # all ran
    client.close()


def test_each_thread_has_its_own_session(fake_gitlab: FakeGitLab) -> None:
    client = client_for(fake_gitlab)
    mine = client.gl
    assert client.gl is mine
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(client.gl))
    thread.start()
    thread.join()
    assert others[0] is not mine
    assert others[0].session is not mine.session  # type: ignore[attr-defined]
