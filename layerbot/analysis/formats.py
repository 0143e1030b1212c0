"""Report formats for ``layerbot check``: text, json, GitLab Code Quality and SARIF 2.1.0.

Every renderer takes the analysis result and the analysed sources (path to text), because
fix diffs, SARIF replacements and fingerprints are all computed against the original text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache

from layerbot.analysis.fixes import as_replacement, fix_diff, source_lines
from layerbot.analysis.model import AnalysisResult, Edit, Finding, Fix, Severity
from layerbot.analysis.record import Record
from layerbot.analysis.rules import DOCS_URL, all_rules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

TOOL_NAME = "layerbot"
TOOL_URI = "https://gitlab.com/layerbot/layerbot"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


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
    """One JSON object, a finding (or note) per line.

    ``json.dumps`` with ``indent`` runs the pure-Python encoder, several times slower than the
    C one that only compact output uses: each entry is encoded compactly, the layout around
    them is written here.
    """
    findings = [json.dumps(finding_json(f, sources)) for f in result.findings]
    notes = [json.dumps({"path": n.path, "message": n.message}) for n in result.notes]
    return (
        f'{{\n  "files": {result.files},\n'
        f'  "findings": {_json_lines(findings)},\n'
        f'  "notes": {_json_lines(notes)}\n}}'
    )


def _json_lines(entries: list[str]) -> str:
    """A JSON array of already encoded entries, one per line."""
    if not entries:
        return "[]"
    return "[\n    " + ",\n    ".join(entries) + "\n  ]"


# --- fingerprints -------------------------------------------------------------------------


def _normalised_span(finding: Finding, sources: Mapping[str, str]) -> str:
    """The finding's lines with whitespace collapsed, so re-indenting keeps the fingerprint."""
    lines = source_lines(sources.get(finding.path, ""))
    span = lines[finding.line - 1 : finding.end_line]
    return "\n".join(" ".join(line.split()) for line in span)


def fingerprints(findings: Sequence[Finding], sources: Mapping[str, str]) -> list[str]:
    """A stable id per finding: rule, path and the normalised text of its lines.

    Line numbers stay out of it, so a finding keeps its fingerprint when lines are added
    above it; two findings of one rule on identical text are told apart by their order.
    """
    import hashlib  # only the Code Quality and SARIF formats fingerprint

    seen: dict[str, int] = {}
    result = []
    for finding in findings:
        key = "\0".join((finding.rule, finding.path, _normalised_span(finding, sources)))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        result.append(hashlib.sha256(f"{key}\0{occurrence}".encode()).hexdigest())
    return result


# --- GitLab Code Quality ------------------------------------------------------------------


def render_gitlab(result: AnalysisResult, sources: Mapping[str, str]) -> str:
    """GitLab's Code Quality report: a JSON array of CodeClimate issues.

    GitLab reads ``description``, ``check_name``, ``fingerprint``, ``severity``,
    ``location.path`` and ``location.lines.begin``; ``lines.end`` follows the CodeClimate spec.
    Our severities are already GitLab's scale.
    """
    issues = [
        {
            "type": "issue",
            "description": finding.message,
            "check_name": finding.rule,
            "categories": ["Performance"],
            "fingerprint": fingerprint,
            "severity": finding.severity.value,
            "location": {
                "path": finding.path,
                "lines": {"begin": finding.line, "end": finding.end_line},
            },
        }
        for finding, fingerprint in zip(
            result.findings, fingerprints(result.findings, sources), strict=True
        )
    ]
    return json.dumps(issues, indent=2)


# --- SARIF 2.1.0 --------------------------------------------------------------------------

_SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.MAJOR: "error",
    Severity.MINOR: "warning",
    Severity.INFO: "note",
}


@lru_cache(maxsize=16)
def _line_offsets(text: str) -> tuple[int, ...]:
    """Character offset where each line starts, plus one past the end of the text (worked out
    once per file, not once per replacement)."""
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return tuple(offsets)


def _replacement(text: str, edit: Edit) -> dict[str, object]:
    """One SARIF replacement: whole lines as a character range of the original text."""
    offsets = _line_offsets(text)
    last = len(offsets) - 1
    start = offsets[min(edit.start_line - 1, last)]
    end = start if edit.is_insertion else offsets[min(edit.end_line, last)]
    inserted = "".join(line + "\n" for line in edit.new_lines)
    if inserted and end == len(text) and text and not text.endswith("\n"):
        # The file's last line has no newline: keep it that way after the edit.
        inserted = "\n" + inserted[:-1] if edit.is_insertion else inserted[:-1]
    return {
        "deletedRegion": {"charOffset": start, "charLength": end - start},
        "insertedContent": {"text": inserted},
    }


def _sarif_fix(finding: Finding, fix: Fix, sources: Mapping[str, str]) -> dict[str, object]:
    original = "" if fix.creates_file else sources.get(finding.path, "")
    return {
        "description": {"text": f"{fix.description} ({fix.safety.value})"},
        "artifactChanges": [
            {
                "artifactLocation": {"uri": fix.path or finding.path, "uriBaseId": "SRCROOT"},
                "replacements": [_replacement(original, edit) for edit in fix.edits],
            }
        ],
    }


