"""Measured build times in a review: the build job's log on the target branch, read over HTTP
from the fake GitLab, bounded, and silent whenever GitLab cannot give a real figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from layerbot.settings import Settings
from tests.fake_gitlab import MAINTAINER
from tests.fake_gitlab.server import FakeGitLab
from tests.worker.expect import example_files
from workers.build_timings import MAX_LOGS, MAX_PIPELINES, linkable
from workers.comments import ago, measured_source
from workers.gitlab_client import GitLabClient
from workers.mr_model import JobRun
from workers.review import review_merge_request

LOGS = Path(__file__).resolve().parents[1] / "build_logs"
BUILDKIT = (LOGS / "buildkit-go-service.log").read_text()
JOB_CALLS = r"/pipelines|/jobs"


def two_days_ago() -> str:
    return (datetime.now(UTC) - timedelta(days=2, hours=1)).isoformat()


def review(fake: FakeGitLab, client: GitLabClient, settings: Settings, project: int) -> list[str]:
    """Review the example MR; the bodies of the bot's notes (summary last)."""
    iid = fake.open_merge_request(project, None, example_files())
    sha = fake.merge_request(project, iid)["sha"]
    outcome = review_merge_request(client, settings, project, iid, sha)
    assert outcome.status == "posted"
    notes = [n["body"] for n in fake.notes(project, iid) if n["author"]["username"] == "layerbot"]
    return sorted(notes, key=lambda body: body.startswith("<!-- layerbot:summary"))


def job_calls(fake: FakeGitLab) -> list[str]:
    return [call["path"] for call in fake.calls(method="GET", path_regex=JOB_CALLS)]


@pytest.fixture
def project(fake_gitlab: FakeGitLab) -> int:
    return fake_gitlab.add_project("group/app", files={"README.md": "hello\n"})


def test_a_review_says_what_the_steps_took_in_the_latest_build(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, project: int
) -> None:
    fake_gitlab.add_job(project, "build", trace="no build here\n")  # an older run
    ids = fake_gitlab.add_job(project, "build", trace=BUILDKIT, finished_at=two_days_ago())
    fake_gitlab.add_job(project, "test", status="failed", pipeline=ids["pipeline"])
    notes = review(fake_gitlab, client, settings, project)
    source = f"pipeline `#{ids['pipeline']}` (job `build`, 2 days ago)"
    # COPY . . 0.1 s + go mod download 41.8 s in the trace
    order = next(body for body in notes if "dependency-layer-order " in body.split("\n")[0])
    assert f"in {source} these steps took 42 s and ran uncached" in order
    # the CI finding on the job's `docker build`: the whole build, every step ran
    cache = next(body for body in notes if "ci-cache-from " in body.split("\n")[0])
    assert f"in {source} the build's steps took 66 s and none came from the cache" in cache
    summary = notes[-1]
    # WORKDIR 0.3 + COPY 0.1 + 41.8 + 23.6 = 65.8 s; reordering keeps the 41.8 s cached
    assert (
        f"Measured: `Dockerfile`: its steps took 66 s in {source}; the fixes would save about "
        "42 s per code-only pipeline. Slowest steps: `go mod download` 42 s, "
        f"`go build -o main .` 24 s. [Job log]({fake_gitlab.url}/group/app/-/jobs/{ids['job']})."
    ) in summary
    assert job_calls(fake_gitlab) == [
        f"/api/v4/projects/{project}/pipelines",
        f"/api/v4/projects/{project}/pipelines/{ids['pipeline']}/jobs",
        f"/api/v4/projects/{project}/jobs/{ids['job']}/trace",
    ]


BOUND = 1 + MAX_PIPELINES + MAX_LOGS


@pytest.mark.parametrize(
    "setup",
    ["forbidden", "no log", "not a build", "another Dockerfile", "no successful run", "no run"],
)
def test_without_the_rights_or_the_data_nothing_is_said_about_time(
    fake_gitlab: FakeGitLab, client: GitLabClient, settings: Settings, project: int, setup: str
) -> None:
    if setup == "forbidden":
        fake_gitlab.add_job(project, "build", trace=BUILDKIT)
        fake_gitlab.restrict_jobs(project, MAINTAINER)
    elif setup == "no log":
        fake_gitlab.add_job(project, "build", trace=None)
    elif setup == "not a build":
        fake_gitlab.add_job(project, "build", trace="$ make\nok\nJob succeeded\n")
    elif setup == "another Dockerfile":
        fake_gitlab.add_job(project, "build", trace=(LOGS / "buildkit-two-builds.log").read_text())
    elif setup == "no successful run":
        for _ in range(MAX_PIPELINES + 1):
            fake_gitlab.add_job(project, "build", status="failed", trace=BUILDKIT)
    notes = review(fake_gitlab, client, settings, project)
    assert not any("Measured" in body or "pipeline `#" in body for body in notes)
    assert not any("Job log" in body for body in notes)
    calls = job_calls(fake_gitlab)
    assert 1 <= len(calls) <= BOUND
    if setup == "forbidden":
        assert calls == [f"/api/v4/projects/{project}/pipelines"]
        assert [c["status"] for c in fake_gitlab.calls(path_regex=JOB_CALLS)] == [403]


def test_the_log_is_read_no_further_than_the_cap(
    fake_gitlab: FakeGitLab, client: GitLabClient, project: int
) -> None:
    long_log = "x" * 300_000
    job = fake_gitlab.add_job(project, "build", trace=long_log)["job"]
    assert client.job_log(project, job, 1000) == b"x" * 1000
    assert client.job_log(project, job, 10**6) == long_log.encode()
    missing = fake_gitlab.add_job(project, "build", trace=None)["job"]
    assert client.job_log(project, missing, 1000) is None


NOW = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("finished_at", "said"),
    [
        ("2026-03-12T09:29:40Z", "just now"),
        ("2026-03-12T09:29:00+00:00", "1 minute ago"),
        ("2026-03-12T07:00:00.123Z", "2 hours ago"),
        ("2026-03-11T09:30:00Z", "1 day ago"),
        ("2026-03-01T09:30:00Z", "11 days ago"),
        ("", None),
        ("2026-03-12T09:00:00", None),  # no time zone: no age rather than a wrong one
    ],
)
def test_the_age_of_a_run_is_counted_from_its_finish(finished_at: str, said: str | None) -> None:
    assert ago(finished_at, NOW) == said
    job = JobRun(5, "build `x`", 12, "main", finished_at, "")
    source = measured_source(job, NOW)
    assert source == f"pipeline `#12` (job `` build `x` ``{', ' + said if said else ''})"


def test_only_a_plain_link_into_gitlab_is_kept() -> None:
    base = "https://gitlab.example.com"
    kept = JobRun(1, "build", 2, "main", "", f"{base}/g/p/-/jobs/1")
    assert linkable(kept, base).web_url == kept.web_url
    for url in ("https://elsewhere.example/g/p/-/jobs/1", f"{base}/g/p/-/jobs/1) [x](y"):
        assert linkable(JobRun(1, "build", 2, "main", "", url), base).web_url == ""
