"""A fake GitLab HTTP server for tests and benchmarks, spoken to over real HTTP.

In process::

    from tests.fake_gitlab import FakeGitLab, DEVELOPER

    fake = FakeGitLab()             # bot user "layerbot", token fake.bot_token
    url = fake.start()              # 127.0.0.1, free port; fake.stop() when done
    project = fake.add_project("group/app", files={"Dockerfile": "FROM alpine\\n"})
    iid = fake.open_merge_request(project, {"Dockerfile": "FROM alpine\\n"},
                                  {"Dockerfile": "FROM alpine\\nCOPY . .\\n"})
    sha = fake.push(project, iid, {"go.mod": "module x\\n"})   # new head, new MR version
    fake.inject(method="POST", path_regex=r"/draft_notes$", status=502, times=1)
    ...python-gitlab: gitlab.Gitlab(url, private_token=fake.bot_token)...
    fake.discussions(project, iid); fake.calls(method="POST")

Another process (the Celery worker, the bench) uses the URL; the test process starts
`python -m tests.fake_gitlab --port 0` and drives it with `RemoteFakeGitLab(url)` (same methods).
In pytest, register `tests.fake_gitlab.fixtures` and use the `fake_gitlab` fixture.

Strict like GitLab: `PRIVATE-TOKEN` required (401), diff positions must be on a line the MR
diff shows with the MR's current diff_refs (400 `line_code can't be blank`), suggestion ranges
must stay in the file (400), commits to protected branches need the access level (403).
Webhook payloads built from this state: `tests.fake_gitlab.webhooks`.
"""

from tests.fake_gitlab.remote import RemoteError, RemoteFakeGitLab
from tests.fake_gitlab.server import BOT_TOKEN, BOT_USERNAME, FakeGitLab
from tests.fake_gitlab.state import DEVELOPER, GUEST, MAINTAINER, OWNER, REPORTER

__all__ = [
    "BOT_TOKEN",
    "BOT_USERNAME",
    "DEVELOPER",
    "GUEST",
    "MAINTAINER",
    "OWNER",
    "REPORTER",
    "FakeGitLab",
    "RemoteError",
    "RemoteFakeGitLab",
]
