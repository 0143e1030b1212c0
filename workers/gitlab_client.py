"""Everything the bot says to GitLab, through python-gitlab, and nothing it should not.

- Only the configured ``GITLAB_URL`` is ever called: the HTTP session refuses any other host,
  whatever a payload, a pagination link or a redirect says.
- Retries live here, in one place: reads and other idempotent calls are retried on 429/5xx and
  connection trouble. A 429 waits what GitLab asks (``Retry-After``, else the ``RateLimit-Reset``
  time), else backs off exponentially with jitter; a wait longer than the policy's
  ``max_wait`` is not slept but handed to the task, retried later. A POST is retried only when
  GitLab surely did not act (429, or a connection that never opened). Any other POST failure is
  an :class:`AmbiguousWriteError`: the caller re-reads what exists (by fingerprint) first.
- Every HTTP request is counted and timed per endpoint template (Prometheus and :class:`ApiTally`).
- The token never reaches a log line: :func:`install_token_redaction` filters it out.
- Independent calls of one review run at once on a bounded pool (``GITLAB_PARALLEL_CALLS``
  threads, :meth:`GitLabClient.submit`), each thread with its own HTTP session.

Over 400 lines: it is the one place that talks to GitLab, one documented endpoint per method.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import gitlab
import gitlab.exceptions
import requests

from layerbot.settings import Settings
from workers import metrics
from workers.mr_model import (
    Branch,
    BranchCommit,
    DiffRefs,
    Discussion,
    DraftNote,
    FileDiff,
    JobRun,
    MergeRequest,
    PostedNote,
    Protection,
    PushAccess,
    User,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class GitLabError(Exception):
    """A GitLab call failed; the message never holds the token."""


class TransientGitLabError(GitLabError):
    """Worth trying again later (429, 5xx, timeouts); ``retry_after`` is GitLab's hint."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AmbiguousWriteError(TransientGitLabError):
    """A write whose fate is unknown (timeout, 5xx): check what exists before writing again."""


class PermanentGitLabError(GitLabError):
    """A 4xx that retrying cannot fix (bad token, no access, gone, invalid)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(PermanentGitLabError):
    pass


class ForbiddenHostError(PermanentGitLabError):
    """A request to a host other than the configured GitLab (never sent)."""


# --- endpoint templates ----------------------------------------------------------------------

_TEMPLATES = [
    (re.compile(r"^/projects/[^/]+"), "/projects/:id"),
    (re.compile(r"/merge_requests/\d+"), "/merge_requests/:iid"),
    (re.compile(r"/repository/files/[^/]+"), "/repository/files/:path"),
    (re.compile(r"/repository/branches/.+$"), "/repository/branches/:branch"),
    (re.compile(r"/protected_branches/.+$"), "/protected_branches/:branch"),
    (re.compile(r"/discussions/[^/]+"), "/discussions/:discussion"),
    (re.compile(r"/draft_notes/\d+"), "/draft_notes/:draft"),
    (re.compile(r"/notes/\d+"), "/notes/:note"),
    (re.compile(r"/members/all/\d+"), "/members/all/:user"),
    (re.compile(r"/pipelines/\d+"), "/pipelines/:pipeline"),
    (re.compile(r"/jobs/\d+"), "/jobs/:job"),
]


def endpoint_template(url: str) -> str:
    """``/projects/:id/merge_requests/:iid/diffs`` for a concrete API URL (metrics labels)."""
    path = urlsplit(url).path
    path = path.split("/api/v4", 1)[-1] or "/"
    for pattern, replacement in _TEMPLATES:
        path = pattern.sub(replacement, path, count=1)
    return path


@dataclass
class ApiTally:
    """Requests and seconds per ``METHOD endpoint``, for one client (benchmarks, tests)."""

    calls: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, key: str, elapsed: float) -> None:
        with self._lock:
            self.calls[key] += 1
            self.seconds[key] = self.seconds.get(key, 0.0) + elapsed

    @property
    def total(self) -> int:
        return sum(self.calls.values())


# --- token redaction -------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Replaces every secret in a record (message, arguments, traceback) with ``[REDACTED]``."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = self._clean(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


def install_token_redaction(*secrets: str) -> RedactingFilter:
    """Filter ``secrets`` out of every handler of the root logger (and future records there)."""
    redactor = RedactingFilter(list(secrets))
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(redactor)
    root.addFilter(redactor)
    return redactor


# --- the HTTP session ------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff: float = 0.25
    """First wait after a 5xx or a dropped connection; doubles with each attempt."""
    rate_limit_backoff: float = 1.0
    """First wait after a 429 that names no time; doubles with each attempt."""
    max_wait: float = 10.0
    """A longer wait is not slept here: the task is retried later instead."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_UNIX_TIME_FLOOR = 1_000_000_000
