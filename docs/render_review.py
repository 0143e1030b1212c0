"""Render the bot's review of the example merge request: README Markdown, HTML and a PNG.

The merge request adds a container build (the Dockerfile and .gitlab-ci.yml of
``examples/go-service``, the design article's naive Go service) to a Go project. The comments
are the bot's actual output: the worker's own pure planner (``workers.review.plan_review``) runs
on the example files, exactly as it does on a fetched merge request, and the summary is written
as the worker writes it once GitLab has published every inline comment. The target branch's
last ``build`` job is the BuildKit log ``tests/build_logs/buildkit-go-service.log`` (the trace
the end-to-end tests serve), finished two days before the review, so the comments show what the
flagged steps took, as the worker says it from a real job log. This script then

- writes the Markdown of every comment into README.md (between the ``review`` markers),
- renders the comments the way GitLab lays out a merge request's diff discussions (HTML), and
- screenshots that page with headless Chromium (Debian's ``chromium`` package) into
  ``docs/review.png``.

Usage: ``python docs/render_review.py`` (everything), ``--check`` (exit 1 when README.md's block
differs from what the bot would post now), ``--html PATH`` / ``--png PATH`` to write elsewhere.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "go-service"
CHANGED = ("Dockerfile", ".gitlab-ci.yml")
BOT = "layerbot"
PROJECT = "acme/go-service"
PUBLIC_URL = "https://layerbot.example.com"
"""The example instance's PUBLIC_URL: rule names link its own `/rules/NAME` pages."""
# Stand-ins for the merge request's diff_refs: fixed, so the output is reproducible.
BASE_SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
HEAD_SHA = "9f3c1e7a2b8d4c6e0f1a3b5c7d9e1f2a4b6c8d0e"
BUILD_LOG = ROOT / "tests" / "build_logs" / "buildkit-go-service.log"
REVIEWED_AT = "2026-03-12T09:30:00+00:00"
BUILD_FINISHED_AT = "2026-03-10T08:55:00+00:00"
BUILD_JOB_URL = "https://gitlab.example.com/acme/go-service/-/jobs/7123"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
PAGE_WIDTH = 1000
MAX_PAGE_HEIGHT = 6000


@dataclass(frozen=True)
class Comment:
    path: str
    line: int
    body: str


@dataclass(frozen=True)
class Review:
    sources: dict[str, str]
    inline: list[Comment]
    summary: str


def _added_file_diff(path: str, text: str) -> str:
    lines = text.splitlines()
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}\n" for line in lines)


def plan_example_review() -> Review:
    """The bot's comments on the example MR, from the worker's own planner."""
    from datetime import datetime

    from layerbot.analysis.build_logs import parse_build_log
    from layerbot.analysis.config import CONFIG_FILE, parse_config
    from layerbot.analysis.model import RepoView
    from layerbot.settings import Settings
    from workers.comments import BotNotes, published_as_planned, summary_after_publish
    from workers.fetch import ReviewInput
    from workers.mr_model import DiffRefs, FileDiff, JobRun, MeasuredJob
    from workers.review import plan_review

    files = {
        path.relative_to(EXAMPLE).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(EXAMPLE.rglob("*"))
        if path.is_file()
    }
    diffs = [
        FileDiff(path, path, _added_file_diff(path, files[path]), new_file=True) for path in CHANGED
    ]
    repo = RepoView.from_files(files)
    fetched = ReviewInput(
        diffs=diffs,
        files={path: files[path].encode() for path in CHANGED},
        repo=repo,
        config=parse_config(repo.read(CONFIG_FILE)),
    )
    refs = DiffRefs(BASE_SHA, BASE_SHA, HEAD_SHA)
    build = MeasuredJob(
        JobRun(7123, "build", 1842, "main", BUILD_FINISHED_AT, BUILD_JOB_URL),
        tuple(parse_build_log(BUILD_LOG.read_text(encoding="utf-8"))),
    )
    plan = plan_review(
        fetched,
        BotNotes(),
        refs,
        BOT,
        Settings(public_url=PUBLIC_URL).rule_docs_url,
        measured={"Dockerfile": (build,)},
        now=datetime.fromisoformat(REVIEWED_AT),
    )
    inline = [
        Comment(str(c.position["new_path"]), int(str(c.position["new_line"])), c.body)
        for c in plan.inline
    ]
    summary = summary_after_publish(plan, published_as_planned(plan, BotNotes()))
    return Review({path: files[path] for path in CHANGED}, inline, summary or "")


