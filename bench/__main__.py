"""``python -m bench``: every benchmark on this machine, a table, JSON and a chart.

``--quick`` is the smoke run CI uses to keep the benchmarks working (seconds, tiny sizes);
its figures mean nothing and no test asserts any timing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench import accuracy, analysis, e2e, intake, memory, report, scaling
from bench.corpus import generate, project_dockerfiles, realworld_dockerfiles
from layerbot.pipeline_cache import CACHE_DIR_VARIABLE

RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _analysis(args: argparse.Namespace) -> dict[str, object]:
    corpora = []
    own = project_dockerfiles()
    realworld = realworld_dockerfiles()
    with tempfile.TemporaryDirectory() as folder, analysis.installed_layerbot() as layerbot:
        generated = generate(Path(folder), 20 if args.quick else 1000)
        for name, files in (
            ("real-world corpus", realworld),
            ("project corpus", own),
            ("generated", generated),
        ):
            if files:
                corpora.append(analysis.compare(layerbot, name, files, args.repeats, args.sample))
    return {"corpora": corpora}


def _cli(args: argparse.Namespace) -> dict[str, object]:
    with analysis.installed_layerbot() as layerbot:
        return analysis.cli_start(layerbot, 3 if args.quick else 21)


def _scaling(args: argparse.Namespace) -> dict[str, object]:
    if args.quick:
        return scaling.run([10, 100], [10, 20], repeats=1)
    return scaling.run([10, 100, 1000, 10000], [10, 100, 1000], repeats=args.repeats)


def _intake(args: argparse.Namespace) -> dict[str, object]:
    if args.quick:
        return intake.run([2], rounds=1, seconds=1.0, redis_url=intake.bench_redis_url())
    levels = [1, intake.GOAL_CONCURRENCY, 64]
    return intake.run(levels, rounds=args.repeats, seconds=5.0, redis_url=intake.bench_redis_url())


def _e2e(args: argparse.Namespace) -> dict[str, object]:
    if args.quick:
        return e2e.run([0.0], [1], sizes=[2], copies=1)
    return e2e.run([0.0, 0.05, 0.15], [1, 4], sizes=[1, 10, 100], copies=3)


def _memory(args: argparse.Namespace) -> dict[str, object]:
    return memory.run(20 if args.quick else 1000)


def _accuracy(args: argparse.Namespace) -> dict[str, object]:
    return accuracy.run()


SECTIONS = {
    "accuracy": _accuracy,
    "cli": _cli,
    "analysis": _analysis,
    "scaling": _scaling,
    "intake": _intake,
    "e2e": _e2e,
    "memory": _memory,
}


Table = tuple[str, list[str], list[list[object]]]


ANALYSIS_GOALS = {
    "one_process": f"≥ {analysis.GOAL_RATIO_ONE_PROCESS:.0f}× hadolint",
    "per_file": f"≤ {analysis.GOAL_START_MS:.0f} ms",
}


# How each tool is called: one command over every file (each tool on every core: layerbot
# forks a worker per core, hadolint runs threads), or one command per file.
ANALYSIS_MODES = {"one_process": "one command", "per_file": "per file"}


def analysis_tables(section: dict[str, Any]) -> list[Table]:
    rows: list[list[object]] = []
    for corpus in section["corpora"]:
        for mode, shown in ANALYSIS_MODES.items():
            for tool in ("layerbot", "hadolint"):
                figures = corpus.get(f"{tool}_{mode}")
                if figures:
                    ours = tool == "layerbot"
                    ratio = corpus.get(f"ratio_{mode}", "") if ours else ""
                    label = (corpus["corpus"], shown, tool, figures["files"])
                    speed = (figures["files_per_s"], figures.get("median_ms", ""))
                    cpu = figures.get("cpu_seconds", "")
                    goal = ANALYSIS_GOALS[mode] if ours else ""
                    rows.append([*label, *speed, cpu, figures["peak_rss_mb"], ratio, goal])
    header = ["corpus", "mode", "tool", "files", "files/s", "median ms", "CPU s"]
    header += ["peak MB", "× hadolint"]
    title = "Analysis throughput (CPU s: user + system time, children included)"
    return [(title, [*header, "goal"], rows)]


def cli_tables(section: dict[str, Any]) -> list[Table]:
    rows: list[list[object]] = []
    for case in section["cases"]:
        hadolint = case.get("hadolint_ms")
        times = hadolint / case["layerbot_ms"] if hadolint else ""
        ours = [case["layerbot_ms"], case["layerbot_cpu_ms"], case["layerbot_import_ms"]]
        theirs = [hadolint or "–", case.get("hadolint_cpu_ms", "–"), times]
        floor = [case["python_ms"], case["python_cpu_ms"]]
        rows.append([case["case"], *ours, *theirs, *floor, f"≤ {section['goal_ms']:.0f} ms"])
    header = ["one Dockerfile, whole process", "layerbot ms", "CPU ms", "imports ms"]
    header += ["hadolint ms", "CPU ms", "× hadolint", "bare python ms", "CPU ms", "goal"]
    return [("CLI start (medians; CPU ms: user + system time of the process)", header, rows)]


def accuracy_tables(section: dict[str, Any]) -> list[Table]:
    rows: list[list[object]] = []
    for rule, figures in section["rules"].items():
        name = f"{rule} (advice)" if figures["advice"] else rule
        counts = [figures[key] for key in ("labelled", "found", "false", "missed")]
        theirs = section["hadolint_recall"].get(rule)
        ratios = [figures["recall"], figures["precision"], theirs]
        rows.append([name, *counts, *("–" if value is None else value for value in ratios)])
    header = ["rule", "labelled", "found", "false", "missed", "recall", "precision"]
    title = (
        f"Accuracy on the real-world corpus ({section['cases']} cases, "
        f"{section['expert_cases']} expert-written; goal: recall and precision >= 0.9)"
    )
    return [(title, [*header, "hadolint recall"], rows)]


def scaling_tables(section: dict[str, Any]) -> list[Table]:
    rows: list[list[object]] = []
    for key, curve in section.items():
        for point in curve["points"]:
            rows.append([key, point["size"], point["seconds"] * 1000, point["peak_mb"]])
        rows.append([key, "slope (log-log)", curve["slope"], ""])
    return [("Scaling", ["input", "size", "ms", "peak MB"], rows)]


def intake_tables(section: dict[str, Any]) -> list[Table]:
    rows: list[list[object]] = []
    ratios = section["ratio_to_naive"]
    for variant in ("queue", "naive"):
        for row in section[variant]:
            ratio = ratios[str(row["concurrency"])]["median"] if variant == "queue" else ""
            rows.append(
                [variant, row["concurrency"], row["requests"], row["accepted_per_s"], ratio]
                + [row["p50_ms"], row["p99_ms"], row["max_ms"], row["errors"]]
                + [row.get(key, "") for key in ("tasks_queued", "duplicates", "lost", "web_rss_mb")]
            )
    header = ["variant", "concurrency", "requests", "accepted/s", "× naive", "p50 ms", "p99 ms"]
    header += ["max ms", "errors", "tasks", "doubled", "lost", "web RSS MB"]
    goal = section["goal"]
    before, after = section["load_average"]
    title = (
        f"Webhook intake beside the naive one (Flask → apply_async, 2 sync workers): medians of "
        f"{section['rounds']} alternating rounds of {section['seconds_per_round']:g} s; goal at "
        f"{goal['concurrency']} connections ≥ {goal['ratio']}×, p99 < {goal['p99_ms']:g} ms, "
        f"0 lost, 0 doubled; machine load average {before} before, {after} after"
    )
    return [(title, header, rows)]


def e2e_tables(section: dict[str, Any]) -> list[Table]:
    goal = section["goal"]
    latency: list[list[object]] = []
    for row in e2e.latency_rows(section):
        at_goal = row["latency_ms"] == goal["latency_ms"]
        met = ("yes" if row["p95_s"] < goal["p95_s"] else "no") if at_goal else ""
        figures = [row[key] for key in ("latency_ms", "reviews", "p50_s", "p95_s")]
        anchor = [row[key] for key in ("anchor_p50_s", "anchor_p95_s", "speedup_p95")]
        target = f"p95 < {goal['p95_s']} s" if at_goal else ""
        latency.append([*figures, *anchor, target, met, row["first_review_s"]])
    latency_header = ["GitLab latency ms", "reviews", "p50 s", "p95 s", "sequential p50 s"]
    latency_header += ["sequential p95 s", "p95 × faster", "goal", "met", "first review s"]
    rows: list[list[object]] = []
    detail: list[list[object]] = []
    for config in section["configs"]:
        if config["reviews_per_s"] is not None:
            counts = (config["latency_ms"], config["workers"], config["reviews"])
            rows.append([*counts, config["completed"], config["reviews_per_s"], config["p95_s"]])
        for review in config["per_review"]:
            if config["workers"] == 1 and config["parallel_calls"] != e2e.SEQUENTIAL_CALLS:
                what = (config["latency_ms"], review["label"], review["changed_dockerfiles"])
                calls = (review["read_calls"], review["write_calls"])
                detail.append(
                    [
                        *what,
                        review["seconds"],
                        *calls,
                        review["notes_created"],
                        review["bulk_publishes"],
                    ]
                )
    header = ["GitLab latency ms", "workers", "reviews", "completed", "reviews/s", "p95 s"]
    detail_header = ["GitLab latency ms", "merge request", "Dockerfiles", "seconds", "reads"]
    detail_header += ["writes"]
    return [
        (
            f"Review latency (1 worker, calls at once vs one after the other; goal: p95 < "
            f"{goal['p95_s']} s at {goal['latency_ms']:.0f} ms per GitLab call)",
            latency_header,
            latency,
        ),
        ("Review throughput (a burst of the typical MRs)", header, rows),
        ("Per review (1 worker)", [*detail_header, "notes created", "bulk publishes"], detail),
    ]


def memory_tables(section: dict[str, Any]) -> list[Table]:
    rows: list[list[object]] = [[p["reviews"], p["rss_mb"]] for p in section["points"]]
    rows.append(["growth after warm-up", section["growth_mb"]])
    return [("Worker memory (one prefork child)", ["reviews done", "RSS MB"], rows)]


TABLES = {
    "accuracy": accuracy_tables,
    "cli": cli_tables,
    "analysis": analysis_tables,
    "scaling": scaling_tables,
    "intake": intake_tables,
    "e2e": e2e_tables,
    "memory": memory_tables,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, one repeat")
    parser.add_argument(
        "--only", default="", help="comma-separated sections: " + ",".join(SECTIONS)
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=100, help="files timed one process each")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--write-docs", action="store_true", help="also rewrite docs/benchmarks.md from this run"
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.sample = 1, 3
    chosen = [name for name in args.only.split(",") if name] or list(SECTIONS)
    results: dict[str, object] = {"machine": report.machine(), "quick": args.quick}
    previous = args.out / "latest.json"
    if args.write_docs and args.only and previous.exists():
        # Re-running some sections refreshes them in the last full run's results.
        kept = json.loads(previous.read_text())
        if not kept.get("quick"):
            now = results["machine"]
            assert isinstance(now, dict)
            rerun = [f"{name} ({now['date']}, commit `{now['commit']}`)" for name in chosen]
            # The latest re-run of each section: what the figures now come from.
            earlier = [r for r in kept.get("rerun", []) if r.split(" ", 1)[0] not in chosen]
            results = {**kept, "quick": False, "rerun": [*earlier, *rerun]}
    # The checks it starts keep their CI facts in a folder of the run's own, not the user's.
    with tempfile.TemporaryDirectory(prefix="bench-layerbot-cache-") as cache:
        os.environ[CACHE_DIR_VARIABLE] = cache
        for name in chosen:
            print(f"\n== {name}")
            results[name] = SECTIONS[name](args)
            for title, header, rows in TABLES[name](results[name]):
                print(f"\n{title}\n" + report.table(rows, header))
    path = report.write_json(results, args.out)
    if "scaling" in results:
        report.write_chart(results["scaling"], args.out)  # type: ignore[arg-type]
    if "e2e" in results:
        report.write_latency_chart(e2e.latency_rows(results["e2e"]), args.out)  # type: ignore[arg-type]
    print(f"\nwrote {path}")
    if args.write_docs:
        present = [name for name in SECTIONS if name in results]
        tables = [table for name in present for table in TABLES[name](results[name])]
        docs = report.write_docs(
            results["machine"],  # type: ignore[arg-type]
            tables,
            DOCS,
            rerun=results.get("rerun", []),  # type: ignore[arg-type]
        )
        print(f"wrote {docs}")
        if not args.quick and set(present) == set(SECTIONS):
            report.write_readme_summary(results)
            print(f"wrote {report.README}")


if __name__ == "__main__":
    main()
