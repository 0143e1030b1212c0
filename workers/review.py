"""One merge-request review: fetch → analyse → plan → post. Idempotent by construction.

Every run starts from what is on the MR (the bot's discussions and leftover drafts, recognised
by fingerprint) and posts only the difference, so a redelivered task, a retried review after a
timeout or a second push never duplicates a comment. Inline threads and thread replies go out
as draft notes published in one bulk call (one notification for the author); the summary is
then created or edited as a plain note from what GitLab actually published (docs/worker.md).
Reviews of one MR are serialised by a lock (Redis, or a file lock with the embedded queue), and
a review whose head sha is no longer the MR's head is dropped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial

import redis

from layerbot.analysis.discovery import root_pipeline
from layerbot.analysis.engine import analyse
from layerbot.analysis.model import RepoView
from layerbot.settings import Settings
from workers import metrics
from workers.build_timings import build_jobs, measure_builds
from workers.comments import (
    BotNotes,
    CommentPlan,
    InlineComment,
    ReviewContext,
    add_build_times,
    plan_comments,
    read_bot_notes,
    summary_after_publish,
)
from workers.fetch import ReviewFetch, ReviewInput, no_input
from workers.gitlab_client import GitLabClient, PermanentGitLabError
from workers.leases import renewed
from workers.mr_model import DiffRefs, MeasuredJob, MergeRequest
from workers.patches import fixed_files, unified_patch

log = logging.getLogger(__name__)

LOCK_TTL_SECONDS = 15
LOCK_RENEW_SECONDS = 5.0
LOCK_WAIT_SECONDS = 60.0


class ReviewBusy(Exception):
    """Another review of this MR holds the lock; try again later."""

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class ReviewOutcome:
    status: str
    """``posted``, ``unchanged``, or ``dropped:<reason>`` (closed, merged, stale, no-refs)."""
    findings: int = 0
    inline: int = 0
    resolved: int = 0
    summary: bool = False


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


@contextmanager
def mr_lock(settings: Settings, project_id: int, iid: int) -> Iterator[None]:
    """Serialise reviews and commands of one MR across worker processes."""
    name = f"layerbot:lock:mr:{project_id}:{iid}"
    if settings.redis_url:
        # thread_local=False: the renewal thread must see the token the review acquired
        lock = _redis(settings.redis_url).lock(
            name,
            timeout=LOCK_TTL_SECONDS,
            blocking_timeout=LOCK_WAIT_SECONDS,
            thread_local=False,
        )
        if not lock.acquire():
            raise ReviewBusy(f"{name} is held by another review")
        try:
            with renewed(lock.reacquire, LOCK_RENEW_SECONDS, "the review lock"):
                yield
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                log.warning("%s expired before the review ended", name)
        return
    folder = settings.data_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / f"mr-{project_id}-{iid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ReviewBusy(f"{name} is held by another review") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)


def _drop(reason: str, mr: MergeRequest, head_sha: str | None) -> ReviewOutcome:
    log.info(
        "review of !%s in project %s at %s dropped: %s",
        mr.iid,
        mr.project_id,
        (head_sha or "")[:12],
        reason,
    )
    metrics.REVIEWS_DROPPED.labels(reason).inc()
    metrics.REVIEWS.labels("dropped").inc()
    return ReviewOutcome(f"dropped:{reason}")


def _usable(mr: MergeRequest, head_sha: str | None) -> str | None:
    """Why this review should not run, or ``None``."""
    if not mr.is_open:
        return mr.state or "closed"
    if head_sha and mr.sha != head_sha:
        return "stale"
    if mr.diff_refs is None:
        return "no-refs"
    return None


def review_merge_request(
    client: GitLabClient,
    settings: Settings,
    project_id: int,
    mr_iid: int,
    head_sha: str | None = None,
) -> ReviewOutcome:
    """Review the MR at ``head_sha`` (``None``: whatever its head is now)."""
    with mr_lock(settings, project_id, mr_iid):
        return run_review(client, settings, project_id, mr_iid, head_sha)


def run_review(
    client: GitLabClient,
    settings: Settings,
    project_id: int,
    mr_iid: int,
    head_sha: str | None = None,
    *,
    also_ignore: frozenset[str] = frozenset(),
) -> ReviewOutcome:
    """The review itself; the caller holds the MR's lock. ``also_ignore`` adds rules to the
    MR's ignored set (persisted in the summary's hidden state)."""
    try:
        outcome = _review(client, settings, project_id, mr_iid, head_sha, also_ignore)
    except Exception:
        metrics.REVIEWS.labels("failed").inc()
        raise
    if not outcome.status.startswith("dropped"):
        metrics.REVIEWS.labels("done").inc()
    return outcome


def _review(
    client: GitLabClient,
    settings: Settings,
    project_id: int,
    mr_iid: int,
    head_sha: str | None,
    also_ignore: frozenset[str],
) -> ReviewOutcome:
    # what needs only the MR's ids, at once (GET /user only on a process's first review); on a
    # review that is dropped, the discussions, drafts and diffs were read for nothing
    merge_request = client.submit(partial(client.merge_request, project_id, mr_iid))
    user = client.submit(client.current_user)
    threads = client.submit(partial(client.discussions, project_id, mr_iid))
    drafts = client.submit(partial(client.draft_notes, project_id, mr_iid))
    diffs = client.submit(partial(client.merge_request_diffs, project_id, mr_iid))
    client.settle([merge_request, user, threads, drafts, diffs])
    mr = merge_request.result()
    reason = _usable(mr, head_sha)
    if reason is not None:
        return _drop(reason, mr, head_sha)
    assert mr.diff_refs is not None
    bot = user.result()
    state = read_bot_notes(threads.result(), drafts.result(), bot.id)
    fetch = ReviewFetch.start(client, mr, diffs.result())
    # beside the build contexts' reads: the build timings, and the MR's head again (did a
    # push land while we read?)
    jobs = _build_jobs(fetch.repo, fetch.dockerfiles) if fetch is not None else {}
    measuring = client.submit(partial(_measured_builds, client, settings, mr, jobs))
    again = client.submit(partial(client.merge_request, project_id, mr_iid))
    fetched = fetch.finish() if fetch is not None else no_input(diffs.result())
    client.settle([measuring, again])
    reason = _usable(again.result(), mr.sha)
    if reason is not None:
        return _drop(reason, again.result(), mr.sha)
    plan = plan_review(
        fetched,
        state,
        mr.diff_refs,
        bot.username,
        settings.rule_docs_url,
        also_ignore,
        measured=measuring.result(),
        now=datetime.now(UTC),
    )
    posted, summary = post_plan(client, mr, plan, state, bot.id)
    return ReviewOutcome(
        "posted" if posted else "unchanged",
        findings=len(plan.findings),
        inline=len(plan.inline),
        resolved=len(plan.resolutions),
        summary=summary,
    )


def _build_jobs(repo: RepoView, dockerfiles: list[str]) -> dict[str, list[str]]:
    """The root CI jobs building each analysed Dockerfile (none when the CI cannot say)."""
    try:
        return build_jobs(repo, dockerfiles)
    except Exception:
        log.warning("build jobs of the review skipped", exc_info=True)
        return {}


def _measured_builds(
    client: GitLabClient, settings: Settings, mr: MergeRequest, jobs: dict[str, list[str]]
) -> dict[str, tuple[MeasuredJob, ...]]:
    """The build jobs' measurements; an extra that never fails the review."""
    store = _redis(settings.redis_url) if settings.redis_url else None
    try:
        return measure_builds(client, store, mr, jobs)
    except Exception:
        log.warning("build timings of !%s skipped", mr.iid, exc_info=True)
        return {}


