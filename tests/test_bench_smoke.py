"""The benchmark entry point keeps working: a tiny run writes its JSON and chart.

No timing is asserted here; figures live in bench/results and docs/benchmarks.md.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_bench_writes_results_for_every_section(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "analysis,scaling",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["quick"] is True
    generated = next(c for c in results["analysis"]["corpora"] if c["corpus"] == "generated")
    assert generated["files"] == 20
    assert generated["layerbot_one_process"]["files"] == 20
    curve = results["scaling"]["dockerfile_instructions"]["points"]
    assert [p["size"] for p in curve] == [10, 100]
    assert generated["hadolint_one_process"]["files"] == 20
    assert generated["ratio_one_process"] > 0
    assert "layerbot" in completed.stdout and "hadolint" in completed.stdout
