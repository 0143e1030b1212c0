"""The pure comment planner: exact Markdown, positions, suggestion ranges and inert escaping."""

from __future__ import annotations

from dataclasses import replace

from layerbot.analysis.model import Edit, Finding, Fix, Note, Safety, Severity
from workers.comments import (
    MAX_NEW_INLINE,
    REOPENED_MARKER,
    RESOLVED_MARKER,
    BotNotes,
    CommentPlan,
    PostedFinding,
    ReviewContext,
    code_span,
    escape_prose,
    fence_for,
    fingerprints,
    parse_finding_marker,
    parse_ignored,
    plan_comments,
    published_as_planned,
    read_bot_notes,
    render_message,
    state_marker,
    summary_after_publish,
)
from workers.mr_model import DiffRefs, Discussion, DraftNote, FileDiff, PostedNote

REFS = DiffRefs("b" * 40, "s" * 40, "h" * 40)
DOCS = "https://docs.example/{name}"
ZWSP = "\u200b"

DOCKERFILE = "FROM golang:1.22\nWORKDIR /app\nCOPY . .\nRUN go mod download\nRUN go build\n"
# Lines 1-2 are unchanged context, 3-5 are added by the MR.
DIFF = FileDiff(
    old_path="Dockerfile",
    new_path="Dockerfile",
    diff="@@ -1,2 +1,5 @@\n FROM golang:1.22\n WORKDIR /app\n+COPY . .\n+RUN go mod download\n"
    "+RUN go build\n",
)


def finding(
    line: int,
    end: int | None = None,
    *,
    rule: str = "dependency-layer-order",
    message: str = "`go mod download` runs after `COPY . .`",
    fix: Fix | None = None,
    path: str = "Dockerfile",
    severity: Severity = Severity.MAJOR,
) -> Finding:
    return Finding(rule, severity, path, line, end or line, message, None, fix)


def context(sources: dict[str, str] | None = None, **overrides: object) -> ReviewContext:
    values: dict[str, object] = {
        "diff_refs": REFS,
        "diffs": [DIFF],
        "sources": sources or {"Dockerfile": DOCKERFILE},
        "head_sha": "h" * 40,
        "bot_username": "layerbot",
        "docs_url": DOCS,
    }
    values.update(overrides)
    return ReviewContext(**values)  # type: ignore[arg-type]


def safe_fix(start: int, end: int, *lines: str) -> Fix:
    return Fix("Reorder", Safety.SAFE, (Edit(start, end, tuple(lines)),))


def published(
    plan: CommentPlan, state: BotNotes | None = None, dropped: frozenset[str] = frozenset()
) -> BotNotes:
    """What GitLab shows once the plan's drafts are published, but the ``dropped`` ones (GitLab
    drops a draft it cannot place)."""
    shown = published_as_planned(plan, state or BotNotes())
    kept = {key: thread for key, thread in shown.findings.items() if key not in dropped}
    return replace(shown, findings=kept)


def summary_of(plan: CommentPlan, state: BotNotes | None = None) -> str:
    text = summary_after_publish(plan, published(plan, state))
    assert text is not None
    return text


# --- escaping --------------------------------------------------------------------------------


def test_escape_prose_neutralises_html_mentions_links_and_line_starts() -> None:
    hostile = "@all see <script>alert(1)</script>\n/merge [x](http://e) *b* & ~s~ | $m$"
    assert escape_prose(hostile) == (
        f"@{ZWSP}all see \\<script\\>alert(1)\\</script\\> /merge \\[x\\](http:/{ZWSP}/e) "
        "\\*b\\* \\& \\~s\\~ \\| \\$m\\$"
    )


def test_addresses_from_analysed_files_are_not_linked() -> None:
    text = "include remote: https://evil.example/ci.yml and WWW.evil.example not analysed"
    assert escape_prose(text) == (
        f"include remote: https:/{ZWSP}/evil.example/ci.yml and WWW{ZWSP}.evil.example not analysed"
    )