class _RuleInfo(Record):
    __slots__ = ("doc", "name", "severity", "summary")

    def __init__(self, name: str, summary: str, doc: str, severity: Severity) -> None:
        self.name: Final = name
        self.summary: Final = summary
        self.doc: Final = doc
        self.severity: Final = severity


def _rule_infos(findings: Sequence[Finding]) -> list[_RuleInfo]:
    """Every registered rule, plus pseudo-rules (``invalid-file``) the findings use."""
    infos = [
        _RuleInfo(rule.name, rule.summary, rule.doc.strip(), rule.severity)
        for rule in all_rules().values()
    ]
    known = {info.name for info in infos}
    for finding in findings:
        if finding.rule not in known:
            known.add(finding.rule)
            infos.append(_RuleInfo(finding.rule, finding.rule, "", finding.severity))
    return infos


def _sarif_rule(info: _RuleInfo, docs_url: str) -> dict[str, object]:
    rule: dict[str, object] = {
        "id": info.name,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "defaultConfiguration": {"level": _SARIF_LEVEL[info.severity]},
        "properties": {"severity": info.severity.value},
    }
    if info.doc:
        rule["helpUri"] = docs_url.format(name=info.name)
        rule["help"] = {"text": info.doc, "markdown": info.doc}
    return rule


def _sarif_results(
    findings: Sequence[Finding], sources: Mapping[str, str], rule_index: Mapping[str, int]
) -> Iterator[dict[str, object]]:
    for finding, fingerprint in zip(findings, fingerprints(findings, sources), strict=True):
        message = finding.message + (f" Impact: {finding.impact}" if finding.impact else "")
        result: dict[str, object] = {
            "ruleId": finding.rule,
            "ruleIndex": rule_index[finding.rule],
            "level": _SARIF_LEVEL[finding.severity],
            "message": {"text": message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": finding.path, "uriBaseId": "SRCROOT"},
                        "region": {"startLine": finding.line, "endLine": finding.end_line},
                    }
                }
            ],
            "partialFingerprints": {"layerbot/v1": fingerprint},
            "properties": {"severity": finding.severity.value},
        }
        if finding.fix is not None:
            result["fixes"] = [_sarif_fix(finding, finding.fix, sources)]
        yield result


def render_sarif(
    result: AnalysisResult,
    sources: Mapping[str, str],
    *,
    version: str = "0",
    docs_url: str = DOCS_URL,
) -> str:
    """A SARIF 2.1.0 log with one run: every rule in ``tool.driver.rules``, one result each."""
    infos = _rule_infos(result.findings)
    rule_index = {info.name: index for index, info in enumerate(infos)}
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "informationUri": TOOL_URI,
                "version": version,
                "rules": [_sarif_rule(info, docs_url) for info in infos],
            }
        },
        "originalUriBaseIds": {"SRCROOT": {"description": {"text": "The repository root"}}},
        "results": list(_sarif_results(result.findings, sources, rule_index)),
    }
    if result.notes:
        run["invocations"] = [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {
                        "level": "note",
                        "message": {"text": note.message},
                        "locations": [
                            {"physicalLocation": {"artifactLocation": {"uri": note.path}}}
                        ],
                    }
                    for note in result.notes
                ],
            }
        ]
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2)


# --- text ---------------------------------------------------------------------------------

_RESET = "\033[0m"
_STYLES = {
    "path": "\033[1m",
    "rule": "\033[35m",
    "dim": "\033[2m",
    Severity.CRITICAL.value: "\033[1;31m",
    Severity.MAJOR.value: "\033[31m",
    Severity.MINOR.value: "\033[33m",
    Severity.INFO.value: "\033[36m",
    "+": "\033[32m",
    "-": "\033[31m",
    "@": "\033[36m",
}


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, style: str, text: str) -> str:
        code = _STYLES.get(style)
        return f"{code}{text}{_RESET}" if self.color and code else text

    def diff_line(self, line: str) -> str:
        if line.startswith(("+++", "---", "diff ")):
            return self("path", line)
        return self(line[:1], line)


def _span(finding: Finding) -> str:
    if finding.line == finding.end_line:
        return str(finding.line)
    return f"{finding.line}-{finding.end_line}"


def _grouped(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.path, []).append(finding)
    return groups


def render_text(
    result: AnalysisResult, sources: Mapping[str, str], show_diff: bool, color: bool = False
) -> str:
    """Findings grouped by file; ANSI colours only when ``color`` (a TTY without NO_COLOR)."""
    paint = _Painter(color)
    out: list[str] = []
    for path, findings in _grouped(result.findings).items():
        out.append(paint("path", path))
        for finding in findings:
            severity = finding.severity.value
            out.append(
                f"  {_span(finding)}: {paint(severity, severity)} "
                f"{paint('rule', '[' + finding.rule + ']')} {finding.message}"
            )
            if finding.impact:
                out.append(paint("dim", f"      impact: {finding.impact}"))
            if finding.fix is not None:
                out.append(f"      fix ({finding.fix.safety.value}): {finding.fix.description}")
                if show_diff:
                    diff = fix_diff(finding.path, sources.get(finding.path, ""), finding.fix)
                    out.extend("        " + paint.diff_line(line) for line in diff.splitlines())
        out.append("")
    out.extend(f"note: {note.path}: {note.message}" for note in result.notes)
    count = len(result.findings)
    out.append(f"{count} finding{'s' if count != 1 else ''} in {result.files} file(s)")
    return "\n".join(out)
