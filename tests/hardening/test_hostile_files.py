"""Each hostile file yields a finding or an error for that file only, within a bound.

Each case runs in a child process with a CPU-time limit (2 s) and reports the peak memory it
added; the review of the well-formed Dockerfile next to it must be unaffected.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.hardening.hostile_files import CI_FILES, DOCKERFILES, GOOD_DOCKERFILE

CPU_SECONDS = 2
MEMORY_BOUND_MB = 200

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from layerbot.analysis.engine import analyse
    from layerbot.analysis.model import RepoView
    resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, {cpu}))
    path, hostile, good = sys.argv[1:4]
    files = {{path: open(hostile, "rb").read(), "svc/Dockerfile": open(good, "rb").read()}}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = analyse(files, RepoView.from_files({{"svc/Dockerfile": ""}}))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({{
        "grown_mb": grown / 1024,
        "findings": [[f.rule, f.path, f.message] for f in result.findings],
        "notes": [[n.path, n.message] for n in result.notes],
    }}))
    """
).format(cpu=CPU_SECONDS)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def analyse_in_child(tmp_path: Path, path: str, data: bytes) -> dict[str, object]:
    hostile = tmp_path / "hostile"
    good = tmp_path / "good"
    hostile.write_bytes(data)
    good.write_bytes(GOOD_DOCKERFILE)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, path, str(hostile), str(good)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert completed.returncode == 0, (
        f"child died ({completed.returncode}): {completed.stderr[-2000:]}"
    )
    return json.loads(completed.stdout)


def _assert_isolated(report: dict[str, object], path: str) -> list[list[str]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    good_rules = {rule for rule, where, _ in findings if where == "svc/Dockerfile"}
    assert "pin-base-image" in good_rules, "the well-formed file next to it was not analysed"
    assert "invalid-file" not in good_rules
    assert float(str(report["grown_mb"])) < MEMORY_BOUND_MB
    return [f for f in findings if f[1] == path]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hostile_dockerfile_is_a_finding_for_that_file_only(tmp_path: Path, name: str) -> None:
    report = analyse_in_child(tmp_path, "Dockerfile", DOCKERFILES[name])
    own = _assert_isolated(report, "Dockerfile")
    if name not in {"one-megabyte-line"}:
        invalid = [message for rule, _, message in own if rule == "invalid-file"]
        assert len(invalid) == 1, own
        assert invalid[0].startswith("Dockerfile could not be analysed: ")


@pytest.mark.parametrize("name", sorted(CI_FILES))
def test_hostile_ci_file_is_a_finding_or_note_for_that_file_only(tmp_path: Path, name: str) -> None:
    report = analyse_in_child(tmp_path, ".gitlab-ci.yml", CI_FILES[name])
    own = _assert_isolated(report, ".gitlab-ci.yml")
    notes = [message for where, message in report["notes"] if where == ".gitlab-ci.yml"]  # type: ignore[union-attr]
    if name == "remote-include":
        assert any("not analysed" in message for message in notes), notes
    elif name != "include-cycle":
        assert [rule for rule, _, _ in own] == ["invalid-file"], own