def review_markdown(review: Review) -> str:
    """The README block: each comment's Markdown source, as posted, under where it goes."""
    from workers.comments import fence_for

    parts = []
    for comment in review.inline:
        fence = fence_for(comment.body)
        parts.append(
            f"Inline on `{comment.path}` line {comment.line}:\n\n"
            f"{fence}markdown\n{comment.body.rstrip()}\n{fence}"
        )
    fence = fence_for(review.summary)
    parts.append(f"The summary note:\n\n{fence}markdown\n{review.summary.rstrip()}\n{fence}")
    return "\n\n".join(parts)


# --- HTML -----------------------------------------------------------------------------------

_SUGGESTION = re.compile(
    r"^(?P<fence>`{3,})suggestion:-(?P<above>\d+)\+(?P<below>\d+)\n(?P<body>.*?)^(?P=fence)$",
    re.MULTILINE | re.DOTALL,
)

CSS = """
body { font: 14px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #28272d;
       background: #fff; margin: 0; padding: 16px; width: %(width)dpx; }
h1 { font-size: 18px; margin: 0 0 4px; } .sub { color: #737278; margin-bottom: 16px; }
.file { border: 1px solid #dcdcde; border-radius: 4px; margin-bottom: 16px; }
.file-head { background: #fbfafd; border-bottom: 1px solid #dcdcde; padding: 8px 12px;
             font-weight: 600; font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
table.diff { border-collapse: collapse; width: 100%%;
             font: 12px/1.6 "DejaVu Sans Mono", monospace; }
table.diff { table-layout: fixed; }
table.diff td { padding: 0 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
td.num { color: #89888d; text-align: right; width: 28px; user-select: none; }
tr.add td { background: #ecfdf0; } tr.add td.num { background: #d7f8de; }
tr.note-row td { padding: 8px 12px; background: #fbfafd; white-space: normal;
                 border-top: 1px solid #dcdcde; border-bottom: 1px solid #dcdcde; }
.note { background: #fff; border: 1px solid #dcdcde; border-radius: 4px; padding: 8px 12px;
        font: 14px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
.author { font-weight: 600; } .author span { color: #737278; font-weight: 400; }
.note p { margin: 6px 0; } .note code { background: #ececef; border-radius: 3px; padding: 1px 4px;
        font-size: 12px; }
.note pre { background: #fbfafd; border: 1px solid #dcdcde; padding: 8px; overflow: hidden;
        font-size: 12px; }
.note pre code { background: none; padding: 0; }
.suggestion { border: 1px solid #dcdcde; border-radius: 4px; margin: 8px 0; }
.suggestion-head { display: flex; justify-content: space-between; align-items: center;
        background: #fbfafd; border-bottom: 1px solid #dcdcde; padding: 4px 8px; font-size: 13px; }
.suggestion-head button { background: #1f75cb; color: #fff; border: 0; border-radius: 4px;
        padding: 4px 10px; font-size: 13px; }
.suggestion .old { background: #fbe9eb; } .suggestion .new { background: #ecfdf0; }
.suggestion div.line { font: 12px/1.6 "DejaVu Sans Mono", monospace; white-space: pre-wrap;
        overflow-wrap: anywhere; padding: 0 8px; }
.note table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
.note th, .note td { border: 1px solid #dcdcde; padding: 4px 8px; text-align: left;
        white-space: normal; vertical-align: top; }
.summary { margin-top: 8px; }
details summary { color: #1f75cb; cursor: pointer; }
a { color: #1f75cb; text-decoration: none; }
"""


