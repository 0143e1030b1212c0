"""Report formats: structure of GitLab Code Quality and SARIF 2.1.0, fingerprints, text output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from layerbot.analysis import formats
from layerbot.analysis.engine import analyse_file
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import AnalysisResult, Edit, Finding, Fix, RepoView, Safety, Severity
from layerbot.analysis.rules import all_rules

ROOT = Path(__file__).resolve().parents[1]

# --- JSON schemas of the two formats (the fields GitLab and SARIF 2.1.0 require) ----------


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]


SEVERITIES = ["info", "minor", "major", "critical", "blocker"]
CODE_QUALITY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string"},
            "check_name": {"type": "string"},
            "fingerprint": {"type": "string"},
            "severity": {"enum": SEVERITIES},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string"},
                    "lines": {
                        "type": "object",
                        "required": ["begin"],
                        "properties": {
                            "begin": {"type": "integer", "minimum": 1},
                            "end": {"type": "integer", "minimum": 1},
                        },
                    },
                },
            },
        },
    },
}

_REGION = {
    "type": "object",
    "properties": {
        "startLine": {"type": "integer", "minimum": 1},
        "endLine": {"type": "integer", "minimum": 1},
        "charOffset": {"type": "integer", "minimum": 0},
        "charLength": {"type": "integer", "minimum": 0},
    },
}
_MESSAGE = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
_ARTIFACT = {"type": "object", "required": ["uri"], "properties": {"uri": {"type": "string"}}}
SARIF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "$schema", "runs"],
    "properties": {
        "version": {"enum": ["2.1.0"]},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "shortDescription"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": _MESSAGE,
                                                "helpUri": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ruleId", "message", "locations", "level"],
                            "properties": {
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": _MESSAGE,
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "artifactLocation": _ARTIFACT,
                                                    "region": _REGION,
                                                },
                                            }
                                        },
                                    },
                                },
                                "fixes": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["artifactChanges"],
                                        "properties": {
                                            "description": _MESSAGE,
                                            "artifactChanges": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": [
                                                        "artifactLocation",
                                                        "replacements",
                                                    ],
                                                    "properties": {
                                                        "artifactLocation": _ARTIFACT,
                                                        "replacements": {
                                                            "type": "array",
                                                            "items": {
                                                                "type": "object",
                                                                "required": ["deletedRegion"],
                                                                "properties": {
                                                                    "deletedRegion": _REGION,
                                                                },
                                                            },
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


# --- inputs: the real engine on the example, and hand-made fixes for the edge cases ---------

NAIVE = "FROM golang:latest\nWORKDIR /app\nCOPY . .\nRUN go mod download\nRUN go build -o main .\n"
FILES = {"Dockerfile": NAIVE, "go.mod": "module example.com/app\n\ngo 1.22\n", "go.sum": ""}


def analysed(files: dict[str, str] = FILES) -> tuple[AnalysisResult, dict[str, str]]:
    repo = RepoView.from_files(files)
    report = analyse_file("Dockerfile", files["Dockerfile"], repo)
    return AnalysisResult(report.findings, report.notes, 1), {"Dockerfile": files["Dockerfile"]}


def finding(line: int, fix: Fix | None = None, rule: str = "pin-base-image") -> Finding:
    return Finding(rule, Severity.MAJOR, "Dockerfile", line, line, "message", "impact", fix)


def edge_case_fixes() -> list[tuple[str, Fix]]:
    """Replacement, insertion, deletion, end of file without newline, multi-edit, new file."""
    return [
        ("A\nB\nC\n", Fix("replace", Safety.SAFE, (Edit(2, 2, ("X", "Y")),))),
        ("A\nB\nC\n", Fix("insert", Safety.SAFE, (Edit(2, 1, ("X",)),))),
        ("A\nB\nC\n", Fix("append", Safety.SAFE, (Edit(4, 3, ("X",)),))),
        ("A\nB\nC\n", Fix("delete", Safety.SAFE, (Edit(1, 2, ()),))),
        ("A\nB\nC", Fix("last, no newline", Safety.SAFE, (Edit(3, 3, ("X",)),))),
        ("A\nB\nC", Fix("append, no newline", Safety.SAFE, (Edit(4, 3, ("X",)),))),
        ("A\nB\nC\nD\n", Fix("two", Safety.REVIEW, (Edit(1, 1, ("X",)), Edit(4, 4, ("Y",))))),
        ("A\n", Fix("new file", Safety.SAFE, (Edit(1, 0, ("x", "y")),), ".dockerignore", True)),
    ]


def apply_sarif_replacements(text: str, replacements: list[dict[str, Any]]) -> str:
    """Apply SARIF character-range replacements the way a SARIF consumer would."""
    for replacement in sorted(
        replacements, key=lambda r: r["deletedRegion"]["charOffset"], reverse=True
    ):
        region = replacement["deletedRegion"]
        start, length = region["charOffset"], region["charLength"]
        text = text[:start] + replacement["insertedContent"]["text"] + text[start + length :]
    return text


# --- GitLab Code Quality --------------------------------------------------------------------


def test_schemas_reject_broken_reports() -> None:
    result, sources = analysed()
    issues = json.loads(formats.render_gitlab(result, sources))
    del issues[0]["fingerprint"]
    assert schema_errors(issues, CODE_QUALITY_SCHEMA)
    log = json.loads(formats.render_sarif(result, sources))
    log["version"] = "2.0.0"
    del log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert len(schema_errors(log, SARIF_SCHEMA)) == 2


def test_gitlab_report_matches_the_code_quality_format() -> None:
    result, sources = analysed()
    issues = json.loads(formats.render_gitlab(result, sources))
    assert schema_errors(issues, CODE_QUALITY_SCHEMA) == []
    assert len(issues) == len(result.findings) >= 1
    for issue, found in zip(issues, result.findings, strict=True):
        assert issue["check_name"] == found.rule
        assert issue["severity"] == found.severity.value
        assert issue["location"] == {
            "path": found.path,
            "lines": {"begin": found.line, "end": found.end_line},
        }
        assert issue["description"] == found.message
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)


def test_fingerprint_survives_lines_added_above_but_not_a_changed_line() -> None:
    before = {"Dockerfile": "FROM golang:latest\n"}
    shifted = {"Dockerfile": "# syntax=docker/dockerfile:1\n\n\nFROM   golang:latest\n"}
    changed = {"Dockerfile": "FROM golang\n"}
    prints = [
        formats.fingerprints([finding(line)], source)
        for line, source in ((1, before), (4, shifted), (1, changed))
    ]
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]


def test_identical_findings_on_identical_lines_get_distinct_fingerprints() -> None:
    sources = {"Dockerfile": "FROM golang:latest\nFROM golang:latest\n"}
    first, second = formats.fingerprints([finding(1), finding(2)], sources)
    assert first != second
    other_rule = formats.fingerprints([finding(1, rule="merge-runs")], sources)[0]
    assert other_rule != first


# --- SARIF ----------------------------------------------------------------------------------


def test_sarif_log_has_the_required_structure_and_a_rule_per_registered_rule() -> None:
    result, sources = analysed()
    log = json.loads(formats.render_sarif(result, sources, version="1.2.3"))
    assert schema_errors(log, SARIF_SCHEMA) == []
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["version"] == "1.2.3"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert set(all_rules()) <= set(rule_ids)
    for rule in driver["rules"]:
        assert rule["helpUri"].endswith(f"/docs/rules/{rule['id']}.md")
    results = log["runs"][0]["results"]
    assert len(results) == len(result.findings) >= 1
    for entry, found in zip(results, result.findings, strict=True):
        assert rule_ids[entry["ruleIndex"]] == entry["ruleId"] == found.rule
        region = entry["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["endLine"]) == (found.line, found.end_line)
        assert ("fixes" in entry) == (found.fix is not None)


def test_sarif_help_uri_follows_the_configured_docs_url() -> None:
    result, sources = analysed()
    log = json.loads(formats.render_sarif(result, sources, docs_url="https://docs.example/{name}"))
    uris = {rule["helpUri"] for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert uris == {f"https://docs.example/{name}" for name in all_rules()}


@pytest.mark.parametrize(
    ("text", "fix"), edge_case_fixes(), ids=lambda v: getattr(v, "description", "")
)
def test_sarif_replacements_produce_exactly_the_fixed_file(text: str, fix: Fix) -> None:
    result = AnalysisResult([finding(1, fix)], [], 1)
    log = json.loads(formats.render_sarif(result, {"Dockerfile": text}))
    change = log["runs"][0]["results"][0]["fixes"][0]["artifactChanges"][0]
    assert change["artifactLocation"]["uri"] == (fix.path or "Dockerfile")
    original = "" if fix.creates_file else text
    assert apply_sarif_replacements(original, change["replacements"]) == apply_fix(text, fix)


def test_sarif_fixes_from_the_engine_apply_to_the_analysed_file() -> None:
    result, sources = analysed()
    log = json.loads(formats.render_sarif(result, sources))
    checked = 0
    for entry, found in zip(log["runs"][0]["results"], result.findings, strict=True):
        if found.fix is None or found.fix.creates_file:
            continue
        change = entry["fixes"][0]["artifactChanges"][0]
        patched = apply_sarif_replacements(NAIVE, change["replacements"])
        assert patched == apply_fix(NAIVE, found.fix)
        checked += 1
    assert checked, "the naive Go Dockerfile should get at least one in-place fix"


def test_sarif_reports_notes_as_tool_notifications() -> None:
    from layerbot.analysis.model import Note

    result = AnalysisResult([], [Note(".gitlab-ci.yml", "remote include not analysed")], 1)
    log = json.loads(formats.render_sarif(result, {}))
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["message"]["text"] == "remote include not analysed"
    assert log["runs"][0]["results"] == []


def test_json_puts_each_finding_and_note_on_a_line_of_its_own() -> None:
    from layerbot.analysis.model import Note

    text = "FROM python:3.12\nRUN pip install flask\n"
    report = analyse_file("Dockerfile", text, RepoView.from_files({"Dockerfile": text}))
    notes = [Note("Dockerfile", "one"), Note("Dockerfile", "two")]
    result = AnalysisResult(report.findings, notes, 1)
    rendered = formats.render_json(result, {"Dockerfile": text})
    expected = {
        "files": 1,
        "findings": [formats.finding_json(f, {"Dockerfile": text}) for f in report.findings],
        "notes": [{"path": "Dockerfile", "message": m} for m in ("one", "two")],
    }
    assert json.loads(rendered) == expected
    entries = [line for line in rendered.splitlines() if line.startswith("    {")]
    assert len(entries) == len(report.findings) + 2 >= 3
    assert json.loads(formats.render_json(AnalysisResult([], [], 0), {})) == {
        "files": 0,
        "findings": [],
        "notes": [],
    }


# --- text -----------------------------------------------------------------------------------


def two_file_result() -> tuple[AnalysisResult, dict[str, str]]:
    fix = Fix("pin it", Safety.REVIEW, (Edit(1, 1, ("FROM golang:1.22",)),))
    findings = [
        Finding("pin-base-image", Severity.MINOR, "a/Dockerfile", 1, 1, "first", None, fix),
        Finding("merge-runs", Severity.INFO, "b/Dockerfile", 2, 3, "second", "costs", None),
        Finding("multi-stage", Severity.MAJOR, "a/Dockerfile", 3, 4, "third", None, None),
    ]
    sources = {"a/Dockerfile": "FROM golang\nRUN a\nRUN b\nRUN c\n", "b/Dockerfile": ""}
    return AnalysisResult(findings, [], 2), sources


def test_text_groups_findings_by_file_without_colour_by_default() -> None:
    result, sources = two_file_result()
    text = formats.render_text(result, sources, show_diff=False)
    lines = text.splitlines()
    assert "\033[" not in text
    assert lines[0] == "a/Dockerfile"
    assert lines.count("a/Dockerfile") == 1
    a_block = text.split("b/Dockerfile")[0]
    assert "[pin-base-image] first" in a_block and "[multi-stage] third" in a_block
    assert "  2-3: info [merge-runs] second" in text
    assert "impact: costs" in text
    assert lines[-1] == "3 findings in 2 file(s)"
    assert "+FROM golang:1.22" not in text


def test_text_diff_and_colour() -> None:
    result, sources = two_file_result()
    text = formats.render_text(result, sources, show_diff=True, color=True)
    assert "\033[32m+FROM golang:1.22\033[0m" in text
    assert "\033[31m-FROM golang\033[0m" in text
    assert "\033[1;31m" not in text  # no critical finding, so no critical colour


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layerbot.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def _cli_on_tty(*args: str, env: dict[str, str]) -> str:
    """Run the CLI with stdout on a pseudo-terminal and return what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "layerbot.cli", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={k: v for k, v in {**os.environ, **env}.items() if v is not None},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_cli_colours_on_a_terminal_unless_no_color() -> None:
    clean = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _cli_on_tty("check", "examples/go-service", env={**clean, "NO_COLOR": ""})
    plain = _cli_on_tty("check", "examples/go-service", env={"NO_COLOR": "1"})
    piped = _cli("check", "examples/go-service").stdout
    assert "\033[" in coloured
    assert "\033[" not in plain and "examples/go-service/Dockerfile" in plain
    assert "\033[" not in piped


