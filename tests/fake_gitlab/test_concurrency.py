"""The fake GitLab under concurrent clients, as a review with parallel reads drives it: every
request answered with its own data, every write stored once, every call logged."""

from __future__ import annotations

import threading
from typing import Any

import requests

from tests.fake_gitlab import FakeGitLab

CLIENTS = 24


def test_concurrent_reads_and_writes_each_get_their_own_answer(fake_gitlab: FakeGitLab) -> None:
    files = {f"svc{index:02d}/Dockerfile": f"FROM alpine:3.{index}\n" for index in range(CLIENTS)}
    project = fake_gitlab.add_project("group/many", files={"README.md": "x\n"})
    iid = fake_gitlab.open_merge_request(project, None, {"README.md": "x\n", **files})
    sha = str(fake_gitlab.merge_request(project, iid)["sha"])
    # every API request waits a little, so requests of different clients are in flight together
    fake_gitlab.inject(path_regex="^/api/v4/", delay=0.02, times=None)
    api = f"{fake_gitlab.url}/api/v4/projects/{project}"
    start = threading.Barrier(CLIENTS)
    results: dict[int, dict[str, Any]] = {}

    def client(index: int) -> None:
        path = f"svc{index:02d}%2FDockerfile"
        with requests.Session() as session:
            session.headers["PRIVATE-TOKEN"] = fake_gitlab.bot_token
            start.wait()
            raw = session.get(f"{api}/repository/files/{path}/raw", params={"ref": sha}, timeout=10)
            draft = session.post(
                f"{api}/merge_requests/{iid}/draft_notes",
                json={"note": f"draft {index}"},
                timeout=10,
            )
        results[index] = {"raw": (raw.status_code, raw.text), "draft": draft.json()}

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for index in range(CLIENTS):
        assert results[index]["raw"] == (200, files[f"svc{index:02d}/Dockerfile"])
        assert results[index]["draft"]["note"] == f"draft {index}"
    drafts = fake_gitlab.draft_notes(project, iid)
    assert sorted(draft["note"] for draft in drafts) == sorted(f"draft {i}" for i in range(CLIENTS))
    assert len({draft["id"] for draft in drafts}) == CLIENTS
    calls = fake_gitlab.calls()
    assert len(calls) == 2 * CLIENTS
    assert sorted(call["status"] for call in calls) == [200] * CLIENTS + [201] * CLIENTS
    assert fake_gitlab.faults()[0]["fired"] == 2 * CLIENTS