def plan_review(
    fetched: ReviewInput,
    state: BotNotes,
    diff_refs: DiffRefs,
    bot_username: str,
    docs_url: str | None,
    also_ignore: frozenset[str] = frozenset(),
    *,
    measured: Mapping[str, Sequence[MeasuredJob]] | None = None,
    now: datetime | None = None,
) -> CommentPlan:
    """Analyse the fetched files and plan the comments (pure given its inputs; ``measured``
    are the build jobs' logs per Dockerfile, aged relative to ``now``)."""
    ignored = state.ignored | also_ignore
    config = fetched.config.with_disabled(*ignored)
    result = analyse(fetched.files, fetched.repo, config)
    sources = fetched.sources
    fixed = fixed_files(sources, fetched.repo, config, unsafe=True)
    patch = unified_patch(fixed)
    findings, build_times = add_build_times(
        result.findings,
        sources,
        {item.path: item.after for item in fixed},
        measured or {},
        now or datetime.now(UTC),
        root_pipeline(fetched.repo) if measured else None,
    )
    context = ReviewContext(
        diff_refs=diff_refs,
        diffs=fetched.diffs,
        sources=sources,
        head_sha=diff_refs.head_sha,
        bot_username=bot_username,
        docs_url=docs_url,
        patch=patch,
        notes=[*fetched.notes, *result.notes],
        ignored=ignored,
        inline_info=config.inline_info,
        build_times=build_times,
    )
    return plan_comments(findings, context, state)


