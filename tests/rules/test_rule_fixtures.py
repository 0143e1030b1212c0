"""Fixture-driven tests of the layer rules: ``tests/rules/<rule>/fixtures/*.Dockerfile``.

Each fixture starts with a header comment naming what the rule of its folder must report:
``# expect: 4 minor safe, 7-9 info review`` (line or line range, severity, fix safety or
``none`` when there is no fix) or ``# expect: none``. A ``<case>.fixed`` file beside a fixture
is the expected result of applying that rule's fixes (and only that rule's, with ``--unsafe``).
Every fixture is written by hand; the expectations are never generated from the tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from layerbot.analysis.config import Config
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.model import RepoView
from layerbot.analysis.rules import all_rules

_EXPECT = re.compile(r"^#\s*expect:\s*(.*)$", re.MULTILINE)
_ENTRY = re.compile(r"^(\d+)(?:-(\d+))?\s+(info|minor|major|critical)\s+(safe|review|none)$")


@dataclass(frozen=True)
class Expected:
    line: int
    end_line: int
    severity: str
    safety: str


@dataclass(frozen=True)
class DockerfileCase:
    path: Path
    rule: str

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def expected(self) -> list[Expected]:
        match = _EXPECT.search(self.text)
        assert match, f"{self.path.name} has no '# expect:' header"
        spec = match.group(1).strip()
        if spec == "none":
            return []
        found = []
        for entry in spec.split(","):
            parsed = _ENTRY.match(entry.strip())
            assert parsed, f"{self.path.name}: bad expectation {entry!r}"
            line = int(parsed.group(1))
            found.append(
                Expected(line, int(parsed.group(2) or line), parsed.group(3), parsed.group(4))
            )
        return found

    @property
    def repo(self) -> RepoView:
        return RepoView.from_files({"Dockerfile": self.text})

    def actual(self) -> list[Expected]:
        report = analyse_file("Dockerfile", self.text, self.repo)
        return [
            Expected(f.line, f.end_line, f.severity.value, f.fix.safety.value if f.fix else "none")
            for f in report.findings
            if f.rule == self.rule
        ]

    @property
    def fixed_path(self) -> Path:
        return self.path.with_suffix(".fixed")

    def fixed_by_rule(self) -> str:
        others = frozenset(all_rules()) - {self.rule}
        outcome = fix_file("Dockerfile", self.text, self.repo, Config(disabled=others), unsafe=True)
        return outcome.text


RULES = ("cleanup-in-same-layer", "package-cache", "update-with-install", "merge-runs")
HERE = Path(__file__).resolve().parent
CASES = [
    DockerfileCase(path, rule)
    for rule in RULES
    for path in sorted((HERE / rule / "fixtures").glob("*.Dockerfile"))
]
FIXED = [case for case in CASES if case.fixed_path.exists()]


def _id(case: DockerfileCase) -> str:
    return f"{case.rule}/{case.path.stem}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_rule_reports_what_the_fixture_expects(case: DockerfileCase) -> None:
    assert case.actual() == case.expected


@pytest.mark.parametrize("case", FIXED, ids=_id)
def test_rule_fix_gives_the_expected_file(case: DockerfileCase) -> None:
    assert case.fixed_by_rule() == case.fixed_path.read_text()


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_has_positive_and_negative_fixtures(rule: str) -> None:
    mine = [case for case in CASES if case.rule == rule]
    assert any(case.expected for case in mine), "no positive case"
    assert any(not case.expected for case in mine), "no negative case"
    assert any(case.fixed_path.exists() for case in mine), "no fix case"
