"""Figures of the hardening runs: tests ``record`` them; ``python -m tests.hardening.figures``
renders ``docs/reliability.md`` from the last recorded run, so the doc's numbers are real.

Recording happens only with ``LAYERBOT_RECORD_FIGURES=1`` (a normal test run leaves the
committed figures alone). ``LAYERBOT_HARDENING_SCALE`` multiplies the event counts.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
DOC = ROOT / "docs" / "reliability.md"
TEMPLATE = Path(__file__).resolve().parent / "reliability.md.in"


def scaled(count: int) -> int:
    """``count`` times ``LAYERBOT_HARDENING_SCALE`` (default 1)."""
    return max(1, round(count * float(os.environ.get("LAYERBOT_HARDENING_SCALE", "1"))))


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def record(name: str, **figures: Any) -> None:
    """Store one test's figures under ``name`` in ``results/latest.json`` (when enabled)."""
    if os.environ.get("LAYERBOT_RECORD_FIGURES") != "1":
        return
    data: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[name] = {
        **figures,
        "recorded": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _table(figures: dict[str, Any]) -> str:
    context = {key: figures.get(key, "?") for key in ("recorded", "machine", "commit")}
    rows = ["| Figure | Value |", "| --- | --- |"]
    rows += [
        f"| {key.replace('_', ' ')} | {_value(value)} |"
        for key, value in sorted(figures.items())
        if key not in context
    ]
    rows.append("")
    rows.append(
        f"_Recorded {context['recorded']} on {context['machine']}, commit `{context['commit']}`._"
    )
    return "\n".join(rows)


def render(results: dict[str, Any], template: str) -> str:
    """Replace each ``{{figures:NAME}}`` in ``template`` with NAME's figures as a table."""
    out = template
    for name, figures in results.items():
        out = out.replace(f"{{{{figures:{name}}}}}", _table(figures))
    missing = [line for line in out.splitlines() if "{{figures:" in line]
    for line in missing:
        out = out.replace(line, "_Not recorded yet: run the hardening tests with figures on._")
    return out


def main() -> int:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    DOC.write_text(render(results, TEMPLATE.read_text()))
    print(f"wrote {DOC.relative_to(ROOT)} from {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