def _suggestion_html(text: str, anchor: int, match: re.Match[str]) -> str:
    lines = text.splitlines()
    start = anchor - int(match.group("above"))
    end = anchor + int(match.group("below"))
    old = lines[start - 1 : end]
    new = match.group("body").splitlines()
    rows = [f'<div class="line old">-{html.escape(line)}</div>' for line in old]
    rows += [f'<div class="line new">+{html.escape(line)}</div>' for line in new]
    return (
        '<div class="suggestion"><div class="suggestion-head"><span>Suggested change</span>'
        f"<button>Apply suggestion</button></div>{''.join(rows)}</div>"
    )


def note_html(body: str, text: str = "", anchor: int = 0) -> str:
    """A note as GitLab shows it: Markdown rendered, suggestions as 'Suggested change' boxes."""
    import markdown

    blocks: list[str] = []

    def stash(match: re.Match[str]) -> str:
        blocks.append(_suggestion_html(text, anchor, match))
        return f"\n\nSUGGESTIONBLOCK{len(blocks) - 1}\n\n"

    rendered = markdown.markdown(
        _SUGGESTION.sub(stash, body), extensions=["fenced_code", "tables"], output_format="html"
    )
    for index, block in enumerate(blocks):
        rendered = rendered.replace(f"<p>SUGGESTIONBLOCK{index}</p>", block)
    return (
        f'<div class="note"><div class="author">{BOT} <span>@{BOT} · just now</span></div>'
        f"{rendered}</div>"
    )


def review_html(review: Review) -> str:
    files = []
    for path, text in review.sources.items():
        notes: dict[int, list[Comment]] = {}
        for comment in review.inline:
            if comment.path == path:
                notes.setdefault(comment.line, []).append(comment)
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            rows.append(
                f'<tr class="add"><td class="num"></td><td class="num">{number}</td>'
                f"<td>+ {html.escape(line)}</td></tr>"
            )
            for comment in notes.get(number, []):
                rows.append(
                    f'<tr class="note-row"><td colspan="3">'
                    f"{note_html(comment.body, text, number)}</td></tr>"
                )
        files.append(
            f'<div class="file"><div class="file-head">{html.escape(path)}</div>'
            f'<table class="diff">{"".join(rows)}</table></div>'
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS % {'width': PAGE_WIDTH}}"
        f"</style></head><body><h1>Add a container build</h1>"
        f'<div class="sub">{PROJECT} · merge request !1 · Changes</div>{"".join(files)}'
        f'<div class="summary">{note_html(review.summary)}</div></body></html>'
    )


# --- screenshot -----------------------------------------------------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path, browser: str) -> None:
    """Screenshot ``page`` with headless Chromium, then trim the blank space below it."""
    from PIL import Image, ImageChops

    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={PAGE_WIDTH + 32},{MAX_PAGE_HEIGHT}",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    with Image.open(png) as image:
        rgb = image.convert("RGB")
    background = Image.new("RGB", rgb.size, (255, 255, 255))
    box = ImageChops.difference(rgb, background).getbbox()
    if box is not None:
        rgb = rgb.crop((0, 0, rgb.width, min(rgb.height, box[3] + 16)))
    rgb.save(png, optimize=True)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from layerbot.docs import replace_between

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare README.md's block")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--html", type=Path, default=None, help="also keep the HTML here")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "review.png")
    args = parser.parse_args(argv)

    review = plan_example_review()
    readme = args.readme.read_text(encoding="utf-8")
    updated = replace_between(readme, "review", review_markdown(review))
    if args.check:
        if updated != readme:
            print(f"{args.readme}: the example review differs; run docs/render_review.py")
            return 1
        return 0
    if updated != readme:
        args.readme.write_text(updated, encoding="utf-8")
        print(f"wrote {args.readme}")
    browser = chromium()
    if browser is None:
        print("chromium not found (apt-get install -y chromium); no picture", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        page = args.html or Path(folder) / "review.html"
        page.write_text(review_html(review), encoding="utf-8")
        screenshot(page, args.png, browser)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
