"""What the MR's Dockerfiles cost to build, read from their build jobs' logs on the target branch.

The CI analysis (:mod:`layerbot.analysis.gitlab_ci`) names the jobs of the root CI file that
build each analysed Dockerfile. For those jobs the worker asks GitLab, in this order and never
more (docs/worker.md, "Measured build times"):

1. ``GET /projects/:id/pipelines?ref=TARGET&scope=finished&order_by=id&sort=desc&per_page=3``:
   the target branch's newest finished pipelines, one page (the jobs API cannot filter by ref);
2. ``GET /projects/:id/pipelines/:pipeline_id/jobs?scope[]=success&per_page=100`` for each of
   them, newest first, until every wanted job has a successful run (at most 3 calls);
3. ``GET /projects/:id/jobs/:job_id/trace`` of the latest successful run of at most 2 jobs,
   reading no more than the first 2 MiB of each.

What a job's log says (its parsed builds, or that there is nothing to read) is kept in Redis
for 30 minutes per project, target branch and job name, so a busy project pays these calls
once per window, not once per review. Without the rights or the data (403, 404, no run, an
erased log, a log with no build the parsers know) the job has no measurement and the review
says nothing about time; a GitLab failure is logged at info and the review goes on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import redis

from layerbot.analysis import gitlab_ci
from layerbot.analysis.build_logs import BuildRun, TimedStep, parse_build_log
from layerbot.analysis.discovery import DOCKERFILE, file_kind, root_pipeline
from layerbot.analysis.model import RepoView
from workers.gitlab_client import GitLabClient, GitLabError, PermanentGitLabError
from workers.mr_model import JobRun, MeasuredJob, MergeRequest

log = logging.getLogger(__name__)

MAX_PIPELINES = 3
MAX_LOGS = 2
MAX_LOG_BYTES = 2 * 1024 * 1024
CACHE_SECONDS = 30 * 60
_SAFE_URL = re.compile(r"^[^\s()<>\[\]\"'`\\]+$")


def build_jobs(repo: RepoView, paths: Iterable[str]) -> dict[str, list[str]]:
    """Each Dockerfile (by name) among ``paths`` and the root CI file's jobs that build it."""
    pipeline = root_pipeline(repo)
    if pipeline is None:
        return {}
    jobs = {}
    for path in paths:
        if file_kind(path) != DOCKERFILE:
            continue
        names = gitlab_ci.ci_jobs_building(pipeline, path)
        if names:
            jobs[path] = names
    return jobs


def cache_key(project_id: int, ref: str, job: str) -> str:
    """Per project, target branch and job name; nothing secret in it."""
    return f"layerbot:build-timings:{project_id}:{json.dumps([ref, job])}"


def _encode(measured: MeasuredJob | None) -> str:
    if measured is None:
        return json.dumps(None)
    runs = [{"builder": r.builder, "steps": [_step(s) for s in r.steps]} for r in measured.runs]
    return json.dumps({"job": asdict(measured.job), "runs": runs})


def _step(step: TimedStep) -> dict[str, object]:
    """The step as ``TimedStep(**...)`` takes it back."""
    return {
        "stage": step.stage,
        "text": step.text,
        "seconds": step.seconds,
        "cached": step.cached,
        "failed": step.failed,
    }


def _decode(raw: bytes | str) -> MeasuredJob | None:
    data: Any = json.loads(raw)
    if data is None:
        return None
    runs = tuple(
        BuildRun(run["builder"], tuple(TimedStep(**step) for step in run["steps"]))
        for run in data["runs"]
    )
    return MeasuredJob(JobRun(**data["job"]), runs)


class _Cache:
    """Redis when configured; without it nothing is kept (every review asks again)."""

    def __init__(self, store: redis.Redis | None, project_id: int, ref: str) -> None:
        self.store = store
        self.project_id = project_id
        self.ref = ref

    def get(self, job: str) -> tuple[bool, MeasuredJob | None]:
        if self.store is None:
            return False, None
        try:
            raw = self.store.get(cache_key(self.project_id, self.ref, job))
            if raw is None:
                return False, None
            return True, _decode(raw)
        except (redis.RedisError, ValueError, KeyError, TypeError) as error:
            log.info("build timings of %s: cache unreadable (%s)", job, type(error).__name__)
            return False, None

    def put(self, job: str, measured: MeasuredJob | None) -> None:
        if self.store is None:
            return
        try:
            self.store.set(
                cache_key(self.project_id, self.ref, job), _encode(measured), ex=CACHE_SECONDS
            )
        except redis.RedisError as error:
            log.info("build timings of %s: not cached (%s)", job, type(error).__name__)