def test_render_message_keeps_code_spans_and_escapes_the_rest() -> None:
    assert render_message("use `COPY <src> @all` not <b>@here</b>") == (
        f"use `COPY <src> @all` not \\<b\\>@{ZWSP}here\\</b\\>"
    )
    # an unmatched backtick is escaped instead of opening a span to the end
    assert render_message("a ` b @x") == f"a \\` b @{ZWSP}x"
    # inside a table, pipes are escaped even inside code spans
    assert render_message("`a|b` c|d", in_table=True) == "`a\\|b` c\\|d"


def test_code_span_and_fence_outgrow_backticks_in_content() -> None:
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"
    assert fence_for("no ticks") == "```"
    assert fence_for("RUN echo ````\n```") == "`````"


# --- diff lines and positions ----------------------------------------------------------------


def test_shown_lines_maps_added_and_context_lines() -> None:
    diff = FileDiff(
        "a",
        "a",
        "@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n\\ No newline at end of file\n"
        "@@ -10,2 +10,3 @@\n ten\n+new\n eleven\n",
    )
    assert diff.shown_lines() == {1: 1, 2: None, 3: 3, 10: 10, 11: None, 12: 11}


def test_inline_comment_on_added_line_with_suggestion() -> None:
    fix = safe_fix(3, 4, "COPY go.mod go.sum ./", "RUN go mod download", "COPY . .")
    item = finding(3, 4, fix=fix)
    plan = plan_comments([item], context(), BotNotes())
    [comment] = plan.inline
    fingerprint = fingerprints([item], {"Dockerfile": DOCKERFILE})[0]
    assert comment.position == {
        "position_type": "text",
        "base_sha": REFS.base_sha,
        "start_sha": REFS.start_sha,
        "head_sha": REFS.head_sha,
        "old_path": "Dockerfile",
        "new_path": "Dockerfile",
        "new_line": 3,
    }
    assert comment.body == (
        f"<!-- layerbot:finding dependency-layer-order {fingerprint} -->\n\n"
        "**[`dependency-layer-order`](https://docs.example/dependency-layer-order)** (major): "
        "`go mod download` runs after `COPY . .`\n\n"
        "```suggestion:-0+1\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n```\n\n"
        "Fix (safe): Reorder\n"
    )


def test_context_line_gets_old_line_and_suggestion_offsets_follow_the_anchor() -> None:
    diff = FileDiff("Dockerfile", "Dockerfile", "@@ -2,1 +2,1 @@\n WORKDIR /app\n")
    fix = safe_fix(1, 3, "FROM golang:1.22 AS build", "WORKDIR /src", "COPY . .")
    plan = plan_comments([finding(2, 3, fix=fix)], context(diffs=[diff]), BotNotes())
    [comment] = plan.inline
    assert comment.position["new_line"] == 2
    assert comment.position["old_line"] == 2
    assert "```suggestion:-1+1\n" in comment.body


def test_finding_off_the_diff_goes_to_the_summary_only() -> None:
    diff = FileDiff("Dockerfile", "Dockerfile", "@@ -5,1 +5,1 @@\n-RUN make\n+RUN go build\n")
    plan = plan_comments([finding(1)], context(diffs=[diff]), BotNotes())
    assert plan.inline == ()
    summary = summary_of(plan)
    assert "| `Dockerfile:1` |" in summary
    assert "0 of them commented inline" in summary


def test_review_fix_and_whole_file_rewrite_get_no_suggestion() -> None:
    rewrite = Fix("Multi-stage", Safety.REVIEW, (Edit(1, 5, ("FROM x AS b",)),))
    plan = plan_comments([finding(3, fix=rewrite)], context(), BotNotes())
    [comment] = plan.inline
    assert "suggestion" not in comment.body
    assert comment.body.endswith(
        "Fix (review): Multi-stage. It is in the summary's patch; "
        "`@layerbot apply all` commits it.\n"
    )


