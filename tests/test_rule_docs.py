"""Rule documentation: every docstring complete, docs/rules in step with it, CLI printing it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from layerbot import docs
from layerbot.analysis.rules import Rule, all_rules

ROOT = Path(__file__).resolve().parents[1]
RULES = sorted(all_rules())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layerbot.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


@pytest.mark.parametrize("name", RULES)
def test_docstring_has_every_section(name: str) -> None:
    assert docs.missing_sections(all_rules()[name]) == []


@pytest.mark.parametrize("name", RULES)
def test_docstring_references_cite_something(name: str) -> None:
    doc = all_rules()[name].doc
    references = doc.split("## References", 1)[1]
    assert any(line.strip().startswith("- ") for line in references.splitlines())


def test_docs_folder_matches_the_docstrings() -> None:
    problems = docs.drift(ROOT / "docs" / "rules", all_rules().values())
    assert problems == [], "run `python -m layerbot.docs` to regenerate docs/rules"


def test_drift_detects_edited_missing_and_stale_pages(tmp_path: Path) -> None:
    rules = list(all_rules().values())
    docs.write_pages(tmp_path, rules)
    assert docs.drift(tmp_path, rules) == []
    first = tmp_path / f"{rules[0].name}.md"
    first.write_text(first.read_text() + "edited by hand\n")
    (tmp_path / "retired-rule.md").write_text("old\n")
    if len(rules) > 1:
        (tmp_path / f"{rules[1].name}.md").unlink()
    problems = docs.drift(tmp_path, rules)
    assert f"{rules[0].name}.md: differs from the docstring" in problems
    assert "retired-rule.md: no such rule (stale page)" in problems
    if len(rules) > 1:
        assert f"{rules[1].name}.md: missing" in problems
    docs.write_pages(tmp_path, rules)
    assert docs.drift(tmp_path, rules) == []


def test_missing_sections_names_what_is_absent() -> None:
    rule = all_rules()[RULES[0]]
    broken = Rule(
        rule.name,
        rule.severity,
        rule.target,
        rule.fix_availability,
        rule.fix_title,
        rule.check,
        doc="Summary.\n\n## Example\n",
    )
    missing = docs.missing_sections(broken)
    assert "Example" not in missing
    assert missing == [s for s in docs.REQUIRED_SECTIONS if s != "Example"]


def test_check_mode_exits_1_on_drift(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "layerbot.docs", "--check", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert f"{RULES[0]}.md: missing" in result.stderr


@pytest.mark.parametrize("name", RULES)
def test_layerbot_rule_prints_the_same_text_as_the_docs_page(name: str) -> None:
    result = _cli("rule", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "docs" / "rules" / f"{name}.md").read_text()


def test_layerbot_rule_all_lists_every_rule_once() -> None:
    result = _cli("rule", "--all")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == list(all_rules())


def test_unknown_rule_is_a_usage_error() -> None:
    result = _cli("rule", "no-such-rule")
    assert result.returncode == 2
    assert "no-such-rule" in result.stderr


def test_multi_stage_docs_cite_the_docker_doc() -> None:
    doc = all_rules()["multi-stage"].doc
    assert "https://docs.docker.com/build/building/multi-stage/" in doc
