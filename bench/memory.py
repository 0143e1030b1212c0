"""Worker memory over many reviews: peak RSS after warm-up and at the end, so growth shows.

One real ``layerbot worker`` (one prefork child) reviews the same merge request again and
again, as it does on every push; each task is a full pass (fetch, analyse, plan, compare with
what is posted). The child's resident memory is sampled as the review count grows.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from typing import Any

import redis

from bench.e2e import merge_requests
from bench.measure import rss_mb, tree
from bench.processes import ROOT, fake_gitlab, layerbot, running
from layerbot.celery_app import REVIEW_TASK, make_celery
from layerbot.settings import Settings


def _reviews_done(fake: Any, project: int, iid: int) -> int:
    pattern = f"^/api/v4/projects/{project}/merge_requests/{iid}/diffs$"
    return sum(1 for call in fake.calls(method="GET", path_regex=pattern))


def run(reviews: int, samples: int = 5) -> dict[str, Any]:
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_url = base.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(redis_url).flushdb()
    label, before, after = merge_requests([])[0]
    with fake_gitlab() as fake, tempfile.TemporaryDirectory() as folder:
        project = fake.add_project("bench/memory", files=before)
        iid = fake.open_merge_request(project, None, after, title=label)
        head = fake.merge_request(project, iid)["sha"]
        env = dict(os.environ)
        env.update(
            REDIS_URL=redis_url,
            GITLAB_URL=fake.url,
            GITLAB_TOKEN=fake.bot_token,
            LAYERBOT_DATA_DIR=folder,
            LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        points = []
        with running(layerbot("worker", "--concurrency", "1"), env) as worker:
            app = make_celery(Settings.from_env(env))
            for _ in range(reviews):
                app.send_task(REVIEW_TASK, args=[project, iid, head], task_id=str(uuid.uuid4()))
            marks = sorted({max(1, reviews * (i + 1) // samples) for i in range(samples)})
            marks = sorted({min(reviews, max(1, reviews // 10)), *marks})
            deadline = time.monotonic() + 30 + reviews * 2
            for mark in marks:
                while _reviews_done(fake, project, iid) < mark and time.monotonic() < deadline:
                    time.sleep(0.5)
                child = max((rss_mb(pid), pid) for pid in tree(worker.pid))[0]
                points.append({"reviews": _reviews_done(fake, project, iid), "rss_mb": child})
    warm = points[0]["rss_mb"]
    return {
        "reviews": reviews,
        "points": points,
        "warm_rss_mb": warm,
        "final_rss_mb": points[-1]["rss_mb"],
        "growth_mb": points[-1]["rss_mb"] - warm,
    }