@pytest.mark.parametrize("fmt", ["gitlab", "sarif", "json"])
def test_cli_formats_are_valid_json_and_exit_1_on_findings(fmt: str) -> None:
    result = _cli("check", "examples/go-service", "--format", fmt)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    if fmt == "gitlab":
        assert schema_errors(data, CODE_QUALITY_SCHEMA) == []
    elif fmt == "sarif":
        assert schema_errors(data, SARIF_SCHEMA) == []
    else:
        assert set(data) == {"files", "findings", "notes"}


def test_an_unreadable_file_is_reported_in_every_format() -> None:
    repo = RepoView.from_files({})
    report = analyse_file("Dockerfile", b"FROM alpine\x00\xff", repo)
    result = AnalysisResult(report.findings, report.notes, 1)
    (issue,) = json.loads(formats.render_gitlab(result, {}))
    assert issue["check_name"] == "invalid-file"
    assert schema_errors([issue], CODE_QUALITY_SCHEMA) == []
    log = json.loads(formats.render_sarif(result, {}))
    assert schema_errors(log, SARIF_SCHEMA) == []
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    (entry,) = log["runs"][0]["results"]
    assert rules[entry["ruleIndex"]]["id"] == "invalid-file"
    assert "helpUri" not in rules[entry["ruleIndex"]]


