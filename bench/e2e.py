"""End to end: webhook accepted → Redis → Celery worker → fake GitLab → summary note posted.

Every merge request lives in a project of its own, so the fake GitLab's call log splits the API
cost per review. The review latency is measured from the moment ``/webhook`` answered 202 to
the moment the fake recorded the summary note's creation. Each configuration (GitLab answer
latency × worker processes × ``GITLAB_PARALLEL_CALLS``) runs on a fresh fake GitLab, Redis
database and worker.

Review latency: at each GitLab latency, the typical merge requests one at a time (after one
warm-up review, the worker process's first, reported apart), reviewed with
the calls of a review made at once (``GITLAB_PARALLEL_CALLS`` = :data:`PARALLEL_CALLS`) and,
as the anchor measured in the same run, one after the other (``1``). The goal is issue 13's.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from typing import Any

import redis

from bench.measure import percentile
from bench.processes import ROOT, fake_gitlab, free_port, layerbot, running
from tests.fake_gitlab.webhooks import MERGE_REQUEST_HOOK
from tests.web.payloads import SECRET, SIGNING_TOKEN, signed_headers

SUMMARY_MARKER = "<!-- layerbot:summary -->"
PARALLEL_CALLS = 8
SEQUENTIAL_CALLS = 1
GOAL_LATENCY_MS = 50.0
GOAL_P95_S = 0.5
_PROJECT_PATH = re.compile(r"^/api/v4/projects/(\d+)(/.*)?$")
_NUMBER = re.compile(r"/\d+(?=/|$)")


def _example(name: str) -> dict[str, str]:
    folder = ROOT / "examples" / name
    return {
        path.relative_to(folder).as_posix(): path.read_text()
        for path in folder.rglob("*")
        if path.is_file()
    }


def merge_requests(sizes: list[int]) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(label, files before, files after): the examples, then MRs changing N Dockerfiles."""
    found = []
    for name in ("go-service", "node-app", "python-app"):
        after = _example(name)
        before = {path: text for path, text in after.items() if "Dockerfile" not in path}
        found.append((f"example {name}", before, after))
    template = _example("go-service")
    for size in sizes:
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        for index in range(size):
            for path, text in template.items():
                target = f"svc{index:03d}/{path}"
                before[target] = text if "Dockerfile" not in path else "FROM golang:1.22\n"
                after[target] = text
        found.append((f"{size} Dockerfiles", before, after))
    return found


def _post_webhook(port: int, payload: dict[str, Any], delivery: str) -> float:
    body = json.dumps(payload).encode()
    headers = signed_headers(MERGE_REQUEST_HOOK, body, webhook_id=delivery)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook", data=body, headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        if answer.status != 202:
            raise RuntimeError(f"webhook answered {answer.status}: {answer.read()[:200]!r}")
    return time.time()


def _endpoint(path: str) -> str:
    """``/projects/:id/merge_requests/:iid/notes`` style names for the per-endpoint split."""
    match = _PROJECT_PATH.match(path)
    rest = match.group(2) or "" if match else path
    rest = re.sub(r"/repository/files/[^/]+", "/repository/files/:path", rest)
    return "/projects/:id" + _NUMBER.sub("/:id", rest) if match else path


def _per_review(calls: list[dict[str, Any]], project: int) -> dict[str, Any]:
    own = []
    for call in calls:
        match = _PROJECT_PATH.match(call["path"])
        if match and int(match.group(1)) == project:
            own.append(call)
    endpoints = Counter(f"{c['method']} {_endpoint(c['path'])}" for c in own)
    notes = sum(
        1
        for c in own
        if c["method"] == "POST" and re.search(r"/(notes|discussions|draft_notes)$", c["path"])
    )
    publishes = sum(1 for c in own if c["path"].endswith("/draft_notes/bulk_publish"))
    return {
        "api_calls": len(own),
        "read_calls": sum(1 for c in own if c["method"] == "GET"),
        "write_calls": sum(1 for c in own if c["method"] != "GET"),
        "endpoints": dict(endpoints),
        "notes_created": notes,
        "bulk_publishes": publishes,
        "summary_at": _summary_visible_at(own),
    }


def _summary_visible_at(calls: list[dict[str, Any]]) -> float | None:
    """When the summary became visible: its draft's bulk publish, or a direct note write."""
    drafted = False
    for call in calls:
        ok = isinstance(call["status"], int) and call["status"] < 300
        carries_summary = SUMMARY_MARKER in json.dumps(call.get("json") or {})
        published = drafted and call["path"].endswith("/draft_notes/bulk_publish")
        written = carries_summary and re.search(r"/notes(/\d+)?$", call["path"])
        if ok and carries_summary and call["path"].endswith("/draft_notes"):
            drafted = True
        elif ok and (published or written):
            return float(call["at"])
    return None


def _submit_and_wait(
    fake: Any, port: int, reviews: list[dict[str, Any]], timeout: float
) -> dict[int, dict[str, Any]]:
    """Deliver the reviews' webhooks together; wait until every summary is visible."""
    for review in reviews:
        payload = fake.merge_request_hook(review["project"], review["iid"])
        review["accepted_at"] = _post_webhook(port, payload, f"bench-{review['project']}")
    deadline = time.time() + timeout
    while True:
        calls = fake.calls()
        per = {r["project"]: _per_review(calls, r["project"]) for r in reviews}
        if all(p["summary_at"] for p in per.values()) or time.time() > deadline:
            return per
        time.sleep(0.05)


