"""Findings + the MR diff → a comment plan, and the exact Markdown the bot posts. No I/O.

Everything posted is inert: text from analysed files (messages quote instructions, paths are
chosen by whoever opened the MR) is escaped so it cannot open HTML, mention anyone (``@`` is
followed by a zero-width space) or start a quick action; file content inside a code fence can
never close it (the fence is longer than any backtick run inside), and a suggestion whose lines
would start with ``/`` is not offered, so no ``/merge`` can reach the start of a line.

Each bot note starts with a hidden marker: ``<!-- layerbot:finding RULE FINGERPRINT -->`` on
inline findings, ``<!-- layerbot:summary -->`` on the summary, whose last line carries the
MR's hidden state (rules ignored with ``@bot ignore RULE``), and ``<!-- layerbot:resolved -->``
or ``<!-- layerbot:reopened -->`` on the bot's replies in a finding's thread (the last one says
whether the bot closed it). Only first and last lines are read back, so quoted file content
cannot forge a marker.

The review is planned in two steps because GitLab decides where comments land: the inline
threads and thread replies go out as drafts published at once; only then is the summary written,
from what GitLab actually published (a draft GitLab cannot place is dropped silently at publish:
``DraftNotes::PublishService`` deletes every draft whatever the result). The summary is a plain
note, never a thread, so it never blocks "All threads must be resolved".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from layerbot.analysis.dockerfile import DockerfileError, parse
from layerbot.analysis.fixes import as_replacement, split_lines
from layerbot.analysis.gitlab_ci import Pipeline
from layerbot.analysis.measured import (
    Measurement,
    match_runs,
    slowest_steps,
    summary_line,
    with_build_cost,
    with_costs,
)
from layerbot.analysis.model import Finding, Note, Safety, Severity
from layerbot.rule_pages import rule_explanation, rule_reference
from workers.mr_model import (
    DiffRefs,
    Discussion,
    DraftNote,
    FileDiff,
    JobRun,
    MeasuredJob,
    PostedNote,
)

SUMMARY_MARKER = "<!-- layerbot:summary -->"
RESOLVED_MARKER = "<!-- layerbot:resolved -->"
REOPENED_MARKER = "<!-- layerbot:reopened -->"
_FINDING_MARKER = re.compile(r"^<!-- layerbot:finding ([a-z0-9-]+) ([0-9a-f]{16}) -->$")
_STATE_MARKER = re.compile(r"^<!-- layerbot:state (\{.*\}) -->$")
RULE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_SUGGESTION_LINES = 20
ZERO_WIDTH_SPACE = "\u200b"

# A review that would open more threads than this lists the rest in the summary only: a
# careful colleague, not a wall of notifications (GitLab.com allows 60 new notes a minute).
MAX_NEW_INLINE = 20
_AUTOLINK = re.compile(r"://|\bwww\.", re.IGNORECASE)
_PROSE_SPECIALS = set("\\`*_[]<>!|~&$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SEVERITY_ICON = {
    Severity.CRITICAL: "🔴",
    Severity.MAJOR: "🟠",
    Severity.MINOR: "🟡",
    Severity.INFO: "🔵",
}


# --- inert Markdown --------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def escape_prose(text: str) -> str:
    """Plain text as Markdown that renders as itself: no HTML, links, emphasis or mentions.

    Line breaks become spaces, so nothing from ``text`` can start a line (a quick action), and
    a zero-width space breaks every ``scheme://`` and ``www.`` so GitLab links no address from
    an analysed file."""
    out = []
    text = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + ZERO_WIDTH_SPACE + m.group(0)[-1], text)
    for char in _CONTROL.sub(" ", text):
        if char in _PROSE_SPECIALS:
            out.append("\\" + char)
        elif char == "@":
            out.append("@" + ZERO_WIDTH_SPACE)
        else:
            out.append(char)
    return "".join(out)


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(run) for run in runs), default=0)


def code_span(text: str, *, in_table: bool = False) -> str:
    """``text`` as one inline code span, whatever backticks it holds."""
    text = _one_line(text) or " "
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if in_table:
        text = text.replace("|", "\\|")
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence_for(content: str) -> str:
    """A backtick fence longer than any backtick run in ``content`` (at least three)."""
    return "`" * max(3, _longest_run(content, "`") + 1)


def _closing_run(text: str, start: int, length: int) -> tuple[int, int] | None:
    position = start
    while position < len(text):
        if text[position] != "`":
            position += 1
            continue
        end = position
        while end < len(text) and text[end] == "`":
            end += 1
        if end - position == length:
            return position, end
        position = end
    return None


def render_message(text: str, *, in_table: bool = False) -> str:
    """A rule's message as inert Markdown, keeping its `code spans` (literal by nature)."""
    text = _one_line(text)
    out: list[str] = []
    plain: list[str] = []
    index = 0
    while index < len(text):
        if text[index] != "`":
            plain.append(text[index])
            index += 1
            continue
        end = index
        while end < len(text) and text[end] == "`":
            end += 1
        closing = _closing_run(text, end, end - index)
        if closing is None:
            plain.append(text[index:end])
            index = end
            continue
        out.append(escape_prose("".join(plain)) if plain else "")
        plain = []
        span = text[index : closing[1]]
        out.append(span.replace("|", "\\|") if in_table else span)
        index = closing[1]
    if plain:
        out.append(escape_prose("".join(plain)))
    return "".join(out)


