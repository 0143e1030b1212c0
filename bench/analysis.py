"""Analysis throughput: ``layerbot check`` against ``hadolint`` over the same files, same run.

Two ways each tool is called in practice: one process over all files (a CI job over a
monorepo) and one process per file (pre-commit, one job per image). layerbot runs with
``--format json``, so every fix's diff is computed too.
"""

from __future__ import annotations

import random
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.measure import median, run_process

LAYERBOT = [sys.executable, "-m", "layerbot.cli", "check", "--format", "json"]


def hadolint_command() -> str | None:
    """The hadolint binary (the test extra installs one beside the interpreter), if any."""
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    return found if Path(found).exists() else None


def _hadolint() -> list[str] | None:
    found = hadolint_command()
    return [found, "--no-fail", "-f", "json"] if found else None


def _layerbot_command() -> list[str]:
    script = Path(sys.executable).with_name("layerbot")
    prefix = [str(script)] if script.exists() else LAYERBOT[:3]
    return [*prefix, "check", "--format", "json"]


def one_process(command: Sequence[str], files: Sequence[Path], repeats: int) -> dict[str, float]:
    runs = [run_process([*command, *map(str, files)]) for _ in range(repeats)]
    seconds = median([run.seconds for run in runs])
    return {
        "files": len(files),
        "seconds": seconds,
        "files_per_s": len(files) / seconds,
        "peak_rss_mb": max(run.peak_rss_kb for run in runs) / 1024,
    }


def per_file(command: Sequence[str], files: Sequence[Path]) -> dict[str, float]:
    runs = [run_process([*command, str(path)]) for path in files]
    latencies = [run.seconds for run in runs]
    return {
        "files": len(files),
        "median_ms": median(latencies) * 1000,
        "files_per_s": len(files) / sum(latencies),
        "peak_rss_mb": max(run.peak_rss_kb for run in runs) / 1024,
    }


def compare(name: str, files: Sequence[Path], repeats: int, sample: int) -> dict[str, object]:
    """Both tools, both ways, on ``files``; the per-file runs use a seeded sample."""
    hadolint = _hadolint()
    layerbot = _layerbot_command()
    picked = random.Random(7).sample(list(files), min(sample, len(files)))
    result: dict[str, object] = {
        "corpus": name,
        "files": len(files),
        "per_file_sample": len(picked),
    }
    # Interleave the tools so a noisy neighbour hurts both alike.
    result["layerbot_one_process"] = one_process(layerbot, files, repeats)
    if hadolint:
        result["hadolint_one_process"] = one_process(hadolint, files, repeats)
    result["layerbot_per_file"] = per_file(layerbot, picked)
    if hadolint:
        result["hadolint_per_file"] = per_file(hadolint, picked)
        for mode in ("one_process", "per_file"):
            ours = result[f"layerbot_{mode}"]
            theirs = result[f"hadolint_{mode}"]
            assert isinstance(ours, dict) and isinstance(theirs, dict)
            result[f"ratio_{mode}"] = ours["files_per_s"] / theirs["files_per_s"]
    return result