def _draft_inline(client: GitLabClient, mr: MergeRequest, comment: InlineComment) -> None:
    """One inline draft; a position GitLab refuses (400) leaves the finding to the summary."""
    try:
        client.create_draft_note(mr.project_id, mr.iid, comment.body, position=comment.position)
    except PermanentGitLabError as error:
        if error.status != 400:
            raise
        log.warning("GitLab refused an inline draft (%s); summary only", error)
        return
    metrics.NOTES_POSTED.labels("inline").inc()


def post_plan(
    client: GitLabClient, mr: MergeRequest, plan: CommentPlan, state: BotNotes, bot_id: int
) -> tuple[bool, bool]:
    """Post the drafts, publish them in one bulk call, then write the summary from what GitLab
    published. Returns (anything written, summary written).

    A write that fails ambiguously raises; the retried review re-reads the MR and drafts and
    posts only what is still missing.
    """
    project_id, iid = mr.project_id, mr.iid
    client.run_all(
        [partial(client.delete_draft_note, project_id, iid, draft) for draft in plan.stale_drafts]
    )
    # independent drafts, at once: their order on the MR is the order GitLab numbered them
    inline: list[Callable[[], object]] = [
        partial(_draft_inline, client, mr, comment) for comment in plan.inline
    ]
    replies: list[Callable[[], object]] = [
        partial(
            client.create_draft_note,
            project_id,
            iid,
            reply.body,
            in_reply_to=reply.discussion_id,
            resolve=reply.resolve,
        )
        for reply in plan.resolutions
    ]
    client.run_all([*inline, *replies])
    metrics.NOTES_POSTED.labels("reply").inc(len(replies))
    leftover = set(state.draft_findings.values()) - set(plan.stale_drafts)
    published = state
    pending = plan.drafts or bool(leftover) or bool(state.draft_replies)
    if pending:
        client.publish_drafts(project_id, iid)
        published = read_bot_notes(client.discussions(project_id, iid), [], bot_id)
    summary = summary_after_publish(plan, published)
    if summary is not None:
        old = published.summary
        if old is None or old.resolvable:
            client.create_note(project_id, iid, summary)
            if old is not None:  # a thread from an older version: it would block merging
                client.delete_note(project_id, iid, old.id)
        else:
            client.update_note(project_id, iid, old.id, summary)
        metrics.NOTES_POSTED.labels("summary").inc()
    return bool(pending or summary or plan.stale_drafts), summary is not None
