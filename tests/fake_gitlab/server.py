"""The fake GitLab HTTP server and its Python API (`FakeGitLab`).

A stdlib `ThreadingHTTPServer` on 127.0.0.1 serves `/api/v4/...` (see `api.py`) to python-gitlab
over real HTTP, checks `PRIVATE-TOKEN` (or `Authorization: Bearer`), records every API call,
and applies injected faults. `/__admin/...` endpoints (no auth, never recorded) let another
process seed state, inject faults and read the call log; `RemoteFakeGitLab` wraps them.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit

from tests.fake_gitlab import api, payloads, webhooks
from tests.fake_gitlab.faults import Fault, FaultPlan
from tests.fake_gitlab.handling import Request
from tests.fake_gitlab.state import ApiError, GitLabState

P = ParamSpec("P")
R = TypeVar("R")
API_PREFIX = "/api/v4"
# status, JSON body (or raw bytes), headers; None means "reset the connection".
Answer = tuple[int, Any, dict[str, str]]
Outcome = Answer | None
ADMIN_PREFIX = "/__admin"
BOT_USERNAME = "layerbot"
BOT_TOKEN = "layerbot-test-token"


def to_json(value: Any) -> Any:
    """JSON-safe copy: bytes become {"__bytes__": base64} so binary files survive the wire."""
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def _form(raw: str) -> dict[str, Any]:
    """Form-encoded body with GitLab's bracket nesting (`position[new_line]=3`)."""
    result: dict[str, Any] = {}
    for key, values in parse_qs(raw, keep_blank_values=True).items():
        value: Any = values if key.endswith("[]") else values[-1]
        parts = [p for p in re.split(r"[\[\]]+", key) if p]
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def _locked(
    method: Callable[Concatenate[GitLabState, P], R],
) -> Callable[Concatenate[FakeGitLab, P], R]:
    """Expose a `GitLabState` method on `FakeGitLab`, run under the state lock."""

    @functools.wraps(method)
    def call(fake: FakeGitLab, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with fake.state.lock:
            return method(fake.state, *args, **kwargs)

    return call


def _with_url(
    build: Callable[Concatenate[GitLabState, str, P], R],
) -> Callable[Concatenate[FakeGitLab, P], R]:
    """Expose a payload builder taking (state, base_url, ...) on `FakeGitLab`."""

    @functools.wraps(build)
    def call(fake: FakeGitLab, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with fake.state.lock:
            return build(fake.state, fake.url, *args, **kwargs)

    # Callers (and RemoteFakeGitLab's argument binding) see (fake, project, mr_iid, ...).
    built = inspect.signature(build)
    itself = inspect.Parameter("fake", inspect.Parameter.POSITIONAL_ONLY)
    parameters = [itself, *list(built.parameters.values())[2:]]
    call.__signature__ = built.replace(parameters=parameters)  # type: ignore[attr-defined]
    return call


class _Server(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog like a real server's (socketserver's
    default of 5 drops the SYNs of a client opening more connections at once, which then
    wait a second to retry)."""

    daemon_threads = True
    request_queue_size = 128


class FakeGitLab:
    """A fake GitLab instance: state, fault plan, call log, and (once started) an HTTP server.

    Seeding (documented on `GitLabState`): `add_user`, `add_project`, `add_member`,
    `set_token`, `protect_branch`, `restrict_protection_rules`, `open_merge_request`, `push`,
    `set_merge_request`, `add_note`, `limit_notes`.
    Faults: `inject`, `clear_faults`, `seed`.
    Observations: `calls`, `clear_calls`, `merge_request`, `diffs`, `discussions`, `notes`,
    `draft_notes`, `files`. Webhook bodies: `merge_request_hook`, `note_hook`.
    Every one of them also works against a server in another process through
    `RemoteFakeGitLab` (same names, same arguments, JSON results).

    A bot user (`bot_username`, token `bot_token`) exists from the start and becomes a
    Developer of every project added, unless `members` says otherwise.
    """

    REMOTE_OPERATIONS = frozenset(
        {
            "add_user",
            "add_project",
            "add_member",
            "protect_branch",
            "restrict_protection_rules",
            "open_merge_request",
            "push",
            "set_merge_request",
            "add_job",
            "restrict_jobs",
            "add_note",
            "set_token",
            "limit_notes",
            "inject",
            "clear_faults",
            "seed",
            "faults",
            "calls",
            "clear_calls",
            "merge_request",
            "diffs",
            "discussions",
            "notes",
            "draft_notes",
            "files",
            "merge_request_hook",
            "note_hook",
            "snapshot",
            "restore",
        }
    )

    def __init__(
        self,
        *,
        seed: int = 0,
        bot_username: str = BOT_USERNAME,
        bot_token: str = BOT_TOKEN,
    ) -> None:
        self.state = GitLabState()
        self.faults_plan = FaultPlan(seed)
        self.bot_username = bot_username
        self.bot_token = bot_token
        self.bot_user_id = self.state.add_user(
            bot_username, name="Layerbot", token=bot_token, bot=True
        )
        self._calls: list[dict[str, Any]] = []
        self._calls_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL for `gitlab.Gitlab(url, ...)`."""
        handler = type("BoundHandler", (Handler,), {"fake": self})
        self._server = _Server((host, port), handler)
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-gitlab",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitLab:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def invoke(self, operation: str, kwargs: dict[str, Any]) -> Any:
        """Run a named operation (the admin endpoint's entry point)."""
        if operation not in self.REMOTE_OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        return getattr(self, operation)(**kwargs)

    # -- seeding (GitLabState's methods, run under the state lock) ----------------------------

    add_user = _locked(GitLabState.add_user)
    add_project = _locked(GitLabState.add_project)
    add_member = _locked(GitLabState.add_member)
    set_token = _locked(GitLabState.set_token)
    protect_branch = _locked(GitLabState.protect_branch)
    restrict_protection_rules = _locked(GitLabState.restrict_protection_rules)
    open_merge_request = _locked(GitLabState.open_merge_request)
    push = _locked(GitLabState.push)
    set_merge_request = _locked(GitLabState.set_merge_request)
    add_job = _locked(GitLabState.add_job)
    restrict_jobs = _locked(GitLabState.restrict_jobs)
    add_note = _locked(GitLabState.add_note)
    limit_notes = _locked(GitLabState.limit_notes)

    # -- faults ------------------------------------------------------------------------------

    def inject(self, **spec: Any) -> int:
        """Make matching API requests fail; `spec` takes the fields of `faults.Fault` (method,
        path_regex, status, delay, reset, after, retry_after, times, rate, mix). Returns the
        fault's id."""
        return self.faults_plan.add(**spec).id

    def clear_faults(self) -> None:
        self.faults_plan.clear()

    def seed(self, seed: int) -> None:
        """Reseed the random draws of rate-based faults."""
        self.faults_plan.seed(seed)

    def faults(self) -> list[dict[str, Any]]:
        """The active faults and how often each fired."""
        return self.faults_plan.describe()

    # -- observations ------------------------------------------------------------------------

    def record(self, call: dict[str, Any]) -> None:
        with self._calls_lock:
            self._calls.append(call)

    def calls(
        self, method: str | None = None, path_regex: str | None = None
    ) -> list[dict[str, Any]]:
        """Recorded API calls in order: method, path, query, json, status (int or "reset"),
        user (username or None), fault (id of the injected fault or None), handled (whether
        the request reached the API, so state may have changed even if the client saw an
        error), connection (the client's port: calls over one kept-alive connection share
        it)."""
        pattern = re.compile(path_regex) if path_regex else None
        with self._calls_lock:
            return [
                dict(c)
                for c in self._calls
                if (method is None or c["method"] == method.upper())
                and (pattern is None or pattern.search(c["path"]))
            ]

    def clear_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def merge_request(self, project: int | str, mr_iid: int) -> dict[str, Any]:
        with self.state.lock:
            mr = self.state.merge_request(project, mr_iid)
            return payloads.merge_request(self.url, self.state, mr)

    def diffs(self, project: int | str, mr_iid: int) -> list[dict[str, Any]]:
        """The MR's current diffs, unpaginated and never pruned (`diff` always present)."""
        with self.state.lock:
            mr = self.state.merge_request(project, mr_iid)
            return [{**payloads.file_diff(d), "diff": d.diff} for d in self.state.mr_diffs(mr)]

    def discussions(self, project: int | str, mr_iid: int) -> list[dict[str, Any]]:
        with self.state.lock:
            mr = self.state.merge_request(project, mr_iid)
            return [payloads.discussion(self.url, self.state, mr, d) for d in mr.discussions]

    def notes(self, project: int | str, mr_iid: int) -> list[dict[str, Any]]:
        """Every note of the MR, oldest first."""
        with self.state.lock:
            mr = self.state.merge_request(project, mr_iid)
            notes = sorted((n for d in mr.discussions for n in d.notes), key=lambda n: n.id)
            return [payloads.note(self.url, self.state, mr, n) for n in notes]

    def draft_notes(self, project: int | str, mr_iid: int) -> list[dict[str, Any]]:
        """Unpublished draft notes of every author."""
        with self.state.lock:
            mr = self.state.merge_request(project, mr_iid)
            return [payloads.draft_note(mr, d) for d in mr.draft_notes]

    def files(self, project: int | str, ref: str) -> dict[str, str | bytes]:
        """The repository tree at a branch or sha."""
        with self.state.lock:
            return dict(self.state.project(project).tree(ref))

    # -- webhook payloads --------------------------------------------------------------------

    merge_request_hook = _with_url(webhooks.merge_request_hook)
    note_hook = _with_url(webhooks.note_hook)

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-safe data (see `restore`, `--state FILE`)."""
        with self.state.lock:
            snapshot: dict[str, Any] = to_json(self.state.snapshot())
            return snapshot

    def restore(self, snapshot: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.restore(from_json(snapshot))


class Handler(BaseHTTPRequestHandler):
    """One HTTP connection; `fake` is bound per server by `FakeGitLab.start`."""

    fake: FakeGitLab
    protocol_version = "HTTP/1.1"
    server_version = "FakeGitLab/1.0"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus delayed ACKs
        # add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the call log is the record."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    # -- plumbing ----------------------------------------------------------------------------

    def _read_body(self) -> tuple[dict[str, Any], Any]:
        """Parsed body (for handlers) and the raw JSON value (for the call log)."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}, None
        content_type = self.headers.get("Content-Type", "")
        if "application/x-www-form-urlencoded" in content_type:
            parsed = _form(raw.decode())
            return parsed, parsed
        try:
            value = json.loads(raw)
        except ValueError:
            raise ApiError(400, {"error": "The provided content-type is not supported"}) from None
        return (value if isinstance(value, dict) else {}), value

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, bytes):
            data = body
            content_type = "text/plain; charset=utf-8"
        elif body is None:
            data = b""
            content_type = ""
        else:
            data = json.dumps(body).encode()
            content_type = "application/json"
        try:
            self.send_response(status)
            merged = {"Content-Type": content_type, **(headers or {})} if content_type else {}
            for key, value in merged.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            # The client gave up (e.g. its timeout fired during an injected delay).
            self.close_connection = True

    def _reset(self) -> None:
        """Drop the connection with a TCP reset and no answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _base_url(self) -> str:
        return f"http://{self.headers.get('Host') or self.fake.url.split('//', 1)[1]}"

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        query = {
            k: v if k.endswith("[]") else v[-1]  # `scope[]=a&scope[]=b` is an array
            for k, v in parse_qs(split.query, keep_blank_values=True).items()
        }
        try:
            body, raw_json = self._read_body()
        except ApiError as error:
            self._send(error.status, {"message": error.message})
            return
        if split.path.startswith(ADMIN_PREFIX):
            self._admin(split.path[len(ADMIN_PREFIX) :], query, raw_json)
            return
        call: dict[str, Any] = {
            "method": self.command,
            "path": split.path,
            "query": query,
            "json": raw_json,
            "status": None,
            "user": None,
            "fault": None,
            "handled": False,
            "connection": self.client_address[1],
        }
        try:
            outcome = self._api(split.path, query, body, call)
        except Exception as error:  # a bug in the fake: answer 500 and keep serving
            outcome = (500, {"message": f"fake GitLab error: {error!r}"}, {})
        # Record before answering, so a client that has its answer finds the call logged.
        call["status"] = "reset" if outcome is None else outcome[0]
        call["at"] = time.time()
        self.fake.record(call)
        if outcome is None:
            self._reset()
        else:
            self._send(*outcome)

    def _api(
        self, path: str, query: dict[str, Any], body: dict[str, Any], call: dict[str, Any]
    ) -> Outcome:
        fault = self.fake.faults_plan.pick(self.command, path)
        if fault is not None:
            call["fault"] = fault.id
            if not fault.after:
                injected = self._apply_fault(fault)
                if injected is not False:
                    return injected
        outcome = self._handle(path, query, body, call)
        call["handled"] = True
        if fault is not None and fault.after:
            injected = self._apply_fault(fault)
            if injected is not False:
                return injected
        return outcome

    @staticmethod
    def _apply_fault(fault: Fault) -> Outcome | Literal[False]:
        """Wait out the fault's delay; then a reset (None), its status answer, or False to
        let the request be handled normally."""
        if fault.delay:
            time.sleep(fault.delay)
        if fault.reset:
            return None
        if fault.status is None:
            return False
        headers = (
            {"Retry-After": str(fault.retry_after)}
            if fault.status == 429 and fault.retry_after is not None
            else {}
        )
        headers.update(fault.headers)
        try:
            phrase = HTTPStatus(fault.status).phrase
        except ValueError:
            phrase = "Error"
        message = "Retry later" if fault.status == 429 else f"{fault.status} {phrase}"
        return fault.status, {"message": message}, headers

    def _handle(
        self, path: str, query: dict[str, Any], body: dict[str, Any], call: dict[str, Any]
    ) -> Answer:
        if not path.startswith(API_PREFIX + "/"):
            return 404, {"error": "404 Not Found"}, {}
        api_path = path[len(API_PREFIX) :]
        token = self.headers.get("PRIVATE-TOKEN")
        authorization = self.headers.get("Authorization", "")
        if token is None and authorization.startswith("Bearer "):
            token = authorization[len("Bearer ") :]
        state = self.fake.state
        with state.lock:
            user = state.user_by_token(token)
            if user is None:
                return 401, {"message": "401 Unauthorized"}, {}
            call["user"] = user.username
            method = "GET" if self.command == "HEAD" else self.command
            found = api.route(method, api_path)
            if found is None:
                if api.allowed(api_path):
                    return 405, {"error": "405 Method Not Allowed"}, {}
                return 404, {"error": "404 Not Found"}, {}
            handler, groups = found
            request = Request(method, path, query, body, user, state, self._base_url(), groups)
            try:
                answer = handler(request)
            except ApiError as error:
                return error.status, {"message": error.message}, error.headers
            return answer.status, answer.body, answer.headers

    def _admin(self, path: str, query: dict[str, Any], payload: Any) -> None:
        """Test-control endpoints: `POST /call {operation, kwargs}`, plus REST-ish shortcuts
        `GET|DELETE /calls`, `POST|DELETE|GET /faults`, `GET|POST /state`, `GET /health`."""
        fake = self.fake
        body = from_json(payload) if payload is not None else {}
        shortcuts: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
            ("GET", "/calls"): ("calls", dict(query)),
            ("DELETE", "/calls"): ("clear_calls", {}),
            ("GET", "/faults"): ("faults", {}),
            ("POST", "/faults"): ("inject", body if isinstance(body, dict) else {}),
            ("DELETE", "/faults"): ("clear_faults", {}),
            ("GET", "/state"): ("snapshot", {}),
            ("POST", "/state"): ("restore", {"snapshot": body}),
        }
        try:
            if (self.command, path) == ("GET", "/health"):
                self._send(200, {"status": "ok", "bot_username": fake.bot_username})
                return
            if (self.command, path) == ("POST", "/call") and isinstance(body, dict):
                operation, kwargs = body.get("operation", ""), body.get("kwargs") or {}
            elif (self.command, path) in shortcuts:
                operation, kwargs = shortcuts[(self.command, path)]
            else:
                self._send(404, {"error": "unknown admin endpoint"})
                return
            result = fake.invoke(operation, kwargs)
        except ApiError as error:
            self._send(error.status, {"message": error.message})
            return
        except (TypeError, ValueError, KeyError) as error:
            self._send(400, {"error": f"{type(error).__name__}: {error}"})
            return
        self._send(200, {"result": to_json(result)})
