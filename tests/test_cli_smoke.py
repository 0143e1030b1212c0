"""The installed ``layerbot`` command end to end on the example project."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layerbot.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_check_reports_pin_base_image_on_the_example_with_a_fix_from_go_mod() -> None:
    result = run("check", "examples/go-service", "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    pins = [f for f in report["findings"] if f["rule"] == "pin-base-image"]
    assert len(pins) == 1
    assert pins[0]["path"] == "examples/go-service/Dockerfile"
    assert pins[0]["fix"]["replacement"] == ["FROM golang:1.22"]


def test_missing_path_is_a_usage_error() -> None:
    result = run("check", "no/such/dir")
    assert result.returncode == 2
    assert "no/such/dir" in result.stderr