def _latest_runs(
    client: GitLabClient, project_id: int, ref: str, wanted: list[str]
) -> dict[str, JobRun]:
    """Each wanted job's latest successful run among the newest finished pipelines on ``ref``."""
    latest: dict[str, JobRun] = {}
    for pipeline_id in client.finished_pipelines(project_id, ref, MAX_PIPELINES):
        for job in client.successful_jobs(project_id, pipeline_id):
            if job.name in wanted and job.name not in latest:
                latest[job.name] = job
        if len(latest) == len(wanted):
            break
    return latest


def linkable(job: JobRun, gitlab_url: str) -> JobRun:
    """The job with its ``web_url`` kept only when it is a plain link into GITLAB_URL."""
    base = gitlab_url.rstrip("/") + "/"
    if job.web_url.startswith(base) and _SAFE_URL.match(job.web_url):
        return job
    return JobRun(job.id, job.name, job.pipeline_id, job.ref, job.finished_at, "")


def measure_jobs(
    client: GitLabClient, store: redis.Redis | None, mr: MergeRequest, names: list[str]
) -> dict[str, MeasuredJob]:
    """The measured latest run of each named job on the MR's target branch (absent: none)."""
    cache = _Cache(store, mr.project_id, mr.target_branch)
    found: dict[str, MeasuredJob | None] = {}
    missing = []
    for name in names:
        known, measured = cache.get(name)
        if known:
            found[name] = measured
        else:
            missing.append(name)
    if missing:
        found.update(_read_jobs(client, cache, mr, missing))
    return {name: measured for name, measured in found.items() if measured is not None}


def _read_jobs(
    client: GitLabClient, cache: _Cache, mr: MergeRequest, names: list[str]
) -> dict[str, MeasuredJob | None]:
    try:
        latest = _latest_runs(client, mr.project_id, mr.target_branch, names)
    except PermanentGitLabError as error:
        log.info("no build timings for %s: %s", ", ".join(names), error)
        for name in names:
            cache.put(name, None)
        return {}
    except GitLabError as error:
        log.info("no build timings for %s this time: %s", ", ".join(names), error)
        return {}
    found: dict[str, MeasuredJob | None] = {}
    reads = 0
    for name in names:
        job = latest.get(name)
        if job is not None and reads == MAX_LOGS:
            continue  # over this review's budget: a later review reads it
        measured = None
        if job is not None:
            reads += 1
            try:
                data = client.job_log(mr.project_id, job.id, MAX_LOG_BYTES)
            except PermanentGitLabError as error:
                log.info("no build timings for %s: %s", name, error)
                data = None
            except GitLabError as error:
                log.info("no build timings for %s this time: %s", name, error)
                continue
            runs = parse_build_log(data.decode("utf-8", "replace")) if data else []
            if runs:
                measured = MeasuredJob(linkable(job, client.settings.gitlab_url), tuple(runs))
            else:
                log.info("job %s (%s) shows no build layerbot can read", job.id, name)
        cache.put(name, measured)
        found[name] = measured
    return found


def measure_builds(
    client: GitLabClient,
    store: redis.Redis | None,
    mr: MergeRequest,
    jobs: dict[str, list[str]],
) -> dict[str, tuple[MeasuredJob, ...]]:
    """Each Dockerfile's build jobs (:func:`build_jobs`), measured on the target branch (maybe
    none). Only GitLab and Redis calls: it may run on the client's pool beside other reads."""
    if not jobs:
        return {}
    names = sorted({name for job_names in jobs.values() for name in job_names})
    measured = measure_jobs(client, store, mr, names)
    result = {
        path: tuple(measured[name] for name in job_names if name in measured)
        for path, job_names in jobs.items()
    }
    return {path: found for path, found in result.items() if found}