# --- fingerprints and markers ----------------------------------------------------------------


def fingerprints(findings: Sequence[Finding], sources: Mapping[str, str]) -> list[str]:
    """A stable id per finding: rule, path and the flagged text, not line numbers, so a
    finding keeps its id when lines above it move; repeats get an occurrence number."""
    seen: dict[str, int] = {}
    result = []
    for finding in findings:
        lines = split_lines(sources.get(finding.path, ""))[finding.line - 1 : finding.end_line]
        flagged = "\n".join(" ".join(line.split()) for line in lines)
        key = f"{finding.rule}\0{finding.path}\0{flagged}"
        seen[key] = seen.get(key, 0) + 1
        digest = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()
        result.append(digest[:16])
    return result


def finding_marker(rule: str, fingerprint: str) -> str:
    return f"<!-- layerbot:finding {rule} {fingerprint} -->"


def parse_finding_marker(body: str) -> tuple[str, str] | None:
    """(rule, fingerprint) from a bot note's first line."""
    match = _FINDING_MARKER.match(body.split("\n", 1)[0].strip())
    return (match.group(1), match.group(2)) if match else None


def is_summary(body: str) -> bool:
    return body.split("\n", 1)[0].strip() == SUMMARY_MARKER


def parse_ignored(summary_body: str) -> frozenset[str]:
    """Rules ignored for this MR, from the summary's last line."""
    match = _STATE_MARKER.match(summary_body.rstrip().rsplit("\n", 1)[-1].strip())
    if not match:
        return frozenset()
    try:
        state = json.loads(match.group(1))
    except ValueError:
        return frozenset()
    ignored = state.get("ignored", []) if isinstance(state, dict) else []
    return frozenset(r for r in ignored if isinstance(r, str) and RULE_NAME.match(r))


def state_marker(ignored: Iterable[str]) -> str:
    names = sorted({rule for rule in ignored if RULE_NAME.match(rule)})
    return f"<!-- layerbot:state {json.dumps({'ignored': names})} -->"


# --- what the bot already posted -------------------------------------------------------------


@dataclass(frozen=True)
class PostedFinding:
    rule: str
    discussion_id: str
    resolved: bool
    closed_by_bot: bool
    """The bot's last word in the thread resolved it (fixed or ignored), not reopened it."""

    @property
    def open(self) -> bool:
        return not self.resolved


@dataclass(frozen=True)
class BotNotes:
    """The bot's own notes on the MR, published or still in drafts."""

    findings: dict[str, PostedFinding] = field(default_factory=dict)
    draft_findings: dict[str, int] = field(default_factory=dict)
    draft_replies: frozenset[str] = frozenset()
    summary: PostedNote | None = None
    stale_summary_drafts: tuple[int, ...] = ()
    """Summary drafts an older version left behind: deleted, never published as a thread."""

    @property
    def ignored(self) -> frozenset[str]:
        return parse_ignored(self.summary.body) if self.summary else frozenset()


def _closed_by_bot(replies: Iterable[PostedNote]) -> bool:
    closed = False
    for note in replies:
        first = note.body.split("\n", 1)[0].strip()
        if first in (RESOLVED_MARKER, REOPENED_MARKER):
            closed = first == RESOLVED_MARKER
    return closed


