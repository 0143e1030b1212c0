"""cache-mount on fixture Dockerfiles, one or more per ecosystem, and its truce with
package-cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerbot.analysis import dockerfile, ecosystems
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import as_replacement
from layerbot.analysis.model import RepoView, Safety, Severity
from layerbot.analysis.rules import cache_mount as rule
from tests.rules.fix_checks import EXPECTED, assert_fix_is_sound, load_fixture, run_check

FIXTURES = Path(__file__).parent / "fixtures"
WITH_FIX = sorted(p.name for p in FIXTURES.iterdir() if not p.name.startswith(("ok-", "nofix-")))
WITHOUT_FIX = sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith("nofix-"))
NEGATIVE = sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith("ok-"))
# Ecosystems whose cache is the store later steps read: the fix edits each RUN that uses it.
MULTI_RUN = {"go", "maven", "gradle-wrapper", "dotnet"}


def test_every_ecosystem_has_a_fixture_with_a_fix() -> None:
    covered = set()
    for case in WITH_FIX:
        for line in (FIXTURES / case / "Dockerfile").read_text().splitlines():
            if line.startswith("RUN"):
                doc_steps = run_check_steps(line)
                covered.update(s.ecosystem.name for s in doc_steps)
    assert covered == {e.name for e in ecosystems.ECOSYSTEMS}


def run_check_steps(line: str) -> list[ecosystems.DependencyStep]:
    return ecosystems.dependency_steps(dockerfile.parse(f"FROM x\n{line}\n").stages[0].body[0])


@pytest.mark.parametrize("case", WITH_FIX)
def test_case_with_fix(case: str, tmp_path: Path) -> None:
    files = load_fixture(FIXTURES / case)
    [finding] = run_check(rule.check, files)
    assert finding.severity is Severity.INFO
    assert "--cache-to" in finding.message
    assert finding.fix is not None and finding.fix.safety is Safety.REVIEW
    assert len(finding.fix.edits) == (2 if case in MULTI_RUN else 1)
    if case not in MULTI_RUN:
        assert as_replacement(files["Dockerfile"], finding.fix) is not None
    patched = assert_fix_is_sound(tmp_path, rule.check, files, finding)
    assert patched["Dockerfile"] == (FIXTURES / case / EXPECTED).read_text()
    before, after = files["Dockerfile"].splitlines(), patched["Dockerfile"].splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed and all(b == a.replace("RUN ", "RUN " + mounts(b), 1) for a, b in changed)


def mounts(line: str) -> str:
    words = line.split()[1:]
    return "".join(f"{w} " for w in words if w.startswith("--mount=type=cache,target="))


@pytest.mark.parametrize("case", WITHOUT_FIX)
def test_case_without_fix(case: str) -> None:
    [finding] = run_check(rule.check, load_fixture(FIXTURES / case))
    assert finding.fix is None


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_case(case: str) -> None:
    assert run_check(rule.check, load_fixture(FIXTURES / case)) == []


def test_impact_says_whether_the_step_reruns_on_code_changes() -> None:
    after_sources = {"Dockerfile": "FROM node:20\nCOPY . .\nRUN npm ci\n"}
    [finding] = run_check(rule.check, after_sources)
    assert finding.impact is not None and "every code change" in finding.impact
    [finding] = run_check(rule.check, load_fixture(FIXTURES / "npm"))
    assert finding.impact is not None and "dependency manifest changes" in finding.impact


@pytest.mark.parametrize("case", ["pip", "npm", "yarn"])
def test_package_cache_stays_quiet_once_the_mount_is_there(case: str) -> None:
    files = load_fixture(FIXTURES / case)
    repo = RepoView.from_files(files)
    before = {f.rule for f in analyse_file("Dockerfile", files["Dockerfile"], repo).findings}
    assert {"package-cache", "cache-mount"} <= before
    mounted = (FIXTURES / case / EXPECTED).read_text()
    after = {f.rule for f in analyse_file("Dockerfile", mounted, repo).findings}
    assert "package-cache" not in after and "cache-mount" not in after


def test_fixing_everything_never_mounts_a_cache_pip_is_told_not_to_use() -> None:
    files = load_fixture(FIXTURES / "pip")
    outcome = fix_file("Dockerfile", files["Dockerfile"], RepoView.from_files(files), unsafe=True)
    install = next(line for line in outcome.text.splitlines() if "pip install" in line)
    assert ("--mount=type=cache" in install) != ("--no-cache-dir" in install)
    remaining = {f.rule for f in outcome.remaining}
    assert "package-cache" not in remaining and "cache-mount" not in remaining