def _rows(reviews: list[dict[str, Any]], per: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for review in reviews:
        figures = per[review["project"]]
        seconds = figures["summary_at"] - review["accepted_at"] if figures["summary_at"] else None
        changed = sum(1 for path in review["changed"] if "Dockerfile" in path)
        rows.append(
            {
                "label": review["label"],
                "changed_dockerfiles": changed,
                "seconds": seconds,
                **{k: v for k, v in figures.items() if k != "summary_at"},
            }
        )
    return rows


def run_config(
    latency: float,
    workers: int,
    typical: list[tuple[str, dict[str, str], dict[str, str]]],
    large: list[tuple[str, dict[str, str], dict[str, str]]],
    parallel_calls: int = PARALLEL_CALLS,
    burst: bool = True,
) -> dict[str, Any]:
    """Latency: typical MRs one at a time (no queueing). Throughput: all of them at once."""
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_url = base.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    with fake_gitlab() as fake, tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ)
        env.update(
            REDIS_URL=redis_url,
            GITLAB_URL=fake.url,
            GITLAB_TOKEN=fake.bot_token,
            GITLAB_PARALLEL_CALLS=str(parallel_calls),
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_SIGNING_TOKEN=SIGNING_TOKEN,
            LAYERBOT_DATA_DIR=folder,
            LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )

        def open_all(mrs: list[tuple[str, dict[str, str], dict[str, str]]]) -> list[dict[str, Any]]:
            opened = []
            for label, before, after in mrs:
                project = fake.add_project(f"bench/p{uuid.uuid4().hex[:8]}", files=before)
                iid = fake.open_merge_request(project, None, after, title=label)
                opened.append({"label": label, "project": project, "iid": iid, "changed": after})
            return opened

        warm_up = open_all(typical[:1])
        paced, bursting = open_all(typical + large), open_all(typical if burst else [])
        if latency:
            fake.inject(path_regex="^/api/v4/", delay=latency, times=None)
        serve = layerbot("serve", "--port", str(port))
        worker = layerbot("worker", "--concurrency", str(workers))
        with running(worker, env), running(serve, env, f"http://127.0.0.1:{port}/healthz"):
            time.sleep(2.0)  # the worker connects to Redis and is ready to consume
            # a worker process's first review also pays its imports and connections: measured
            # apart, so the figures below are those of a running worker
            first = _submit_and_wait(fake, port, warm_up, timeout=300)
            per: dict[int, dict[str, Any]] = {}
            for review in paced:
                per |= _submit_and_wait(fake, port, [review], timeout=300)
            started = time.time()
            burst_per = _submit_and_wait(fake, port, bursting, timeout=60 + 5 * len(bursting))
            finished = max((p["summary_at"] or time.time() for p in burst_per.values()), default=0)
    rows = _rows(paced, per)
    first_s = _rows(warm_up, first)[0]["seconds"] if warm_up else None
    done = [row["seconds"] for row in rows[: len(typical)] if row["seconds"] is not None]
    burst_done = sum(1 for p in burst_per.values() if p["summary_at"])
    return {
        "latency_ms": latency * 1000,
        "workers": workers,
        "parallel_calls": parallel_calls,
        "reviews": len(typical),
        "completed": len(done),
        "reviews_per_s": burst_done / max(finished - started, 1e-9) if burst else None,
        "p50_s": percentile(done, 0.5),
        "p95_s": percentile(done, 0.95),
        "first_review_s": first_s,
        "per_review": rows,
    }


def run(
    latencies: list[float], workers: list[int], sizes: list[int], copies: int
) -> dict[str, Any]:
    """At each latency: one worker, calls at once (with the large MRs and the burst) and one
    after the other (the anchor, typical MRs only); more workers with calls at once."""
    mrs = merge_requests(sizes)
    typical = [mr for mr in mrs if mr[0].startswith("example")] * copies
    large = [mr for mr in mrs if not mr[0].startswith("example")]
    configs = []
    for latency in latencies:
        configs.append(run_config(latency, 1, typical, large))
        configs.append(run_config(latency, 1, typical, [], SEQUENTIAL_CALLS, burst=False))
        configs += [run_config(latency, count, typical, []) for count in workers if count > 1]
    return {"configs": configs, "goal": {"latency_ms": GOAL_LATENCY_MS, "p95_s": GOAL_P95_S}}


def latency_rows(section: dict[str, Any]) -> list[dict[str, Any]]:
    """One worker's review latency at each GitLab latency, beside the sequential anchor."""
    configs = [c for c in section["configs"] if c["workers"] == 1]
    rows = []
    for config in configs:
        if config["parallel_calls"] == SEQUENTIAL_CALLS:
            continue
        anchor = next(
            (
                c
                for c in configs
                if c["parallel_calls"] == SEQUENTIAL_CALLS
                and c["latency_ms"] == config["latency_ms"]
            ),
            None,
        )
        rows.append(
            {
                "latency_ms": config["latency_ms"],
                "reviews": config["completed"],
                "p50_s": config["p50_s"],
                "p95_s": config["p95_s"],
                "anchor_p50_s": anchor["p50_s"] if anchor else None,
                "anchor_p95_s": anchor["p95_s"] if anchor else None,
                "first_review_s": config["first_review_s"],
                "speedup_p95": anchor["p95_s"] / config["p95_s"] if anchor else None,
            }
        )
    return rows
