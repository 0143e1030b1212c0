"""Benchmark output: the printed table, ``bench/results/latest.json`` and the scaling chart."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.analysis import GOAL_START_MS
from bench.e2e import GOAL_LATENCY_MS, GOAL_P95_S, latency_rows

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


def _pyplot() -> Any:
    """matplotlib's pyplot drawing to files, or ``None`` when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt: Any, figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_chart(scaling: dict[str, object], out_dir: Path) -> Path | None:
    """Log-log chart of the scaling curves (skipped when matplotlib is not installed)."""
    plt = _pyplot()
    if plt is None:
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
    return _save(plt, figure, out_dir / "scaling.png")


def write_latency_chart(rows: list[dict[str, Any]], out_dir: Path) -> Path | None:
    """Review latency against GitLab latency, calls at once beside one after the other
    (skipped when matplotlib is not installed)."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axis = plt.subplots(figsize=(6, 4))
    latencies = [row["latency_ms"] for row in rows]
    for key, label, style in (
        ("p95_s", "p95, calls at once", "o-"),
        ("p50_s", "p50, calls at once", "o--"),
        ("anchor_p95_s", "p95, one after the other", "s-"),
        ("anchor_p50_s", "p50, one after the other", "s--"),
    ):
        points = [(x, row[key]) for x, row in zip(latencies, rows, strict=True) if row[key]]
        if points:
            axis.plot(*zip(*points, strict=True), style, label=label)
    axis.plot([GOAL_LATENCY_MS], [GOAL_P95_S], "r*", markersize=12, label="goal: p95 < 0.5 s")
    axis.set_xlabel("GitLab latency per call (ms)")
    axis.set_ylabel("review latency (s)")
    axis.set_title("Review latency, webhook to summary (1 worker)")
    axis.grid(True, alpha=0.3)
    axis.legend()
    return _save(plt, figure, out_dir / "review_latency.png")


REPRODUCE = """\
## Reproduce

```sh
.venv/bin/python -m bench --write-docs            # everything, about ten minutes on 2 cores
.venv/bin/python -m bench --only analysis,scaling  # one or more sections
.venv/bin/python -m bench --quick                  # the smoke run CI uses (figures mean nothing)
```

