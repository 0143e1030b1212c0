"""The one runner of the rule cases in ``tests/rules/<rule-name>/<case>/`` (see README.md).

For every case: the findings are the hand-written ones of ``expected.toml``; the fixes give
``expected.fixed``; every fix is sound (its diff applies with ``git apply --check``, the fixed
file still parses, checking it again raises none of the case's rules but information without
a fix, such as kaniko's archive notice); and the output of ``layerbot check --diff`` matches
its snapshot in ``__snapshots__/test_rules.ambr``, so a change of wording shows in review
(``pytest tests/rules --snapshot-update`` after a deliberate change).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from layerbot.analysis.engine import analyse_file
from layerbot.analysis.fixes import apply_fix, fix_diff
from layerbot.analysis.model import Finding, FixAvailability, RepoView, Severity
from layerbot.analysis.rules import all_rules
from layerbot.cli import main
from tests.rules.cases import Case, all_cases
from tests.rules.soundness import git_apply_check

CASES = all_cases()


def _id(case: Case) -> str:
    return case.name


def _key(finding: dict[str, Any]) -> tuple[str, int]:
    return finding["rule"], finding["line"]


def _found(text: str | None, wanted: list[str]) -> list[str]:
    return [part for part in wanted if text is not None and part in text]


def _missing(text: str | None, unwanted: list[str]) -> list[str]:
    return [part for part in unwanted if text is None or part not in text]


def _fixed_by(case: Case, finding: Finding) -> str | None:
    """The file the finding's fix writes, after that fix alone."""
    if finding.fix is None:
        return None
    target = finding.fix.path or case.path
    before = "" if finding.fix.creates_file else case.files.get(target, "")
    return apply_fix(before, finding.fix)


def observed(case: Case, finding: Finding, wanted: dict[str, Any]) -> dict[str, Any]:
    """What the finding shows of each thing ``wanted`` states, in the same shape."""
    fix = finding.fix
    facts: dict[str, Any] = {
        "rule": finding.rule,
        "line": finding.line,
        "end_line": finding.end_line,
        "severity": finding.severity.value,
        "fix": fix.safety.value if fix else "none",
        "message_has": _found(finding.message, wanted.get("message_has", [])),
        "message_lacks": _missing(finding.message, wanted.get("message_lacks", [])),
        "has_impact": bool(finding.impact),
        "impact_has": _found(finding.impact, wanted.get("impact_has", [])),
        "impact_lacks": _missing(finding.impact, wanted.get("impact_lacks", [])),
        "edits": len(fix.edits) if fix else 0,
        "fix_path": (fix.path or case.path) if fix else None,
        "fixed_has": _found(_fixed_by(case, finding), wanted.get("fixed_has", [])),
        "fixed_lacks": _missing(_fixed_by(case, finding), wanted.get("fixed_lacks", [])),
    }
    unknown = set(wanted) - set(facts)
    assert not unknown, f"{case.name}: unknown keys {sorted(unknown)} in expected.toml"
    return {key: facts[key] for key in wanted}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_findings_are_the_expected_ones(case: Case) -> None:
    expected = sorted(case.expected_findings, key=_key)
    actual = sorted(case.findings(), key=lambda f: (f.rule, f.line))
    assert [(f.rule, f.line) for f in actual] == [_key(e) for e in expected]
    assert [observed(case, f, e) for f, e in zip(actual, expected, strict=True)] == expected


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_fixes_give_the_expected_file(case: Case) -> None:
    written = case.fixed()
    if not any(f.fix for f in case.findings()):
        assert not case.expected_fixed.exists(), "no fix, so no expected.fixed"
        assert written == {}
        return
    assert len(written) == 1, f"the fixes write {sorted(written)}: one file per case"
    if not case.expected_fixed.exists():
        assert case.states_fix_by_parts, "expected.fixed, or the fixed file's parts"
        return
    [text] = written.values()
    assert text == case.expected_fixed.read_text()


FIXED_CASES = [case for case in CASES if any(f.fix for f in case.findings())]


@pytest.mark.parametrize("case", FIXED_CASES, ids=_id)
def test_fixes_are_sound(case: Case, tmp_path: Path) -> None:
    diffs = []
    for finding in case.findings():
        if finding.fix is not None:
            diff = fix_diff(case.path, case.text, finding.fix)
            target = finding.fix.path or case.path
            assert diff.startswith(f"diff --git a/{target} b/{target}\n")
            diffs.append(diff)
    git_apply_check(tmp_path / "repo", case.files, diffs)
    files = {**case.files, **case.fixed()}
    report = analyse_file(
        case.path, files[case.path], RepoView.from_files(files), context_dir=case.context_dir
    )
    assert [f.rule for f in report.findings if f.rule == "invalid-file"] == []
    again = [f for f in report.findings if f.rule in case.rules]
    assert [f.message for f in again if f.fix or f.severity is not Severity.INFO] == []


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_check_diff_output_matches_the_snapshot(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    for name, text in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    status = main(["check", "--diff", "--root", str(tmp_path), str(tmp_path / case.path)])
    assert f"exit status {status}\n{capsys.readouterr().out}" == snapshot


@pytest.mark.parametrize("rule", sorted(all_rules()))
def test_every_rule_has_a_positive_and_a_negative_case(rule: str) -> None:
    mine = [case for case in CASES if case.rule == rule]
    assert any(case.expected_findings for case in mine), "no case with a finding"
    assert any(not case.expected_findings for case in mine), "no case without a finding"


@pytest.mark.parametrize("rule", sorted(all_rules()))
def test_every_rule_declares_its_fix(rule: str) -> None:
    declared = all_rules()[rule]
    assert isinstance(declared.fix_availability, FixAvailability)
    if declared.fix_availability is FixAvailability.NEVER:
        assert declared.fix_title == ""
    else:
        title = declared.fix_title
        assert title and title[0].isupper() and not title.endswith(".") and len(title) <= 70


@pytest.mark.parametrize("rule", sorted(all_rules()))
def test_the_cases_keep_the_declared_fix_availability(rule: str) -> None:
    """A rule that never fixes offers no fix on its cases, one that always does offers one on
    every finding; one that sometimes does shows both."""
    availability = all_rules()[rule].fix_availability
    fixed = [
        finding.fix is not None
        for case in CASES
        for finding in case.findings()
        if finding.rule == rule
    ]
    assert fixed, "no finding in the cases"
    if availability is FixAvailability.NEVER:
        assert not any(fixed)
    elif availability is FixAvailability.ALWAYS:
        assert all(fixed)
    else:
        assert any(fixed) and not all(fixed), "sometimes: cases with and without a fix"


def test_every_case_folder_is_a_case() -> None:
    here = Path(__file__).parent
    folders = {
        f"{rule.name}/{folder.name}"
        for rule in here.iterdir()
        if rule.is_dir() and not rule.name.startswith("__")
        for folder in rule.iterdir()
    }
    assert folders == {case.name for case in CASES}