# --- hostile content ----------------------------------------------------------------------------


def test_hostile_dockerfile_content_stays_inert() -> None:
    source = "FROM alpine\nRUN echo '```' @all <script>x</script>\nRUN true\n"
    diff = FileDiff(
        "Dockerfile", "Dockerfile", "@@ -0,0 +1,3 @@\n+" + "\n+".join(source.split("\n")[:3]) + "\n"
    )
    fix = safe_fix(2, 2, "RUN echo '````' @all <script>x</script> && rm -rf /tmp/*")
    message = "`RUN echo '```' @all` mentions @all and <script>x</script>\n/merge"
    item = finding(2, message=message, fix=fix)
    plan = plan_comments([item], context({"Dockerfile": source}, diffs=[diff]), BotNotes())
    [comment] = plan.inline
    body_lines = comment.body.split("\n")
    # the suggestion fence is longer than the 4-backtick run inside it, and closes it
    assert "`````suggestion:-0+0" in body_lines
    assert body_lines.count("`````") == 1
    # prose: no raw HTML, no live mention, no line that starts a quick action
    prose = comment.body.split("`````suggestion")[0]
    assert "<script>" not in prose.replace("`RUN echo '```' @all`", "")
    assert f"@{ZWSP}all and \\<script\\>x\\</script\\> /merge" in prose
    assert not any(line.startswith("/") for line in body_lines)


def test_suggestion_lines_starting_with_a_slash_are_not_offered() -> None:
    fix = safe_fix(3, 3, "/merge", "COPY . .")
    plan = plan_comments([finding(3, fix=fix)], context(), BotNotes())
    [comment] = plan.inline
    assert "suggestion" not in comment.body
    assert not any(line.startswith("/") for line in comment.body.split("\n"))


def test_summary_patch_fence_outgrows_backticks_and_paths_are_code() -> None:
    patch = "diff --git a/Dockerfile b/Dockerfile\n+RUN echo ```` \n"
    plan = plan_comments(
        [finding(3, path="we`ird|@all.Dockerfile")],
        context({"we`ird|@all.Dockerfile": DOCKERFILE}, patch=patch),
        BotNotes(),
    )
    summary = summary_of(plan)
    assert "\n`````diff\n" + patch + "`````\n" in summary
    assert "| ``we`ird\\|@all.Dockerfile:3`` |" in summary


def test_exact_summary_with_notes_and_ignored_rules() -> None:
    ctx = context(
        patch="diff --git a/Dockerfile b/Dockerfile\n",
        notes=[Note(".gitlab-ci.yml", "remote include <http://x> not fetched")],
        ignored=frozenset({"pin-base-image"}),
    )
    plan = plan_comments([finding(3)], ctx, BotNotes())
    assert summary_of(plan) == (
        "<!-- layerbot:summary -->\n\n"
        "### layerbot review\n\n"
        "1 finding in 1 file at `hhhhhhhhhhhh`; 1 of them commented inline on the diff.\n\n"
        "| Severity | Rule | Where | Finding |\n"
        "| --- | --- | --- | --- |\n"
        "| 🟠 major | [`dependency-layer-order`](https://docs.example/dependency-layer-order) "
        "| `Dockerfile:3` (inline) | `go mod download` runs after `COPY . .` |\n\n"
        "<details>\n<summary>Full patch: every fix, for <code>git apply</code></summary>\n\n"
        "```diff\ndiff --git a/Dockerfile b/Dockerfile\n```\n\n</details>\n\n"
        f"- `.gitlab-ci.yml`: remote include \\<http:/{ZWSP}/x\\> not fetched\n\n"
        "Ignored for this merge request: `pin-base-image`.\n\n"
        "Commands: `@layerbot recheck`, `@layerbot ignore RULE`, `@layerbot apply` (safe fixes), "
        "`@layerbot apply all` (every fix), `@layerbot help`.\n\n"
        '<!-- layerbot:state {"ignored": ["pin-base-image"]} -->\n'
    )
    assert parse_ignored(summary_of(plan)) == {"pin-base-image"}


