"""Pipelines, jobs and job logs of the fake GitLab, read over HTTP as GitLab serves them."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from tests.fake_gitlab import DEVELOPER, MAINTAINER, FakeGitLab

LOG = "#1 [1/2] RUN make\n#1 DONE 3.0s\n"


def get(fake: FakeGitLab, path: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{fake.url}/api/v4{path}",
        params=params,
        headers={"PRIVATE-TOKEN": fake.bot_token},
        timeout=10,
    )


@pytest.fixture
def project(fake_gitlab: FakeGitLab) -> int:
    return fake_gitlab.add_project("group/app", files={"Dockerfile": "FROM alpine\n"})


def test_pipelines_filter_by_ref_and_scope_newest_first_and_paginate(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    old = fake_gitlab.add_job(project, "build", trace=LOG)["pipeline"]
    failed = fake_gitlab.add_job(project, "build", status="failed")["pipeline"]
    fake_gitlab.add_job(project, "build", status="running")
    fake_gitlab.add_job(project, "build", ref="feature")
    newest = fake_gitlab.add_job(project, "build", trace=LOG)["pipeline"]

    answer = get(fake_gitlab, f"/projects/{project}/pipelines", ref="main", scope="finished")
    assert [p["id"] for p in answer.json()] == [newest, failed, old]
    assert [p["status"] for p in answer.json()] == ["success", "failed", "success"]
    assert answer.json()[0]["web_url"].endswith(f"/group/app/-/pipelines/{newest}")

    first = get(fake_gitlab, f"/projects/{project}/pipelines", ref="main", per_page=2)
    assert first.headers["X-Total"] == "4" and first.headers["X-Next-Page"] == "2"
    assert 'rel="next"' in first.headers["Link"]
    only_success = get(fake_gitlab, f"/projects/{project}/pipelines", status="success", ref="main")
    assert [p["id"] for p in only_success.json()] == [newest, old]


def test_pipeline_jobs_with_one_scope_or_an_array_of_scopes(
    fake_gitlab: FakeGitLab, gitlab_client: gitlab.Gitlab, project: int
) -> None:
    pipeline = fake_gitlab.add_job(project, "build", trace=LOG)["pipeline"]
    test = fake_gitlab.add_job(project, "test", status="failed", pipeline=pipeline)["job"]
    lint = fake_gitlab.add_job(project, "lint", pipeline=pipeline)["job"]
    path = f"/projects/{project}/pipelines/{pipeline}/jobs"

    success = gitlab_client.http_list(path, query_data={"scope[]": "success"}, get_all=True)
    assert [(j["name"], j["status"]) for j in success] == [
        ("lint", "success"),
        ("build", "success"),
    ]
    assert success[0]["pipeline"] == {
        "id": pipeline,
        "project_id": project,
        "ref": "main",
        "sha": get(fake_gitlab, f"/projects/{project}/repository/branches/main").json()["commit"][
            "id"
        ],
        "status": "failed",
    }
    assert success[0]["web_url"].endswith(f"/group/app/-/jobs/{lint}")
    both = requests.get(
        f"{fake_gitlab.url}/api/v4{path}?scope[]=failed&scope[]=success",
        headers={"PRIVATE-TOKEN": fake_gitlab.bot_token},
        timeout=10,
    ).json()
    assert [j["id"] for j in both][:2] == [lint, test]
    assert len(both) == 3
    project_jobs = get(fake_gitlab, f"/projects/{project}/jobs", scope="failed").json()
    assert [j["id"] for j in project_jobs] == [test]


def test_trace_is_plain_text_and_404_without_a_log(fake_gitlab: FakeGitLab, project: int) -> None:
    logged = fake_gitlab.add_job(project, "build", trace=LOG)["job"]
    erased = fake_gitlab.add_job(project, "build", trace=None)["job"]
    answer = get(fake_gitlab, f"/projects/{project}/jobs/{logged}/trace")
    assert answer.status_code == 200 and answer.text == LOG
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert get(fake_gitlab, f"/projects/{project}/jobs/{erased}/trace").status_code == 404
    assert get(fake_gitlab, f"/projects/{project}/jobs/999999/trace").status_code == 404
    job = get(fake_gitlab, f"/projects/{project}/jobs/{logged}").json()
    assert job["name"] == "build" and job["duration"] == 60.0 and job["finished_at"]


def test_restricted_jobs_answer_403_while_the_rest_of_the_project_reads(
    fake_gitlab: FakeGitLab, project: int
) -> None:
    ids = fake_gitlab.add_job(project, "build", trace=LOG)
    fake_gitlab.restrict_jobs(project, MAINTAINER)
    for path in (
        f"/projects/{project}/pipelines",
        f"/projects/{project}/pipelines/{ids['pipeline']}/jobs",
        f"/projects/{project}/jobs",
        f"/projects/{project}/jobs/{ids['job']}/trace",
    ):
        answer = get(fake_gitlab, path)
        assert (answer.status_code, answer.json()) == (403, {"message": "403 Forbidden"}), path
    assert get(fake_gitlab, f"/projects/{project}/repository/tree").status_code == 200
    fake_gitlab.add_member(project, fake_gitlab.bot_username, MAINTAINER)
    assert get(fake_gitlab, f"/projects/{project}/jobs/{ids['job']}/trace").text == LOG


def test_jobs_survive_a_snapshot(fake_gitlab: FakeGitLab, project: int) -> None:
    ids = fake_gitlab.add_job(project, "build", trace=LOG, finished_at="2026-01-02T03:04:05.000Z")
    fake_gitlab.restrict_jobs(project, DEVELOPER)
    fake_gitlab.restore(fake_gitlab.snapshot())
    job = get(fake_gitlab, f"/projects/{project}/jobs/{ids['job']}").json()
    assert job["finished_at"] == "2026-01-02T03:04:05.000Z"
    assert get(fake_gitlab, f"/projects/{project}/jobs/{ids['job']}/trace").text == LOG