# --- cost of a report on a large file ----------------------------------------------------------


class _CountedText(str):
    """A source text that counts how often a report splits it into lines."""

    splits = 0

    def splitlines(self, keepends: bool = False) -> list[str]:
        type(self).splits += 1
        return super().splitlines(keepends)


@pytest.mark.parametrize(
    "render", [formats.render_json, formats.render_gitlab, formats.render_sarif]
)
def test_a_report_splits_each_source_a_fixed_number_of_times_whatever_its_findings(
    render: Any,
) -> None:
    """Issue 13: ``--format json`` re-split the whole file for every finding (quadratic: 67 s
    on a file with 20,000 RUN lines). The number of splits must not grow with the findings."""
    splits = {}
    for runs in (10, 200):
        text = "FROM debian:12\n" + "".join(
            f"RUN apt-get install -y report-cost-{render.__name__}-{n}\n" for n in range(runs)
        )
        report = analyse_file("Dockerfile", text, RepoView.from_files({"Dockerfile": text}))
        with_fixes = [f for f in report.findings if f.fix is not None]
        assert len(with_fixes) >= runs  # one package-cache fix per RUN at least
        _CountedText.splits = 0
        render(AnalysisResult(report.findings, report.notes, 1), {"Dockerfile": _CountedText(text)})
        splits[runs] = _CountedText.splits
    assert splits[10] == splits[200] <= 3