def read_bot_notes(
    discussions: Iterable[Discussion], drafts: Iterable[DraftNote], bot_id: int
) -> BotNotes:
    findings: dict[str, PostedFinding] = {}
    summary: PostedNote | None = None
    for discussion in discussions:
        mine = [note for note in discussion.notes if note.author_id == bot_id and not note.system]
        if not mine:
            continue
        if is_summary(mine[0].body) and summary is None:
            summary = mine[0]
            continue
        marker = parse_finding_marker(mine[0].body)
        if marker is not None and marker[1] not in findings:
            findings[marker[1]] = PostedFinding(
                rule=marker[0],
                discussion_id=discussion.id,
                resolved=discussion.resolved,
                closed_by_bot=_closed_by_bot(mine[1:]),
            )
    draft_findings: dict[str, int] = {}
    replies: set[str] = set()
    summary_drafts: list[int] = []
    for draft in drafts:
        marker = parse_finding_marker(draft.body)
        if marker is not None:
            draft_findings[marker[1]] = draft.id
        elif is_summary(draft.body):
            summary_drafts.append(draft.id)
        elif draft.discussion_id:
            replies.add(draft.discussion_id)
    return BotNotes(findings, draft_findings, frozenset(replies), summary, tuple(summary_drafts))


# --- measured build times --------------------------------------------------------------------


@dataclass(frozen=True)
class BuildTime:
    """The summary's line on one Dockerfile's measured build, and the job log it came from."""

    text: str
    job_url: str
    slowest: str | None = None


