"""Expectations for the worker tests, computed from the analysis engine, never hard-coded:
rules change, and the bot must post whatever the engine finds."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from layerbot.analysis.engine import analyse
from layerbot.analysis.fixes import as_replacement
from layerbot.analysis.model import Finding, RepoView, Safety, Severity

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "go-service"
MARKER = re.compile(r"<!-- layerbot:finding (\S+) ([0-9a-f]{16}) -->")


def example_files() -> dict[str, str]:
    """The design article's naive Go project, plus a README the MR leaves alone."""
    files = {path.name: path.read_text() for path in EXAMPLE.iterdir() if path.is_file()}
    return {"README.md": "hello\n", **files}


def findings_for(files: Mapping[str, str]) -> list[Finding]:
    return analyse(dict(files), RepoView.from_files(dict(files))).findings


def inline_findings(findings: Iterable[Finding]) -> list[Finding]:
    """The findings the bot comments inline by default: all but ``info`` advice, which stays
    in the summary table (issue 11, section 8)."""
    return [item for item in findings if item.severity is not Severity.INFO]


def finding(findings: Iterable[Finding], rule: str) -> Finding:
    return next(item for item in findings if item.rule == rule)


def suggestion_block(item: Finding, text: str) -> str:
    """The GitLab suggestion a safe fix becomes when its first line is on an added line."""
    assert item.fix is not None and item.fix.safety is Safety.SAFE
    replacement = as_replacement(text, item.fix)
    assert replacement is not None
    anchor = max(item.line, replacement.start_line)
    body = "".join(f"{line}\n" for line in replacement.lines)
    above, below = anchor - replacement.start_line, replacement.end_line - anchor
    return f"```suggestion:-{above}+{below}\n{body}```"


def markers(notes: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(rule, fingerprint) of every inline finding note."""
    found = []
    for note in notes:
        match = MARKER.match(note["body"])
        if match:
            found.append((match.group(1), match.group(2)))
    return found