# --- the next push -----------------------------------------------------------------------------


def test_fingerprints_survive_moved_lines_and_number_repeats() -> None:
    moved = "# comment\n" + DOCKERFILE
    first = fingerprints([finding(3)], {"Dockerfile": DOCKERFILE})
    assert fingerprints([finding(4)], {"Dockerfile": moved}) == first
    twice = fingerprints([finding(3), finding(3)], {"Dockerfile": DOCKERFILE})
    assert twice[0] == first[0] and twice[1] != first[0]


def test_posted_findings_are_not_reposted_and_gone_ones_are_resolved() -> None:
    kept = finding(3)
    [kept_print] = fingerprints([kept], {"Dockerfile": DOCKERFILE})
    state = BotNotes(
        findings={
            kept_print: PostedFinding("dependency-layer-order", "d1", False, False),
            "0" * 16: PostedFinding("merge-runs", "d2", False, False),
            "1" * 16: PostedFinding("pin-base-image", "d3", False, False),
            "2" * 16: PostedFinding("merge-runs", "d4", True, False),
        },
        draft_findings={"3" * 16: 77},
    )
    plan = plan_comments([kept], context(ignored=frozenset({"pin-base-image"})), state)
    assert plan.inline == ()
    assert [(r.discussion_id, r.body, r.resolve) for r in plan.resolutions] == [
        ("d2", f"{RESOLVED_MARKER}\nFixed in `hhhhhhhhhhhh`.", True),
        ("d3", f"{RESOLVED_MARKER}\nIgnored for this merge request (`pin-base-image`).", True),
    ]
    assert plan.stale_drafts == (77,)


def test_nothing_left_to_report_edits_the_existing_summary_only() -> None:
    empty = plan_comments([], context(), BotNotes())
    assert (empty.inline, empty.resolutions, empty.stale_drafts) == ((), (), ())
    assert summary_after_publish(empty, BotNotes()) is None
    summary = PostedNote(5, 1, "<!-- layerbot:summary -->\nold\n")
    text = summary_after_publish(empty, BotNotes(summary=summary))
    assert text is not None
    assert "Nothing left to report at `hhhhhhhhhhhh`" in text
    assert summary_after_publish(empty, BotNotes(summary=PostedNote(5, 1, text))) is None
    # a summary an older version published as a (resolvable) thread is written anew
    thread = PostedNote(5, 1, text, resolvable=True)
    assert summary_after_publish(empty, BotNotes(summary=thread)) == text


def test_a_finding_back_after_its_fix_reopens_its_thread() -> None:
    kept = finding(3)
    [kept_print] = fingerprints([kept], {"Dockerfile": DOCKERFILE})
    state = BotNotes(
        findings={kept_print: PostedFinding("dependency-layer-order", "d1", True, True)}
    )
    plan = plan_comments([kept], context(), state)
    assert plan.inline == ()
    assert [(r.discussion_id, r.body, r.resolve) for r in plan.resolutions] == [
        ("d1", f"{REOPENED_MARKER}\nReintroduced in `hhhhhhhhhhhh`.", False)
    ]
    assert "`Dockerfile:3` (inline)" in summary_of(plan, state)
    # before the reopening is published, the summary does not call it inline
    assert "(inline)" not in (summary_after_publish(plan, state) or "")


def test_the_summary_says_inline_only_for_threads_gitlab_published() -> None:
    plan = plan_comments([finding(3), finding(4, message="other")], context(), BotNotes())
    dropped = frozenset({plan.inline[1].fingerprint})
    text = summary_after_publish(plan, published(plan, dropped=dropped))
    assert text is not None
    assert "2 findings in 1 file at `hhhhhhhhhhhh`; 1 of them commented inline" in text
    assert "GitLab did not publish the inline comment of 1 of them" in text
    assert "| `Dockerfile:3` (inline) |" in text
    assert "| `Dockerfile:4` (not placed inline) |" in text


