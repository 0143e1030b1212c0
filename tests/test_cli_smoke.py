"""The installed ``layerbot`` command end to end on the example project."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from layerbot.cli import build_parser

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


@pytest.mark.parametrize("command", ["check", "rule", "serve", "worker", "review", "version"])
def test_a_command_parsed_alone_reads_and_helps_as_within_every_command(command: str) -> None:
    """``main`` builds only the sub-parser of the command named (a faster start)."""
    whole, alone = build_parser(), build_parser(command)
    assert _sub_parser(alone, command).format_help() == _sub_parser(whole, command).format_help()
    assert alone.parse_args([command]) == whole.parse_args([command])


def _sub_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub: argparse.ArgumentParser = commands.choices[command]
    return sub


def test_a_reader_that_stops_early_ends_the_check_quietly() -> None:
    """``layerbot check . | head``: the report is far larger than a pipe holds, so the
    reader closing it stops the write; no traceback, the shell's status for it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "layerbot.cli", "check", "--diff", "tests/realworld"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(1)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == 141, stderr
    assert "Traceback" not in stderr
