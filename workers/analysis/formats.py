"""Report formats for ``layerbot check``: text, json (GitLab Code Quality and SARIF to come)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from workers.analysis.fixes import as_replacement, fix_diff
from workers.analysis.model import AnalysisResult, Finding


def finding_json(finding: Finding, sources: Mapping[str, str]) -> dict[str, object]:
    fix = None
    if finding.fix is not None:
        text = sources.get(finding.path, "")
        replacement = as_replacement(text, finding.fix)
        fix = {
            "description": finding.fix.description,
            "safety": finding.fix.safety.value,
            "diff": fix_diff(finding.path, text, finding.fix),
            "start_line": replacement.start_line if replacement else None,
            "end_line": replacement.end_line if replacement else None,
            "replacement": list(replacement.lines) if replacement else None,
        }
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "path": finding.path,
        "line": finding.line,
        "end_line": finding.end_line,
        "message": finding.message,
        "impact": finding.impact,
        "fix": fix,
    }


def render_json(result: AnalysisResult, sources: Mapping[str, str]) -> str:
    return json.dumps(
        {
            "files": result.files,
            "findings": [finding_json(f, sources) for f in result.findings],
            "notes": [{"path": n.path, "message": n.message} for n in result.notes],
        },
        indent=2,
    )


def render_text(result: AnalysisResult, sources: Mapping[str, str], show_diff: bool) -> str:
    out: list[str] = []
    current = None
    for finding in result.findings:
        if finding.path != current:
            current = finding.path
            out.append(f"\n{finding.path}")
        span = (
            f"{finding.line}"
            if finding.line == finding.end_line
            else f"{finding.line}-{finding.end_line}"
        )
        out.append(f"  {span}: {finding.severity.value} [{finding.rule}] {finding.message}")
        if finding.impact:
            out.append(f"      impact: {finding.impact}")
        if finding.fix is not None:
            out.append(f"      fix ({finding.fix.safety.value}): {finding.fix.description}")
            if show_diff:
                diff = fix_diff(finding.path, sources.get(finding.path, ""), finding.fix)
                out.extend("        " + line for line in diff.splitlines())
    for note in result.notes:
        out.append(f"  note: {note.path}: {note.message}")
    count = len(result.findings)
    out.append(f"\n{count} finding{'s' if count != 1 else ''} in {result.files} file(s)")
    return "\n".join(out).lstrip("\n")
