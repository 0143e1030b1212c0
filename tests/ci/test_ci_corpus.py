"""The CI corpus: ``tests/ci/corpus/<case>/.gitlab-ci.yml`` with the files its jobs build.

Each case's first line declares what the CI rules must report, written by hand from reading the
file: ``# expect: RULE@LINE[-END] SEVERITY SAFETY, ...`` (SAFETY is ``safe``, ``review`` or
``none`` for no fix) or ``# expect: none``. Every fix must apply with ``git apply --check``,
leave YAML that still loads, and not raise the fixed finding when checked again.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from layerbot.analysis.ci_script import job_steps
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix, fix_diff
from layerbot.analysis.gitlab_ci import load_pipeline
from layerbot.analysis.model import Finding, RepoView
from layerbot.analysis.rules import rules_for

CORPUS = Path(__file__).parent / "corpus"
CI = ".gitlab-ci.yml"
CI_RULES = frozenset(rule.name for rule in rules_for("gitlab-ci"))
_EXPECT = re.compile(r"^#\s*expect:\s*(.*)$")
_ENTRY = re.compile(
    r"^([a-z-]+)@(\d+)(?:-(\d+))?\s+(info|minor|major|critical)\s+(safe|review|none)$"
)

CASES = sorted(path.name for path in CORPUS.iterdir() if (path / CI).is_file())


@dataclass(frozen=True)
class Expected:
    rule: str
    line: int
    end_line: int
    severity: str
    safety: str


def files_of(case: str) -> dict[str, str]:
    root = CORPUS / case
    return {
        path.relative_to(root).as_posix(): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def expected(text: str) -> list[Expected]:
    match = _EXPECT.match(text.splitlines()[0])
    assert match, "the first line must be an '# expect:' header"
    spec = match.group(1).strip()
    if spec == "none":
        return []
    found = []
    for entry in spec.split(","):
        parsed = _ENTRY.match(entry.strip())
        assert parsed, f"bad expectation {entry!r}"
        rule, line, end, severity, safety = parsed.groups()
        found.append(Expected(rule, int(line), int(end or line), severity, safety))
    return found


def ci_findings(text: str, files: dict[str, str]) -> list[Finding]:
    report = analyse_file(CI, text, RepoView.from_files({**files, CI: text}))
    return [f for f in report.findings if f.rule in CI_RULES or f.rule == "invalid-file"]


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_findings_match_the_header(case: str) -> None:
    files = files_of(case)
    actual = [
        Expected(
            f.rule, f.line, f.end_line, f.severity.value, f.fix.safety.value if f.fix else "none"
        )
        for f in ci_findings(files[CI], files)
    ]
    assert sorted(actual, key=repr) == sorted(expected(files[CI]), key=repr)


def git_apply_check(tmp_path: Path, files: dict[str, str], diff: str) -> None:
    root = tmp_path / "repo"
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    patch = tmp_path / "fix.patch"
    patch.write_text(diff)
    result = subprocess.run(
        ["git", "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def _subsequence(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    words = iter(long)
    return all(word in words for word in short)


def _job_commands(text: str, files: dict[str, str]) -> dict[str, list[tuple[str, ...]]]:
    pipeline = load_pipeline(CI, text, RepoView.from_files({**files, CI: text}))
    return {job.name: [step.written for step in job_steps(job)] for job in pipeline.jobs}


def assert_commands_kept(before: str, after: str, files: dict[str, str]) -> None:
    """Every job still runs every command it ran, in order, each with at least its old words:
    a fix only adds commands and flags."""
    old, new = _job_commands(before, files), _job_commands(after, files)
    assert old.keys() == new.keys()
    for name, commands in old.items():
        remaining = iter(new[name])
        for command in commands:
            assert any(_subsequence(command, candidate) for candidate in remaining), (
                f"job {name} lost or changed {' '.join(command)}"
            )


FIXED = [
    (case, index)
    for case in CASES
    for index, entry in enumerate(expected((CORPUS / case / CI).read_text()))
    if entry.safety != "none"
]


@pytest.mark.parametrize(("case", "index"), FIXED)
def test_every_fix_applies_loads_and_is_not_raised_again(
    tmp_path: Path, case: str, index: int
) -> None:
    files = files_of(case)
    text = files[CI]
    wanted = expected(text)[index]
    findings = ci_findings(text, files)
    finding = next(f for f in findings if (f.rule, f.line) == (wanted.rule, wanted.line))
    assert finding.fix is not None
    diff = fix_diff(CI, text, finding.fix)
    git_apply_check(tmp_path, files, diff)
    patched = apply_fix(text, finding.fix)
    assert patched.splitlines()[0] == text.splitlines()[0], "the header comment is kept"
    assert_commands_kept(text, patched, files)
    same = (finding.rule, finding.severity)
    again = [f for f in ci_findings(patched, files) if (f.rule, f.severity) == same]
    before = [f for f in findings if (f.rule, f.severity) == same]
    assert len(again) < len(before), [f.message for f in again]


@pytest.mark.parametrize("case", CASES)
def test_fixing_everything_converges_to_loadable_yaml(case: str) -> None:
    files = files_of(case)
    repo = RepoView.from_files(files)
    outcome = fix_file(CI, files[CI], repo, unsafe=True)
    assert_commands_kept(files[CI], outcome.text, files)
    fixed_rules = {f.rule for f in outcome.fixed}
    left = [f for f in outcome.remaining if f.rule in fixed_rules and f.fix is not None]
    assert left == []