Every figure comes from one run of `python -m bench` on the machine named above; ratios are
measured in the same run, pair by pair, so a noisy neighbour slows both sides alike. Raw
figures: `bench/results/latest.json`; charts: `bench/results/scaling.png` and
`bench/results/review_latency.png` (review latency against GitLab latency).
"""


def markdown_table(rows: list[list[object]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def write_docs(
    machine_info: dict[str, object],
    tables: list[tuple[str, list[str], list[list[object]]]],
    path: Path,
    rerun: list[str] = (),  # type: ignore[assignment]
) -> Path:
    """``docs/benchmarks.md``, generated: never edited by hand, so it cannot drift."""
    header = (
        "# Benchmarks\n\n"
        "<!-- generated by `python -m bench --write-docs`; do not edit by hand -->\n\n"
        f"Measured {machine_info['date']} on {machine_info['cores']} cores, "
        f"{machine_info['memory_gb']} GB memory, Python {machine_info['python']}, "
        f"commit `{machine_info['commit']}`.\n"
    )
    if rerun:
        header += f"Re-run since on the same machine: {', '.join(rerun)}.\n"
    body = "\n".join(
        f"\n## {title}\n\n{markdown_table(rows, cols)}\n" for title, cols, rows in tables
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body + "\n" + REPRODUCE, encoding="utf-8")
    return path


README = ROOT / "README.md"
_README_BLOCK = re.compile(r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", re.DOTALL)


def summary_rows(results: dict[str, Any]) -> list[list[object]]:
    """The README's headline figures, each next to its goal, from one ``python -m bench`` run."""
    rows: list[list[object]] = []
    corpora = results.get("analysis", {}).get("corpora", [])
    for corpus in corpora:  # the real-world corpus first, as bench/__main__.py orders them
        if corpus["corpus"] == "project corpus" or "hadolint_one_process" not in corpus:
            continue
        ours, theirs = corpus["layerbot_one_process"], corpus["hadolint_one_process"]
        rows.append(
            [
                f"Analysis, one command, {corpus['files']:,} Dockerfiles, {corpus['corpus']}"
                " (fixes included)",
                f"{ours['files_per_s']:,.0f} files/s vs hadolint {theirs['files_per_s']:,.0f}",
                f"{corpus['ratio_one_process']:.1f}× hadolint",
                "≥ 10×",
            ]
        )
    generated = next((c for c in corpora if c["corpus"] == "generated"), None)
    if generated and "hadolint_per_file" in generated:
        ours, theirs = generated["layerbot_per_file"], generated["hadolint_per_file"]
        rows.append(
            [
                "Analysis, one command per file (median; generated files, no CI configuration)",
                f"{ours['median_ms']:.0f} ms vs hadolint {theirs['median_ms']:.0f} ms",
                f"{generated['ratio_per_file']:.2f}× hadolint",
                f"≤ {GOAL_START_MS:.0f} ms",
            ]
        )
    for case in results.get("cli", {}).get("cases", []):
        if "hadolint_ms" in case:
            rows.append(
                [
                    f"CLI start, one Dockerfile, whole process ({case['case']})",
                    f"{case['layerbot_ms']:.0f} ms vs hadolint {case['hadolint_ms']:.0f} ms",
                    f"{case['hadolint_ms'] / case['layerbot_ms']:.2f}× hadolint",
                    f"≤ {results['cli']['goal_ms']:.0f} ms",
                ]
            )
    for key, label in (("dockerfile_instructions", "Dockerfile size"), ("ci_jobs", "CI jobs")):
        curve = results.get("scaling", {}).get(key)
        if curve:
            rows.append(
                [f"Scaling with {label} (log-log slope)", f"{curve['slope']:.2f}", "", "≈ 1"]
            )
    section = results.get("intake", {})
    goal = section.get("goal")
    at_goal = [
        row
        for row in section.get("queue", [])
        if goal and row["concurrency"] == goal["concurrency"]
    ]
    if at_goal:
        row = at_goal[0]
        ratio = section["ratio_to_naive"][str(row["concurrency"])]["median"]
        lost = sum(row["lost"] for row in section["queue"])
        doubled = sum(row["duplicates"] for row in section["queue"])
        rows.append(
            [
                f"Webhook intake, {row['concurrency']} connections",
                f"{row['accepted_per_s']:,.0f} events/s, p99 {row['p99_ms']:.0f} ms, "
                f"{lost} lost, {doubled} doubled",
                f"{ratio:.2f}× the naive intake (Flask -> apply_async)",
                f"≥ {goal['ratio']}×, p99 < {goal['p99_ms']:g} ms, 0 lost",
            ]
        )
    e2e_section = results.get("e2e")
    goal_rows = [
        row
        for row in (latency_rows(e2e_section) if e2e_section and "goal" in e2e_section else [])
        if row["latency_ms"] == e2e_section["goal"]["latency_ms"]  # type: ignore[index]
    ]
    for row in goal_rows:
        anchor = row["anchor_p95_s"]
        rows.append(
            [
                f"Review latency, {row['latency_ms']:.0f} ms per GitLab call, 1 worker (p95)",
                f"{row['p95_s']:.2f} s",
                f"one call at a time: {anchor:.2f} s" if anchor else "",
                "p95 < 0.5 s",
            ]
        )
    memory = results.get("memory")
    if memory:
        rows.append(
            [
                f"Worker memory over {memory['reviews']:,} reviews",
                f"{memory['final_rss_mb']:.0f} MB",
                f"{memory['growth_mb']:+.1f} MB after warm-up",
                "no growth",
            ]
        )
    return rows


def write_readme_summary(results: dict[str, Any], path: Path = README) -> None:
    """Replace the README's benchmark block with this run's headline figures."""
    machine_info = results["machine"]
    table = markdown_table(summary_rows(results), ["Benchmark", "Result", "Compared", "Goal"])
    block = (
        f"Measured {machine_info['date']} on {machine_info['cores']} cores, "
        f"{machine_info['memory_gb']} GB, commit `{machine_info['commit']}`; details and how to "
        f"reproduce: [docs/benchmarks.md](docs/benchmarks.md).\n\n{table}\n"
    )
    if results.get("rerun"):
        block += f"\nRe-run since on the same machine: {', '.join(results['rerun'])}.\n"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        _README_BLOCK.sub(lambda m: m.group(1) + block + m.group(2), text), encoding="utf-8"
    )
