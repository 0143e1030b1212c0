"""The benchmark entry point keeps working: a tiny run of every section writes its results.

No timing is asserted here; figures live in bench/results and docs/benchmarks.md. What is
asserted is what must hold at any speed: nothing lost or doubled, every review completed.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_quick_bench_runs_every_section(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["quick"] is True

    generated = next(c for c in results["analysis"]["corpora"] if c["corpus"] == "generated")
    assert generated["layerbot_one_process"]["files"] == 20
    assert generated["hadolint_one_process"]["files"] == 20
    assert generated["ratio_one_process"] > 0

    cases = results["cli"]["cases"]
    assert [case["repeats"] for case in cases] == [3, 3, 3]
    assert all(case["layerbot_ms"] > 0 and case["hadolint_ms"] > 0 for case in cases)

    curve = results["scaling"]["dockerfile_instructions"]["points"]
    assert [p["size"] for p in curve] == [10, 100]

    [queue] = results["intake"]["queue"]
    assert queue["errors"] == 0
    assert queue["duplicates"] == 0 and queue["lost"] == 0
    assert queue["tasks_queued"] == queue["requests"] - queue["redeliveries"]

    config, anchor = results["e2e"]["configs"]  # calls at once, then one after the other
    assert (config["parallel_calls"], anchor["parallel_calls"]) == (8, 1)
    assert config["completed"] == config["reviews"] == 3  # the three example MRs, one at a time
    assert anchor["completed"] == anchor["reviews"] == 3
    assert [review["changed_dockerfiles"] for review in config["per_review"]] == [1, 1, 1, 2]
    assert all(review["seconds"] is not None for review in config["per_review"])
    assert all(review["bulk_publishes"] == 1 for review in config["per_review"])
    reads = [(review["read_calls"], review["write_calls"]) for review in config["per_review"]]
    assert reads[:3] == [(r["read_calls"], r["write_calls"]) for r in anchor["per_review"]]
    assert (tmp_path / "review_latency.png").stat().st_size > 0

    assert results["memory"]["points"][-1]["reviews"] >= 20
    assert (tmp_path / "scaling.png").stat().st_size > 0


def test_bench_runs_layerbot_as_installed_not_from_the_editable_checkout() -> None:
    """The start-up figures must not include the editable installation's import hook."""
    from bench.analysis import installed_layerbot

    probe = "import sys, yaml, layerbot; print(layerbot.__file__); print(sorted(sys.modules))"
    dockerfile = ROOT / "examples" / "go-service" / "Dockerfile"
    with installed_layerbot() as layerbot:
        shown = subprocess.run(
            [layerbot[0], "-c", probe], cwd="/", capture_output=True, text=True, check=True
        ).stdout.splitlines()
        checked = subprocess.run(
            [*layerbot, "check", str(dockerfile)], cwd=ROOT, capture_output=True, text=True
        )
    package_file, loaded = shown[0], shown[1]
    assert not package_file.startswith(str(ROOT)), package_file
    assert "editable" not in loaded
    assert checked.returncode == 1 and "dependency-layer-order" in checked.stdout, checked.stderr
