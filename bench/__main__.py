"""``python -m bench``: every benchmark on this machine, a table, JSON and a chart.

``--quick`` is the smoke run CI uses to keep the benchmarks working (seconds, tiny sizes);
its figures mean nothing and no test asserts any timing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import analysis, intake, report, scaling
from bench.corpus import generate, project_dockerfiles

RESULTS = Path(__file__).resolve().parent / "results"


def _analysis(args: argparse.Namespace) -> dict[str, object]:
    corpora = []
    own = project_dockerfiles()
    with tempfile.TemporaryDirectory() as folder:
        generated = generate(Path(folder), 20 if args.quick else 1000)
        if own:
            corpora.append(analysis.compare("project corpus", own, args.repeats, args.sample))
        corpora.append(analysis.compare("generated", generated, args.repeats, args.sample))
    return {"corpora": corpora}


def _scaling(args: argparse.Namespace) -> dict[str, object]:
    if args.quick:
        return scaling.run([10, 100], [10, 20], repeats=1)
    return scaling.run([10, 100, 1000, 10000], [10, 100, 1000], repeats=args.repeats)


def _intake(args: argparse.Namespace) -> dict[str, object]:
    levels = [2] if args.quick else [1, 8, 32, 64]
    seconds = 1.0 if args.quick else 5.0
    return intake.run(levels, seconds, intake.bench_redis_url(), naive_latency=0.05)


SECTIONS = {"analysis": _analysis, "scaling": _scaling, "intake": _intake}


def _print_analysis(section: dict[str, object]) -> None:
    rows = []
    for corpus in section["corpora"]:  # type: ignore[attr-defined]
        for mode in ("one_process", "per_file"):
            for tool in ("layerbot", "hadolint"):
                figures = corpus.get(f"{tool}_{mode}")
                if figures:
                    rows.append(
                        [
                            corpus["corpus"],
                            mode.replace("_", " "),
                            tool,
                            figures["files"],
                            figures["files_per_s"],
                            figures.get("median_ms", ""),
                            figures["peak_rss_mb"],
                            corpus.get(f"ratio_{mode}", "") if tool == "layerbot" else "",
                        ]
                    )
    header = ["corpus", "mode", "tool", "files", "files/s", "median ms", "peak MB", "× hadolint"]
    print(report.table(rows, header))


def _print_scaling(section: dict[str, object]) -> None:
    rows = []
    for key, curve in section.items():
        for point in curve["points"]:  # type: ignore[index]
            rows.append(
                [key, point["size"], point["seconds"] * 1000, point["peak_mb"], curve["slope"]]
            )  # type: ignore[index]
    print(report.table(rows, ["input", "size", "ms", "peak MB", "slope"]))


def _print_intake(section: dict[str, object]) -> None:
    rows = []
    for variant in ("queue", "naive"):
        for row in section[variant]:  # type: ignore[attr-defined]
            rows.append(
                [
                    variant,
                    row["concurrency"],
                    row["requests"],
                    row["accepted_per_s"],
                    row["p50_ms"],
                    row["p99_ms"],
                    row["max_ms"],
                    row["errors"],
                    row.get("tasks_queued", ""),
                    row.get("duplicates", ""),
                    row.get("lost", ""),
                ]
            )
    header = [
        "variant",
        "conc.",
        "requests",
        "accepted/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "tasks",
        "doubled",
        "lost",
    ]
    print(report.table(rows, header))


PRINTERS = {"analysis": _print_analysis, "scaling": _print_scaling, "intake": _print_intake}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, one repeat")
    parser.add_argument(
        "--only", default="", help="comma-separated sections: " + ",".join(SECTIONS)
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=100, help="files timed one process each")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.sample = 1, 3
    chosen = [name for name in args.only.split(",") if name] or list(SECTIONS)
    results: dict[str, object] = {"machine": report.machine(), "quick": args.quick}
    for name in chosen:
        print(f"\n== {name}")
        results[name] = SECTIONS[name](args)
        PRINTERS[name](results[name])  # type: ignore[arg-type]
    path = report.write_json(results, args.out)
    if "scaling" in results:
        report.write_chart(results["scaling"], args.out)  # type: ignore[arg-type]
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
