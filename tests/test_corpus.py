"""The Dockerfile corpus: expected findings per file, and properties of every fix.

``tests/corpus/<case>/Dockerfile`` is a Dockerfile written for this project in the shapes
public projects use (Go, Node, Python, Java, Rust, Ruby, PHP, .NET; naive and already good),
with the repository files it needs beside it. Its first line says what it must raise:
``# expect: multi-stage major, package-cache minor`` (one entry per finding) or
``# expect: none``. The expectations were written by reading each file, not by running the tool;
where the tool disagrees with a correct expectation the case is an ``xfail`` naming the rule.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from layerbot.analysis.dockerfile import Dockerfile, parse
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix, fix_diff
from layerbot.analysis.model import Finding, RepoView, Safety, Severity
from layerbot.analysis.rules import rules_for
from layerbot.analysis.shell import commands

CORPUS = Path(__file__).parent / "corpus"
LANGUAGES = ("go", "node", "py", "java", "rust", "ruby", "php", "dotnet")
_EXPECT = re.compile(r"^#\s*expect:\s*(.*)$", re.MULTILINE)

# Cases where the tool disagrees with a correct expectation: case -> "owning rule: why".
DISAGREEMENTS: dict[str, str] = {}

# Instructions of the final stage whose meaning every fix must keep.
KEPT = ("EXPOSE", "ENV", "USER", "LABEL", "HEALTHCHECK")
STARTS = ("CMD", "ENTRYPOINT")
# Flags a fix may add to a command without changing which command runs.
ADDED_FLAGS = {
    "--no-cache",
    "--no-cache-dir",
    "--no-install-recommends",
    "--no-document",
    "--no-restore",
}
# Commands a fix may drop on purpose: an index update that `apk add --no-cache` makes pointless.
DROPPED = {("apk", "update")}


@dataclass(frozen=True)
class Case:
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def text(self) -> str:
        return (self.folder / "Dockerfile").read_text()

    @property
    def files(self) -> dict[str, str]:
        return {
            path.relative_to(self.folder).as_posix(): path.read_text()
            for path in sorted(self.folder.rglob("*"))
            if path.is_file()
        }

    @property
    def repo(self) -> RepoView:
        return RepoView.from_files(self.files)

    @property
    def expected(self) -> list[tuple[str, str]]:
        """(rule, severity) per expected finding, for the rules that exist today."""
        match = _EXPECT.search(self.text)
        assert match, f"{self.name}: no '# expect:' header"
        spec = match.group(1).strip()
        if spec == "none":
            return []
        entries = [tuple(entry.split()) for entry in spec.split(",")]
        assert all(len(entry) == 2 for entry in entries), f"{self.name}: bad header {spec!r}"
        return sorted((rule, severity) for rule, severity in entries if rule in RULES)

    def findings(self) -> list[Finding]:
        return analyse_file("Dockerfile", self.text, self.repo).findings

    def actual(self) -> list[tuple[str, str]]:
        return sorted((f.rule, f.severity.value) for f in self.findings())


RULES = {rule.name for rule in rules_for("dockerfile")}
CASES = [Case(folder) for folder in sorted(CORPUS.iterdir()) if (folder / "Dockerfile").exists()]


def _params(cases: list[Case]) -> Iterator[object]:
    for case in cases:
        reason = DISAGREEMENTS.get(case.name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(case, id=case.name, marks=marks)


def test_corpus_covers_every_language_with_naive_and_good_files() -> None:
    assert len(CASES) >= 60
    for language in LANGUAGES:
        mine = [case for case in CASES if case.name.startswith(f"{language}-")]
        good = [case for case in mine if all(s == "info" for _, s in case.expected)]
        assert len(good) < len(mine), f"{language}: no naive file"
        assert good, f"{language}: no already-good file"


@pytest.mark.parametrize("case", list(_params(CASES)))
def test_findings_are_the_expected_ones(case: Case) -> None:
    assert case.actual() == case.expected


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_has_positive_and_negative_cases(rule: str) -> None:
    expecting = [case for case in CASES if any(r == rule for r, _ in case.expected)]
    assert expecting, f"no corpus file expects {rule}"
    assert len(expecting) < len(CASES), f"every corpus file expects {rule}"


@pytest.mark.parametrize(
    "case", [c for c in CASES if all(s == "info" for _, s in c.expected)], ids=lambda c: c.name
)
def test_already_good_files_raise_nothing_above_info(case: Case) -> None:
    above = [f"{f.rule} {f.severity}" for f in case.findings() if f.severity is not Severity.INFO]
    assert above == []


@pytest.fixture(scope="module")
def git_checkouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One git repository per corpus case, holding the case's files, committed."""
    root = tmp_path_factory.mktemp("corpus-git")
    checkouts = {}
    for case in CASES:
        target = root / case.name
        shutil.copytree(case.folder, target)
        for args in (
            ["init", "-q"],
            ["add", "-A"],
            ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "case"],
        ):
            subprocess.run(["git", *args], cwd=target, check=True, capture_output=True)
        checkouts[case.name] = target
    return checkouts


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_fix_diff_applies_with_git_apply(case: Case, git_checkouts: dict[str, Path]) -> None:
    for finding in case.findings():
        if finding.fix is None:
            continue
        diff = fix_diff("Dockerfile", case.text, finding.fix)
        result = subprocess.run(
            ["git", "apply", "--check", "-"],
            cwd=git_checkouts[case.name],
            input=diff,
            text=True,
            capture_output=True,
        )
        assert result.returncode == 0, f"{finding.rule}: {result.stderr}\n{diff}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_fix_alone_parses_and_is_not_raised_again(case: Case) -> None:
    for finding in case.findings():
        if finding.fix is None or finding.fix.creates_file:
            continue
        fixed = apply_fix(case.text, finding.fix)
        parse(fixed)
        again = analyse_file("Dockerfile", fixed, case.repo).findings
        assert (finding.rule, finding.message) not in {(f.rule, f.message) for f in again}


