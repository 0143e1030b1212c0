"""The example projects stay naive: each raises the findings the README demo promises."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from layerbot.analysis.rules import all_rules

ROOT = Path(__file__).resolve().parents[1]

# Rules each example must raise, by file. A rule is only expected once it is registered.
EXPECTED = {
    "go-service/Dockerfile": {"multi-stage", "dependency-layer-order", "pin-base-image"},
    "go-service/.gitlab-ci.yml": {"ci-cache-from"},
    "node-app/Dockerfile": {"multi-stage", "dependency-layer-order", "pin-base-image"},
    "node-app/.gitlab-ci.yml": {"ci-kaniko-cache"},
    "python-app/Dockerfile": {
        "dependency-layer-order",
        "pin-base-image",
        "package-cache",
        "update-with-install",
    },
    "python-app/.gitlab-ci.yml": {"ci-inline-cache"},
}


def check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layerbot.cli", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def rules_by_file(report: dict[str, object], prefix: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in report["findings"]:  # type: ignore[attr-defined]
        found.setdefault(finding["path"].removeprefix(prefix), set()).add(finding["rule"])
    return found


def test_examples_raise_the_promised_findings() -> None:
    result = check("examples", "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["files"] == len(EXPECTED)
    found = rules_by_file(report, "examples/")
    registered = set(all_rules())
    for path, rules in EXPECTED.items():
        assert rules & registered <= found.get(path, set()), path


@pytest.mark.parametrize("example", ["go-service", "node-app", "python-app"])
def test_fixing_an_example_clears_the_fixed_findings(example: str, tmp_path: Path) -> None:
    """`--fix --unsafe` on a copy: no finding that had a fix comes back above `info` (a rule may
    leave advice behind, such as kaniko's archival notice)."""
    project = tmp_path / example
    shutil.copytree(ROOT / "examples" / example, project)
    before = json.loads(check(".", "--format", "json", "--root", ".", cwd=project).stdout)
    fixed = {(f["path"], f["rule"]) for f in before["findings"] if f["fix"] is not None}
    assert fixed, f"{example} should have at least one fixable finding"
    check(".", "--fix", "--unsafe", "--root", ".", cwd=project)
    after = json.loads(check(".", "--format", "json", "--root", ".", cwd=project).stdout)
    remaining = {(f["path"], f["rule"]) for f in after["findings"] if f["severity"] != "info"}
    assert fixed & remaining == set()