def test_info_findings_stay_in_the_summary_unless_asked_inline() -> None:
    advice = finding(4, rule="merge-runs", message="merge", severity=Severity.INFO)
    plan = plan_comments([finding(3), advice], context(), BotNotes())
    assert [c.finding.rule for c in plan.inline] == ["dependency-layer-order"]
    assert "| `Dockerfile:4` |" in summary_of(plan)
    asked = plan_comments([finding(3), advice], context(inline_info=True), BotNotes())
    assert [c.finding.rule for c in asked.inline] == ["dependency-layer-order", "merge-runs"]


def test_bot_state_reads_only_the_bots_own_markers() -> None:
    marker = "<!-- layerbot:finding merge-runs 0123456789abcdef -->\nbody"
    forged_state = "<!-- layerbot:summary -->\ntext\n" + state_marker(["merge-runs"])
    discussions = [
        Discussion("d1", (PostedNote(1, 99, marker, resolvable=True),)),  # someone else
        Discussion(
            "d2",
            (
                PostedNote(2, 7, marker, resolvable=True, resolved=True),
                PostedNote(3, 7, f"{RESOLVED_MARKER}\nFixed in x."),
            ),
        ),
        Discussion("d3", (PostedNote(4, 99, forged_state),)),
        Discussion("d4", (PostedNote(5, 7, "<!-- layerbot:summary -->\nmine\n"),)),
        Discussion(
            "d5",
            (
                PostedNote(6, 7, marker.replace("0123", "4567"), resolvable=True),
                PostedNote(7, 7, f"{RESOLVED_MARKER}\nFixed in x."),
                PostedNote(9, 7, f"{REOPENED_MARKER}\nReintroduced in y."),
            ),
        ),
    ]
    drafts = [DraftNote(8, "<!-- layerbot:finding merge-runs fedcba9876543210 -->\n")]
    state = read_bot_notes(discussions, drafts, bot_id=7)
    assert state.findings == {
        "0123456789abcdef": PostedFinding("merge-runs", "d2", True, True),
        "4567456789abcdef": PostedFinding("merge-runs", "d5", False, False),
    }
    assert state.summary is not None and state.summary.id == 5
    assert state.ignored == frozenset()
    assert state.draft_findings == {"fedcba9876543210": 8}


def test_markers_are_read_from_the_first_and_last_lines_only() -> None:
    body = "text\n<!-- layerbot:finding merge-runs 0123456789abcdef -->\n"
    assert parse_finding_marker(body) is None
    inner = state_marker(["merge-runs"]) + "\nmore"
    assert parse_ignored("<!-- layerbot:summary -->\n" + inner) == frozenset()
    assert parse_ignored('x\n<!-- layerbot:state {"ignored": ["Bad Name", 3]} -->') == set()


def test_new_inline_threads_are_capped_and_the_rest_stay_in_the_summary() -> None:
    count = MAX_NEW_INLINE + 5
    source = "FROM golang:1.22\n" + "".join(f"RUN echo {n}\n" for n in range(count))
    diff_lines = "".join(f"+RUN echo {n}\n" for n in range(count))
    diff = FileDiff(
        "Dockerfile", "Dockerfile", f"@@ -1,1 +1,{count + 1} @@\n FROM golang:1.22\n{diff_lines}"
    )
    ctx = context({"Dockerfile": source}, diffs=[diff])
    findings = [finding(line, message=f"step {line}") for line in range(2, count + 2)]
    plan = plan_comments(findings, ctx, BotNotes())
    assert len(plan.inline) == MAX_NEW_INLINE
    summary = summary_of(plan)
    assert summary.count("(inline)") == MAX_NEW_INLINE
    assert f"{count} findings in 1 file" in summary
