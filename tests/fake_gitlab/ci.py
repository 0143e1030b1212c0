"""Pipelines, jobs and job logs of the fake GitLab, as doc/api/pipelines.md and doc/api/jobs.md
describe them: lists newest first and paginated, `scope` filters (one value, or `scope[]`
repeated), the log as plain text (404 when the job has none), and 403 for a member whose role
may not read jobs (`GitLabState.restrict_jobs`)."""

from __future__ import annotations

from typing import Any

from tests.fake_gitlab.handling import Answer, Handler, Request, ok, paginate
from tests.fake_gitlab.state import FINISHED, ApiError, Job, Pipeline, Project

PIPELINE_SCOPES = {
    "running": ("running",),
    "pending": ("pending",),
    "finished": FINISHED,
}


def _project(request: Request) -> Project:
    item = request.project()
    if request.state.access_level(item, request.user) < item.jobs_min_level:
        raise ApiError(403, "403 Forbidden")
    return item


def _scopes(request: Request) -> list[str]:
    """`scope=success` or `scope[]=success&scope[]=failed` (an array in GitLab's grammar)."""
    value = request.query.get("scope[]", request.query.get("scope"))
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def pipeline_payload(request: Request, item: Project, entry: Pipeline) -> dict[str, Any]:
    return {
        "id": entry.id,
        "iid": entry.id,
        "project_id": item.id,
        "sha": entry.sha,
        "ref": entry.ref,
        "status": entry.status,
        "source": "push",
        "created_at": entry.created_at,
        "updated_at": entry.finished_at or entry.created_at,
        "web_url": f"{request.base_url}/{item.path_with_namespace}/-/pipelines/{entry.id}",
    }


def job_payload(request: Request, item: Project, job: Job) -> dict[str, Any]:
    pipeline = item.pipelines[job.pipeline_id]
    return {
        "id": job.id,
        "name": job.name,
        "stage": job.stage,
        "status": job.status,
        "ref": pipeline.ref,
        "tag": False,
        "allow_failure": False,
        "coverage": None,
        "created_at": job.created_at,
        "started_at": job.created_at,
        "finished_at": job.finished_at,
        "duration": job.duration,
        "queued_duration": 0.5,
        "commit": {"id": pipeline.sha, "short_id": pipeline.sha[:8]},
        "pipeline": {
            "id": pipeline.id,
            "project_id": item.id,
            "ref": pipeline.ref,
            "sha": pipeline.sha,
            "status": pipeline.status,
        },
        "artifacts": [],
        "runner": None,
        "user": None,
        "web_url": f"{request.base_url}/{item.path_with_namespace}/-/jobs/{job.id}",
    }


def list_pipelines(request: Request) -> Answer:
    item = _project(request)
    found = sorted(item.pipelines.values(), key=lambda p: p.id)
    ref, status, scope = (request.query.get(k) for k in ("ref", "status", "scope"))
    if ref:
        found = [p for p in found if p.ref == ref]
    if status:
        found = [p for p in found if p.status == status]
    if scope in PIPELINE_SCOPES:
        found = [p for p in found if p.status in PIPELINE_SCOPES[str(scope)]]
    elif scope == "branches":
        found = [p for p in found if p.ref in item.branches]
    elif scope is not None:
        raise ApiError(400, {"error": "scope does not have a valid value"})
    if request.query.get("sort", "desc") != "asc":
        found.reverse()
    return paginate(request, [pipeline_payload(request, item, p) for p in found])


def _jobs(request: Request, item: Project, pipeline: int | None) -> Answer:
    scopes = _scopes(request)
    found = [
        job
        for _, job in sorted(item.jobs.items(), reverse=True)
        if (pipeline is None or job.pipeline_id == pipeline)
        and (not scopes or job.status in scopes)
    ]
    return paginate(request, [job_payload(request, item, job) for job in found])


def list_project_jobs(request: Request) -> Answer:
    return _jobs(request, _project(request), None)


def list_pipeline_jobs(request: Request) -> Answer:
    item = _project(request)
    pipeline = int(request.groups["pipeline_id"])
    if pipeline not in item.pipelines:
        raise ApiError(404, "404 Not found")
    return _jobs(request, item, pipeline)


def _job(request: Request) -> tuple[Project, Job]:
    item = _project(request)
    job = item.jobs.get(int(request.groups["job_id"]))
    if job is None:
        raise ApiError(404, "404 Not found")
    return item, job


def get_job(request: Request) -> Answer:
    item, job = _job(request)
    return ok(job_payload(request, item, job))


def get_trace(request: Request) -> Answer:
    _, job = _job(request)
    if job.trace is None:
        raise ApiError(404, "404 Not found")
    return Answer(200, job.trace.encode(), {"Content-Type": "text/plain"})


P = r"/projects/(?P<project>[^/]+)"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", P + r"/pipelines", list_pipelines),
    ("GET", P + r"/pipelines/(?P<pipeline_id>\d+)/jobs", list_pipeline_jobs),
    ("GET", P + r"/jobs", list_project_jobs),
    ("GET", P + r"/jobs/(?P<job_id>\d+)", get_job),
    ("GET", P + r"/jobs/(?P<job_id>\d+)/trace", get_trace),
]