def ago(finished_at: str, now: datetime) -> str | None:
    """``2 days ago`` for an ISO 8601 time; ``None`` when GitLab gave none."""
    try:
        finished = datetime.fromisoformat(finished_at)
    except ValueError:
        return None
    if finished.tzinfo is None or now.tzinfo is None:
        return None
    minutes = max(0, int((now - finished).total_seconds() // 60))
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes >= size:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def measured_source(job: JobRun, now: datetime) -> str:
    """Where a measurement comes from: ``pipeline `#41` (job `build`, 2 days ago)``; the
    pipeline number is a code span so GitLab does not read it as an issue reference."""
    when = ago(job.finished_at, now)
    return f"pipeline `#{job.pipeline_id}` (job {code_span(job.name)}{', ' + when if when else ''})"


def add_build_times(
    findings: Sequence[Finding],
    sources: Mapping[str, str],
    fixed: Mapping[str, str],
    measured: Mapping[str, Sequence[MeasuredJob]],
    now: datetime,
    pipeline: Pipeline | None = None,
) -> tuple[list[Finding], list[BuildTime]]:
    """The findings with what their steps cost in each Dockerfile's first measured job whose
    log built that file (a finding of ``pipeline`` on that job's build: what the whole build
    cost), and one summary line per such Dockerfile. A job whose log matches nothing (another
    Dockerfile, another builder's output) adds nothing."""
    result = list(findings)
    lines: list[BuildTime] = []
    for path, jobs in sorted(measured.items()):
        text = sources.get(path)
        if text is None:
            continue
        try:
            doc = parse(text, path)
        except DockerfileError:
            continue
        for measured_job in jobs:
            timings = match_runs(doc, measured_job.runs)
            if not timings:
                continue
            measurement = Measurement(measured_source(measured_job.job, now), timings)
            result = with_costs(doc, result, measurement)
            if pipeline is not None:
                result = with_build_cost(result, pipeline, measured_job.job.name, doc, measurement)
            line = summary_line(doc, fixed.get(path, text), measurement)
            if line:
                slowest = slowest_steps(measurement)
                lines.append(BuildTime(line, measured_job.job.web_url, slowest))
            break
    return result, lines


# --- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InlineComment:
    fingerprint: str
    finding: Finding
    body: str
    position: dict[str, object]
    suggestion: bool


@dataclass(frozen=True)
class Resolution:
    """A bot reply in a finding's thread: ``resolve`` closes it (fixed, ignored); otherwise
    publishing the reply reopens it (``DraftNotes::PublishService#set_discussion_resolve_status``
    unresolves a thread whose reply does not resolve it)."""

    discussion_id: str
    body: str
    resolve: bool = True


@dataclass(frozen=True)
class ReviewContext:
    """What the planner needs besides findings: refs, diffs, file texts and who the bot is."""

    diff_refs: DiffRefs
    diffs: Sequence[FileDiff]
    sources: Mapping[str, str]
    head_sha: str
    bot_username: str
    docs_url: str | None
    """Link template of a rule's page; ``None``: explain the rule instead (``rule_pages``)."""
    patch: str = ""
    notes: Sequence[Note] = ()
    ignored: frozenset[str] = frozenset()
    inline_info: bool = False
    """Comment ``info`` findings inline too (``.layerbot.yml``: ``inline-info: true``)."""
    build_times: Sequence[BuildTime] = ()


@dataclass(frozen=True)
class CommentPlan:
    """What to post as drafts (published at once), and what the summary is written from."""

    inline: tuple[InlineComment, ...]
    resolutions: tuple[Resolution, ...]
    stale_drafts: tuple[int, ...]
    findings: tuple[Finding, ...]
    fingerprints: tuple[str, ...]
    meant_inline: frozenset[str]
    """Findings that should have a thread: placed on the diff (new or already posted)."""
    context: ReviewContext

    @property
    def drafts(self) -> bool:
        return bool(self.inline or self.resolutions)


def docs_link(rule: str, docs_url: str | None) -> str:
    return rule_reference(rule, docs_url)


def _command(bot: str, words: str) -> str:
    return code_span(f"@{bot} {words}")


def _position(
    refs: DiffRefs, diff: FileDiff, new_line: int, old_line: int | None
) -> dict[str, object]:
    position: dict[str, object] = {
        "position_type": "text",
        "base_sha": refs.base_sha,
        "start_sha": refs.start_sha,
        "head_sha": refs.head_sha,
        "old_path": diff.old_path,
        "new_path": diff.new_path,
        "new_line": new_line,
    }
    if old_line is not None:
        position["old_line"] = old_line
    return position


def _first_shown(lines: Iterable[int], shown: Mapping[int, int | None]) -> int | None:
    """The first line the diff shows, preferring added lines over context lines."""
    candidates = [line for line in lines if line in shown]
    added = [line for line in candidates if shown[line] is None]
    preferred = added or candidates
    return preferred[0] if preferred else None


@dataclass(frozen=True)
class _Suggestion:
    above: int
    below: int
    lines: tuple[str, ...]


def _suggestion_range(finding: Finding, text: str) -> tuple[int, int, tuple[str, ...]] | None:
    fix = finding.fix
    if fix is None or fix.safety is not Safety.SAFE or fix.path not in (None, finding.path):
        return None
    replacement = as_replacement(text, fix)
    if replacement is None:
        return None
    span = replacement.end_line - replacement.start_line + 1
    if span > MAX_SUGGESTION_LINES or len(replacement.lines) > MAX_SUGGESTION_LINES:
        return None
    if any(line.startswith("/") for line in replacement.lines):
        return None  # a line starting with "/" could read as a quick action
    return replacement.start_line, replacement.end_line, replacement.lines


def place_finding(
    finding: Finding, text: str, diff: FileDiff | None
) -> tuple[int, int | None, _Suggestion | None] | None:
    """Where an inline comment goes (new line, old line) and its suggestion, or ``None`` when
    no line of the finding is in the diff (it then lives in the summary only)."""
    if diff is None or diff.deleted_file:
        return None
    shown = diff.shown_lines()
    finding_lines = range(finding.line, finding.end_line + 1)
    replacement = _suggestion_range(finding, text)
    if replacement is not None:
        start, end, lines = replacement
        in_both = [line for line in finding_lines if start <= line <= end]
        anchor = _first_shown(in_both, shown) or _first_shown(range(start, end + 1), shown)
        if anchor is not None:
            return anchor, shown[anchor], _Suggestion(anchor - start, end - anchor, lines)
    anchor = _first_shown(finding_lines, shown)
    return None if anchor is None else (anchor, shown[anchor], None)


def render_suggestion(suggestion: _Suggestion) -> str:
    content = "\n".join(suggestion.lines)
    fence = fence_for(content)
    body = f"{content}\n" if suggestion.lines else ""
    return f"{fence}suggestion:-{suggestion.above}+{suggestion.below}\n{body}{fence}"


def render_inline(
    finding: Finding,
    fingerprint: str,
    suggestion: _Suggestion | None,
    bot: str,
    docs_url: str | None,
) -> str:
    parts = [
        finding_marker(finding.rule, fingerprint),
        f"**{docs_link(finding.rule, docs_url)}** ({finding.severity.value}): "
        + render_message(finding.message),
    ]
    if finding.impact:
        parts.append(render_message(finding.impact))
    if suggestion is not None:
        parts.append(render_suggestion(suggestion))
    fix = finding.fix
    if fix is not None:
        line = f"Fix ({fix.safety.value}): {render_message(fix.description)}"
        if suggestion is None:
            line += ". It is in the summary's patch"
            command = "apply" if fix.safety is Safety.SAFE else "apply all"
            line += f"; {_command(bot, command)} commits it."
        parts.append(line)
    explanation = rule_explanation(finding.rule, docs_url)
    if explanation:
        parts.append(explanation)
    return "\n\n".join(parts) + "\n"


class Where(StrEnum):
    """Where a finding lives besides the summary table, as the summary's table says it."""

    INLINE = " (inline)"
    NOT_PLACED = " (not placed inline)"
    RESOLVED = " (thread resolved)"
    SUMMARY = ""


def _table(findings: Sequence[Finding], where: Sequence[Where], docs_url: str | None) -> list[str]:
    rows = [
        "| Severity | Rule | Where | Finding |",
        "| --- | --- | --- | --- |",
    ]
    for finding, place in zip(findings, where, strict=True):
        spot = code_span(f"{finding.path}:{finding.line}", in_table=True) + place
        icon = _SEVERITY_ICON[finding.severity]
        rows.append(
            f"| {icon} {finding.severity.value} | {docs_link(finding.rule, docs_url)} | {spot} "
            f"| {render_message(finding.message, in_table=True)} |"
        )
    return rows


def _rules_of(findings: Sequence[Finding]) -> list[str]:
    """Each rule of ``findings`` once, in the order of the table."""
    return list(dict.fromkeys(finding.rule for finding in findings))


def render_summary(
    findings: Sequence[Finding], where: Sequence[Where], context: ReviewContext
) -> str:
    bot = context.bot_username
    sha = code_span(context.head_sha[:12])
    parts = [SUMMARY_MARKER, "### layerbot review"]
    if not findings:
        parts.append(
            f"Nothing left to report at {sha}: the Dockerfiles and CI files this merge request "
            "changes follow every enabled rule."
        )
    else:
        files = len({finding.path for finding in findings})
        noun = "finding" if len(findings) == 1 else "findings"
        what = "file" if files == 1 else "files"
        inline = where.count(Where.INLINE)
        line = (
            f"{len(findings)} {noun} in {files} {what} at {sha}; {inline} of them "
            "commented inline on the diff."
        )
        dropped = where.count(Where.NOT_PLACED)
        if dropped:
            line += (
                f" GitLab did not publish the inline comment of {dropped} of them: they are "
                "listed here as not placed inline."
            )
        parts.append(line)
        parts.append("\n".join(_table(findings, where, context.docs_url)))
        explained = [rule_explanation(rule, context.docs_url) for rule in _rules_of(findings)]
        parts.extend(text for text in explained if text)
    for build in context.build_times:
        line = f"Measured: {render_message(build.text)}."
        if build.slowest:
            line += f" {render_message(build.slowest[0].upper() + build.slowest[1:])}."
        if build.job_url:
            line += f" [Job log]({build.job_url})."
        parts.append(line)
    if context.patch:
        fence = fence_for(context.patch)
        parts.append(
            "<details>\n<summary>Full patch: every fix, for <code>git apply</code></summary>\n\n"
            f"{fence}diff\n{context.patch.rstrip(chr(10))}\n{fence}\n\n</details>"
        )
    if context.notes:
        parts.append(
            "\n".join(
                f"- {code_span(note.path)}: {render_message(note.message)}"
                for note in context.notes
            )
        )
    if context.ignored:
        names = ", ".join(code_span(rule) for rule in sorted(context.ignored))
        parts.append(f"Ignored for this merge request: {names}.")
    parts.append(
        f"Commands: {_command(bot, 'recheck')}, {_command(bot, 'ignore RULE')}, "
        f"{_command(bot, 'apply')} (safe fixes), {_command(bot, 'apply all')} (every fix), "
        f"{_command(bot, 'help')}."
    )
    parts.append(state_marker(context.ignored))
    return "\n\n".join(parts) + "\n"


def resolution_body(rule: str, context: ReviewContext) -> str:
    if rule in context.ignored:
        return f"{RESOLVED_MARKER}\nIgnored for this merge request ({code_span(rule)})."
    return f"{RESOLVED_MARKER}\nFixed in {code_span(context.head_sha[:12])}."


def reopened_body(context: ReviewContext) -> str:
    return f"{REOPENED_MARKER}\nReintroduced in {code_span(context.head_sha[:12])}."


def plan_comments(
    findings: Sequence[Finding], context: ReviewContext, state: BotNotes
) -> CommentPlan:
    """The drafts of a review: new inline threads, replies that close the threads of findings
    gone and reopen those of findings back, and leftover drafts to delete."""
    diffs = {diff.new_path: diff for diff in context.diffs if not diff.deleted_file}
    prints = fingerprints(findings, context.sources)
    inline: list[InlineComment] = []
    meant: set[str] = set()
    for finding, fingerprint in zip(findings, prints, strict=True):
        if finding.severity is Severity.INFO and not context.inline_info:
            continue  # advice: the summary table only
        text = context.sources.get(finding.path, "")
        placed = place_finding(finding, text, diffs.get(finding.path))
        if placed is None:
            continue
        posted = fingerprint in state.findings or fingerprint in state.draft_findings
        if not posted and len(inline) >= MAX_NEW_INLINE:
            continue  # the summary's table still lists it
        meant.add(fingerprint)
        if posted:
            continue
        new_line, old_line, suggestion = placed
        body = render_inline(
            finding, fingerprint, suggestion, context.bot_username, context.docs_url
        )
        position = _position(context.diff_refs, diffs[finding.path], new_line, old_line)
        inline.append(InlineComment(fingerprint, finding, body, position, suggestion is not None))
    current = set(prints)
    replies: list[Resolution] = []
    for fingerprint, thread in state.findings.items():
        if thread.discussion_id in state.draft_replies:
            continue  # a reply is already waiting in the drafts
        if fingerprint not in current and thread.open and not thread.closed_by_bot:
            replies.append(Resolution(thread.discussion_id, resolution_body(thread.rule, context)))
        elif fingerprint in current and thread.closed_by_bot:
            replies.append(Resolution(thread.discussion_id, reopened_body(context), False))
    stale = (
        tuple(
            draft
            for fingerprint, draft in state.draft_findings.items()
            if fingerprint not in current
        )
        + state.stale_summary_drafts
    )
    return CommentPlan(
        tuple(inline),
        tuple(replies),
        stale,
        tuple(findings),
        tuple(prints),
        frozenset(meant),
        context,
    )


def published_as_planned(plan: CommentPlan, state: BotNotes) -> BotNotes:
    """What GitLab shows once it has placed every draft of ``plan`` (the README's example
    review and tests; the worker reads what GitLab really published instead)."""
    threads = dict(state.findings)
    for comment in plan.inline:
        threads[comment.fingerprint] = PostedFinding(
            comment.finding.rule, f"planned-{comment.fingerprint}", False, False
        )
    for reply in plan.resolutions:
        for fingerprint, thread in threads.items():
            if thread.discussion_id == reply.discussion_id:
                closed = reply.resolve
                threads[fingerprint] = PostedFinding(
                    thread.rule, thread.discussion_id, closed, closed
                )
    return BotNotes(findings=threads, summary=state.summary)


def summary_after_publish(plan: CommentPlan, published: BotNotes) -> str | None:
    """The summary, written from what GitLab shows after publishing: "inline" only for a
    finding with an open thread, "not placed inline" for one whose comment GitLab dropped.
    ``None`` when there is nothing to say or nothing changed."""
    where: list[Where] = []
    for fingerprint in plan.fingerprints:
        thread = published.findings.get(fingerprint)
        if thread is not None:
            where.append(Where.INLINE if thread.open else Where.RESOLVED)
        elif fingerprint in plan.meant_inline:
            where.append(Where.NOT_PLACED)
        else:
            where.append(Where.SUMMARY)
    existing = published.summary.body if published.summary else None
    if not plan.findings and existing is None and not plan.context.ignored:
        return None
    summary = render_summary(plan.findings, where, plan.context)
    needs_move = published.summary is not None and published.summary.resolvable
    return None if summary == existing and not needs_move else summary