def _final_stage_meaning(doc: Dockerfile, keywords: tuple[str, ...]) -> Counter[tuple[str, str]]:
    return Counter(
        (i.keyword, i.value) for i in doc.final_stage.instructions if i.keyword in keywords
    )


def _run_commands(doc: Dockerfile) -> set[tuple[str, ...]]:
    """Every command the RUNs execute, without the flags a cache fix may add."""
    found = set()
    for instruction in doc.instructions:
        if instruction.keyword != "RUN":
            continue
        for command in commands(instruction.script):
            found.add(tuple(arg for arg in command.argv if arg not in ADDED_FLAGS))
    return found


def _dropped_on_purpose(argv: tuple[str, ...]) -> bool:
    words = [arg for arg in argv if not arg.startswith("-")]
    return tuple(words[:2]) in DROPPED


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_fix_all_keeps_meaning_and_converges(case: Case, unsafe: bool) -> None:
    outcome = fix_file("Dockerfile", case.text, case.repo, unsafe=unsafe)
    before, after = parse(case.text), parse(outcome.text)
    rewritten = any(f.rule == "multi-stage" for f in outcome.fixed)
    assert _final_stage_meaning(after, KEPT) == _final_stage_meaning(before, KEPT)
    if rewritten:
        starts = Counter(i.keyword for i in after.final_stage.instructions if i.keyword in STARTS)
        assert starts == Counter(
            i.keyword for i in before.final_stage.instructions if i.keyword in STARTS
        )
    else:
        assert _final_stage_meaning(after, STARTS) == _final_stage_meaning(before, STARTS)
    kept = _run_commands(after)
    lost = [argv for argv in _run_commands(before) - kept if not _dropped_on_purpose(argv)]
    assert lost == []
    still_fixable = [
        f.rule
        for f in outcome.remaining
        if f.fix and not f.fix.creates_file and (unsafe or f.fix.safety is Safety.SAFE)
    ]
    assert still_fixable == []
    fixed = {(f.rule, f.message) for f in outcome.fixed}
    assert not fixed & {(f.rule, f.message) for f in outcome.remaining}
