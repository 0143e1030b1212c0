"""Benchmark output: the printed table, ``bench/results/latest.json`` and the scaling chart."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, object]:
    """Date, cores, memory and commit: every figure is reported with them."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    memory_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        memory_kb = int(first[1])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "commit": commit or "unknown",
    }


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def table(rows: list[list[object]], header: list[str]) -> str:
    cells = [header, *[[_fmt(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def write_json(results: dict[str, object], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "latest.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_chart(scaling: dict[str, object], out_dir: Path) -> Path | None:
    """Log-log chart of the scaling curves (skipped when matplotlib is not installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    titles = {"dockerfile_instructions": "Dockerfile instructions", "ci_jobs": "CI jobs"}
    for axis, (key, title) in zip(axes, titles.items(), strict=True):
        curve = scaling.get(key)
        if not isinstance(curve, dict):
            continue
        points = curve["points"]
        sizes = [p["size"] for p in points]
        axis.loglog(sizes, [p["seconds"] * 1000 for p in points], "o-", label="time (ms)")
        axis.loglog(sizes, [max(p["peak_mb"], 1e-3) for p in points], "s--", label="peak MB")
        axis.set_title(f"{title} (slope {curve['slope']:.2f})")
        axis.set_xlabel(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    path = out_dir / "scaling.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