"""A ``RateLimit-Reset`` above this is a Unix time (GitLab's), below it a number of seconds."""


def rate_limit_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """How long GitLab asks a throttled client to wait: ``Retry-After``, else the
    ``RateLimit-Reset`` Unix time it documents for throttled requests, else ``None``."""
    retry_after = retry_after_seconds(headers.get("Retry-After"), now)
    if retry_after is not None:
        return retry_after
    reset = (headers.get("RateLimit-Reset") or "").strip()
    try:
        moment = float(reset)
    except ValueError:
        return None
    if moment < _UNIX_TIME_FLOOR:
        return max(0.0, moment)
    return max(0.0, moment - (time.time() if now is None else now))


def jittered(base: float, attempt: int) -> float:
    """Exponential back-off with jitter: ``base * 2**attempt``, scaled by 0.5 to 1."""
    return float(base * 2**attempt) * (0.5 + random.random() / 2)


class GuardedSession(requests.Session):
    """A ``requests`` session that calls one host only, retries what is safe, and counts."""

    def __init__(self, base_url: str, tally: ApiTally, policy: RetryPolicy) -> None:
        super().__init__()
        parts = urlsplit(base_url)
        self._origin = (parts.scheme, parts.netloc)
        self._tally = tally
        self._policy = policy

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise ForbiddenHostError(f"refusing to call {parts.netloc!r}: not GITLAB_URL", 0)
        method = (request.method or "GET").upper()
        endpoint = endpoint_template(url)
        for attempt in range(1, self._policy.attempts + 1):
            response, status, error = self._attempt(method, endpoint, request, kwargs)
            last = attempt == self._policy.attempts
            if response is not None and status not in _TRANSIENT_STATUS:
                return response
            retry_after = rate_limit_wait(response.headers) if response is not None else None
            safe = (
                method in _IDEMPOTENT or status == 429 or isinstance(error, requests.ConnectTimeout)
            )
            what = f"{method} {endpoint}: " + (
                f"HTTP {status}" if error is None else type(error).__name__
            )
            if not safe:
                raise AmbiguousWriteError(f"{what}; the write may have happened", retry_after)
            if retry_after is None:
                base = self._policy.rate_limit_backoff if status == 429 else self._policy.backoff
                wait = jittered(base, attempt - 1)
            else:
                wait = retry_after
            if last or wait > self._policy.max_wait:
                raise TransientGitLabError(f"{what} after {attempt} attempt(s)", retry_after)
            log.warning("GitLab %s; retrying in %.2fs", what, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        endpoint: str,
        request: requests.PreparedRequest,
        kwargs: dict[str, Any],
    ) -> tuple[requests.Response | None, str | int, requests.RequestException | None]:
        started = time.perf_counter()
        try:
            response = super().send(request, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            status: str | int = "timeout" if isinstance(error, requests.Timeout) else "error"
            self._count(method, endpoint, str(status), time.perf_counter() - started)
            return None, status, error
        self._count(method, endpoint, str(response.status_code), time.perf_counter() - started)
        return response, response.status_code, None

    def _count(self, method: str, endpoint: str, status: str, elapsed: float) -> None:
        metrics.GITLAB_CALLS.labels(method, endpoint, status).inc()
        metrics.GITLAB_LATENCY.labels(method, endpoint).observe(elapsed)
        self._tally.record(f"{method} {endpoint}", elapsed)


# --- the client ------------------------------------------------------------------------------

_USER_CACHE: dict[tuple[str, str], User] = {}
_USER_LOCK = threading.Lock()


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """python-gitlab's exceptions as ours, classified by whether retrying can help."""
    try:
        yield
    except gitlab.exceptions.GitlabError as error:
        status = error.response_code or 0
        message = f"{what}: HTTP {status} {str(error.error_message)[:200]}"
        if status == 404:
            raise NotFoundError(message, status) from None
        if status in _TRANSIENT_STATUS or status == 0:
            raise TransientGitLabError(message) from None
        raise PermanentGitLabError(message, status) from None
    except (requests.ConnectionError, requests.Timeout) as error:
        raise TransientGitLabError(f"{what}: {type(error).__name__}") from None


def _project(project_id: int | str) -> str:
    return quote(str(project_id), safe="")


class GitLabClient:
    """The bot's GitLab calls, each one documented endpoint of the REST API v4.

    One client per worker process, used by one review at a time; :meth:`submit` runs its calls
    on the client's pool. python-gitlab sends every request through its one
    ``requests.Session``, and requests does not promise that a session may be shared between
    threads (its maintainers advise one session per thread: psf/requests#1871, #2766), so each
    thread gets its own ``gitlab.Gitlab`` and session (:attr:`gl`), kept for the process's
    life so its connections are reused; they all count into one :attr:`tally`.
    """

    def __init__(self, settings: Settings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.tally = ApiTally()
        self._policy = policy or RetryPolicy()
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def gl(self) -> gitlab.Gitlab:
        """This thread's python-gitlab client, with a session of its own."""
        client: gitlab.Gitlab | None = getattr(self._local, "gl", None)
        if client is None:
            session = GuardedSession(self.settings.gitlab_url, self.tally, self._policy)
            client = gitlab.Gitlab(
                self.settings.gitlab_url,
                private_token=self.settings.gitlab_token or None,
                timeout=self.settings.gitlab_timeout,
                session=session,
                retry_transient_errors=False,
                keep_base_url=True,
                per_page=100,
            )
            self._local.gl = client
        return client

    # -- running calls at once

    @property
    def parallel(self) -> bool:
        """Whether :meth:`submit` runs calls on the pool (else one after the other, inline)."""
        return self.settings.gitlab_parallel_calls > 1 and not getattr(self._local, "pooled", False)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.gitlab_parallel_calls,
                    thread_name_prefix="gitlab",
                    initializer=self._mark_pooled,
                )
            return self._pool

    def _mark_pooled(self) -> None:
        self._local.pooled = True  # a call made from the pool never waits on the pool

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Start ``call`` (GitLab calls of this client) on the pool; with one thread, or from
        inside the pool, it runs here and now and the future is already settled."""
        if self.parallel:
            return self._executor().submit(call)
        future: Future[T] = Future()
        try:
            future.set_result(call())
        except Exception as error:
            future.set_exception(error)
        return future

    @staticmethod
    def settle(futures: Iterable[Future[Any]]) -> None:
        """Wait for every future, then raise the first error in their order: no call of a
        failed batch is still running when the review handles the failure."""
        pending = list(futures)
        try:
            errors = [future.exception() for future in pending]
        except BaseException:
            wait(pending)  # interrupted (the task's soft time limit): its calls end first
            raise
        first = next((error for error in errors if error is not None), None)
        if first is not None:
            raise first

    def run_all(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """The results of independent calls, in order, made at most
        ``GITLAB_PARALLEL_CALLS`` at a time (see :meth:`settle` for errors)."""
        futures = [self.submit(call) for call in calls]
        self.settle(futures)
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the pool's threads (tests and benchmarks that build many clients)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    # -- plumbing

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        with _translated(f"GET {endpoint_template(path)}"):
            data = self.gl.http_get(path, query_data=params, obey_rate_limit=False)
        assert isinstance(data, dict)
        return data

    def _list(self, endpoint: str, /, **params: Any) -> list[dict[str, Any]]:
        with _translated(f"GET {endpoint_template(endpoint)}"):
            items = self.gl.http_list(
                endpoint,
                query_data={"per_page": 100, **params},
                get_all=True,
                obey_rate_limit=False,
            )
        assert isinstance(items, list)
        return [item for item in items if isinstance(item, dict)]

    def _send(self, verb: str, path: str, data: dict[str, Any] | None) -> dict[str, Any]:
        """A write; an empty answer (``204 No Content``) is ``{}``."""
        with _translated(f"{verb.upper()} {endpoint_template(path)}"):
            response = self.gl.http_request(verb, path, post_data=data or {}, obey_rate_limit=False)
        if not response.content:
            return {}
        try:
            result = response.json()
        except ValueError:
            return {}
        return result if isinstance(result, dict) else {}

    def _post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._send("post", path, data)

    def _put(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        return self._send("put", path, data)

    def _mr(self, project_id: int, iid: int) -> str:
        return f"/projects/{_project(project_id)}/merge_requests/{iid}"

    # -- reads

    def current_user(self) -> User:
        """The bot's own account (``GET /user``): asked once per process for each GitLab URL
        and token, whatever the number of reviews or threads."""
        key = (self.settings.gitlab_url, _token_key(self.settings.gitlab_token))
        with _USER_LOCK:
            if key not in _USER_CACHE:
                data = self._get("/user")
                _USER_CACHE[key] = User(int(data["id"]), str(data["username"]))
            return _USER_CACHE[key]

    def merge_request(self, project_id: int, iid: int) -> MergeRequest:
        data = self._get(self._mr(project_id, iid))
        refs = data.get("diff_refs") or None
        diff_refs = None
        if isinstance(refs, dict) and all(refs.get(k) for k in ("base_sha", "head_sha")):
            diff_refs = DiffRefs(
                base_sha=str(refs["base_sha"]),
                start_sha=str(refs.get("start_sha") or refs["base_sha"]),
                head_sha=str(refs["head_sha"]),
            )
        return MergeRequest(
            project_id=int(data.get("project_id") or data.get("target_project_id") or project_id),
            iid=int(data["iid"]),
            state=str(data.get("state", "")),
            sha=str(data.get("sha") or ""),
            source_branch=str(data.get("source_branch", "")),
            target_branch=str(data.get("target_branch", "")),
            source_project_id=int(data.get("source_project_id") or project_id),
            diff_refs=diff_refs,
            draft=bool(data.get("draft") or data.get("work_in_progress")),
        )

    def merge_request_diffs(self, project_id: int, iid: int) -> list[FileDiff]:
        """Every changed file (``/merge_requests/:iid/diffs``, all pages)."""
        return [
            FileDiff(
                old_path=str(item.get("old_path") or item.get("new_path")),
                new_path=str(item.get("new_path") or item.get("old_path")),
                diff=str(item.get("diff") or ""),
                new_file=bool(item.get("new_file")),
                deleted_file=bool(item.get("deleted_file")),
                renamed_file=bool(item.get("renamed_file")),
                collapsed=bool(item.get("collapsed")),
                too_large=bool(item.get("too_large")),
            )
            for item in self._list(f"{self._mr(project_id, iid)}/diffs")
        ]

    def folder_entries(self, project_id: int, ref: str, folder: str) -> dict[str, bool]:
        """One folder's entries at ``ref`` ('' is the root), each name with whether it is a file:
        a non-recursive tree listing (one call per 100 entries); ``{}`` when there is no such
        folder."""
        params: dict[str, Any] = {"ref": ref}
        if folder:
            params["path"] = folder
        try:
            items = self._list(f"/projects/{_project(project_id)}/repository/tree", **params)
        except NotFoundError:
            return {}
        return {str(item["name"]): item.get("type") == "blob" for item in items}

    def file_bytes(self, project_id: int, path: str, ref: str) -> bytes | None:
        """A file's raw content at ``ref``, or ``None`` when it does not exist there."""
        url = f"/projects/{_project(project_id)}/repository/files/{quote(path, safe='')}/raw"
        try:
            with _translated("GET /repository/files/:path/raw"):
                response = self.gl.http_get(
                    url, query_data={"ref": ref}, raw=True, obey_rate_limit=False
                )
        except NotFoundError:
            return None
        assert isinstance(response, requests.Response)
        return response.content

    def discussions(self, project_id: int, iid: int) -> list[Discussion]:
        return [
            Discussion(
                id=str(item["id"]),
                notes=tuple(_posted_note(note) for note in item.get("notes") or ()),
                individual=bool(item.get("individual_note")),
            )
            for item in self._list(f"{self._mr(project_id, iid)}/discussions")
        ]

    def draft_notes(self, project_id: int, iid: int) -> list[DraftNote]:
        return [
            DraftNote(
                id=int(item["id"]),
                body=str(item.get("note") or ""),
                discussion_id=item.get("discussion_id") or None,
            )
            for item in self._list(f"{self._mr(project_id, iid)}/draft_notes")
        ]

    def note(self, project_id: int, iid: int, note_id: int) -> tuple[PostedNote, User]:
        data = self._get(f"{self._mr(project_id, iid)}/notes/{note_id}")
        author = data.get("author") or {}
        user = User(int(author.get("id", 0)), str(author.get("username", "")))
        return _posted_note(data), user

    def access_level(self, project_id: int, user_id: int) -> int:
        """The user's effective access level (inherited included); 0 when not a member."""
        try:
            data = self._get(f"/projects/{_project(project_id)}/members/all/{user_id}")
        except NotFoundError:
            return 0
        return int(data.get("access_level") or 0)

    def branch(self, project_id: int, name: str) -> Branch | None:
        """The branch's head and whether the BOT may push to it (``can_push`` answers for the
        token's user, never for a commenter); ``None`` when the branch is gone."""
        try:
            data = self._get(
                f"/projects/{_project(project_id)}/repository/branches/{quote(name, safe='')}"
            )
        except NotFoundError:
            return None
        commit = data.get("commit") or {}
        return Branch(
            name,
            str(commit.get("id") or ""),
            bool(data.get("can_push")),
            protected=bool(data.get("protected")),
            developers_can_push=bool(data.get("developers_can_push")),
        )

    def protected_branches(self, project_id: int) -> list[Protection] | None:
        """Every protected branch rule of the project, wildcards included (they are listed as
        defined, not expanded: doc/api/protected_branches.md); ``None`` when GitLab does not
        show them to the bot (403: before 15.x only Maintainers could read them)."""
        try:
            items = self._list(f"/projects/{_project(project_id)}/protected_branches")
        except PermanentGitLabError as error:
            if error.status == 403:
                return None
            raise
        rules = []
        for item in items:
            entries = tuple(
                PushAccess(
                    access_level=int(entry.get("access_level") or 0),
                    user_id=_optional_id(entry.get("user_id")),
                    group_id=_optional_id(entry.get("group_id")),
                    deploy_key_id=_optional_id(entry.get("deploy_key_id")),
                )
                for entry in item.get("push_access_levels") or ()
                if isinstance(entry, dict)
            )
            rules.append(Protection(str(item.get("name") or ""), entries))
        return rules

    def branch_commits(self, project_id: int, ref: str, since: str) -> list[BranchCommit]:
        """Commits on ``ref`` newer than ``since`` (ISO 8601), newest first; only the first
        page (100) when ``since`` is unknown."""
        path = f"/projects/{_project(project_id)}/repository/commits"
        if since:
            items = self._list(path, ref_name=ref, since=since)
        else:
            with _translated("GET /repository/commits"):
                page = self.gl.http_list(
                    path, query_data={"ref_name": ref, "per_page": 100}, obey_rate_limit=False
                )
            items = [item for item in page if isinstance(item, dict)]
        return [BranchCommit(str(i.get("id") or ""), str(i.get("message") or "")) for i in items]

    def finished_pipelines(self, project_id: int, ref: str, limit: int) -> list[int]:
        """Ids of the newest ``limit`` finished pipelines on ``ref``, newest first: one page
        (doc/api/pipelines.md: ``ref``, ``scope=finished``, ``order_by=id``, ``sort=desc``)."""
        with _translated("GET /pipelines"):
            page = self.gl.http_list(
                f"/projects/{_project(project_id)}/pipelines",
                query_data={
                    "ref": ref,
                    "scope": "finished",
                    "order_by": "id",
                    "sort": "desc",
                    "per_page": limit,
                },
                get_all=False,
                obey_rate_limit=False,
            )
        return [int(item["id"]) for item in page if isinstance(item, dict) and "id" in item][:limit]

    def successful_jobs(self, project_id: int, pipeline_id: int) -> list[JobRun]:
        """The pipeline's successful jobs, one page of 100 (doc/api/jobs.md, list pipeline
        jobs: ``scope[]=success``; retried attempts are left out by GitLab)."""
        with _translated("GET /pipelines/:pipeline/jobs"):
            page = self.gl.http_list(
                f"/projects/{_project(project_id)}/pipelines/{pipeline_id}/jobs",
                query_data={"scope[]": "success", "per_page": 100},
                get_all=False,
                obey_rate_limit=False,
            )
        return [
            JobRun(
                id=int(item["id"]),
                name=str(item.get("name") or ""),
                pipeline_id=int((item.get("pipeline") or {}).get("id") or pipeline_id),
                ref=str(item.get("ref") or ""),
                finished_at=str(item.get("finished_at") or ""),
                web_url=str(item.get("web_url") or ""),
            )
            for item in page
            if isinstance(item, dict) and "id" in item
        ]

    def job_log(self, project_id: int, job_id: int, max_bytes: int) -> bytes | None:
        """The job's log (``GET /jobs/:job_id/trace``), at most its first ``max_bytes``: the
        rest is never downloaded. ``None`` when GitLab has no log (404: erased or expired)."""
        url = f"/projects/{_project(project_id)}/jobs/{job_id}/trace"
        try:
            with _translated("GET /jobs/:job/trace"):
                response = self.gl.http_get(url, streamed=True, raw=True, obey_rate_limit=False)
        except NotFoundError:
            return None
        assert isinstance(response, requests.Response)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                chunks.append(chunk[: max_bytes - size])
                size += len(chunks[-1])
                if size >= max_bytes:
                    break
        except requests.RequestException as error:
            raise TransientGitLabError(f"GET /jobs/:job/trace: {type(error).__name__}") from None
        finally:
            response.close()
        return b"".join(chunks)

    # -- writes

    def create_draft_note(
        self,
        project_id: int,
        iid: int,
        body: str,
        *,
        position: dict[str, Any] | None = None,
        in_reply_to: str | None = None,
        resolve: bool = False,
    ) -> DraftNote:
        data: dict[str, Any] = {"note": body}
        if position is not None:
            data["position"] = position
        if in_reply_to is not None:
            data["in_reply_to_discussion_id"] = in_reply_to
            data["resolve_discussion"] = resolve
        result = self._post(f"{self._mr(project_id, iid)}/draft_notes", data)
        return DraftNote(int(result.get("id", 0)), body, in_reply_to)

    def update_draft_note(self, project_id: int, iid: int, draft_id: int, body: str) -> None:
        self._put(f"{self._mr(project_id, iid)}/draft_notes/{draft_id}", {"note": body})

    def delete_draft_note(self, project_id: int, iid: int, draft_id: int) -> None:
        try:
            with _translated("DELETE /draft_notes/:draft"):
                self.gl.http_delete(f"{self._mr(project_id, iid)}/draft_notes/{draft_id}")
        except NotFoundError:
            pass  # already gone: deleting is idempotent

    def publish_drafts(self, project_id: int, iid: int) -> None:
        """Publish every pending draft at once: one notification for the author."""
        self._post(f"{self._mr(project_id, iid)}/draft_notes/bulk_publish")

    def create_note(self, project_id: int, iid: int, body: str, *, internal: bool = False) -> int:
        """A plain comment; ``internal`` makes it visible to project members only."""
        data: dict[str, Any] = {"body": body}
        if internal:
            data["internal"] = True
        return int(self._post(f"{self._mr(project_id, iid)}/notes", data).get("id", 0))

    def update_note(self, project_id: int, iid: int, note_id: int, body: str) -> None:
        self._put(f"{self._mr(project_id, iid)}/notes/{note_id}", {"body": body})

    def delete_note(self, project_id: int, iid: int, note_id: int) -> None:
        try:
            with _translated("DELETE /notes/:note"):
                self.gl.http_delete(f"{self._mr(project_id, iid)}/notes/{note_id}")
        except NotFoundError:
            pass  # already gone: deleting is idempotent

    def reply(self, project_id: int, iid: int, discussion_id: str, body: str) -> None:
        self._post(
            f"{self._mr(project_id, iid)}/discussions/{quote(discussion_id, safe='')}/notes",
            {"body": body},
        )

    def commit(
        self,
        project_id: int,
        branch: str,
        message: str,
        actions: list[dict[str, str]],
    ) -> str:
        """One commit of ``actions`` on top of ``branch`` (Commits API); returns its sha.

        Actions carry ``last_commit_id``: GitLab refuses (400) an update of a file whose last
        change differs from the one seen at that commit (``Files::BaseService#file_has_changed?``).
        No ``start_sha``: GitLab treats it as the start of a NEW branch and refuses an existing
        one unless ``force``, which would reset the branch and drop later pushes
        (``Commits::CreateService#different_branch?``, ``validate_branch_existence!``)."""
        result = self._post(
            f"/projects/{_project(project_id)}/repository/commits",
            {"branch": branch, "commit_message": message, "actions": actions},
        )
        return str(result.get("id", ""))


def _posted_note(data: dict[str, Any]) -> PostedNote:
    author = data.get("author") or {}
    return PostedNote(
        id=int(data.get("id", 0)),
        author_id=int(author.get("id", 0)),
        body=str(data.get("body") or ""),
        system=bool(data.get("system")),
        resolvable=bool(data.get("resolvable")),
        resolved=bool(data.get("resolved")),
        created_at=str(data.get("created_at") or ""),
    )


def _optional_id(value: Any) -> int | None:
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value) else None
