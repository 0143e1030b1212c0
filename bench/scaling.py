"""How analysis time and memory grow with file size: it must be linear, not quadratic.

Each size is analysed in-process (the pure core, fixes included, with the garbage collector's
thresholds ``layerbot check`` sets) and the slope of log(time) against log(size) over the larger
sizes is reported: about 1 is linear, about 2 quadratic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bench.corpus import ci_file_of_size, ci_template_file_of_size, dockerfile_of_size
from bench.measure import measure_call
from layerbot.analysis.engine import analyse_file
from layerbot.analysis.fixes import fix_diff
from layerbot.analysis.model import RepoView
from layerbot.check import fewer_collections


def _analyse_with_fixes(path: str, text: str, repo: RepoView) -> Callable[[], object]:
    def run() -> object:
        findings = analyse_file(path, text, repo).findings
        return [fix_diff(f.path, text, f.fix) for f in findings if f.fix and f.path == path]

    return run


def slope(sizes: Sequence[int], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(seconds) on log(size) over the upper half of the sizes."""
    pairs = [(math.log(n), math.log(t)) for n, t in zip(sizes, seconds, strict=True) if t > 0]
    pairs = pairs[len(pairs) // 2 - (1 if len(pairs) % 2 == 0 else 0) :]
    if len(pairs) < 2:
        return float("nan")
    mean_x = sum(x for x, _ in pairs) / len(pairs)
    mean_y = sum(y for _, y in pairs) / len(pairs)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in pairs)
    variance = sum((x - mean_x) ** 2 for x, _ in pairs)
    return covariance / variance if variance else float("nan")


def _curve(points: list[tuple[int, str, str, RepoView]], repeats: int) -> dict[str, object]:
    rows = []
    for size, path, text, repo in points:
        cost = measure_call(_analyse_with_fixes(path, text, repo), repeats)
        rows.append({"size": size, "seconds": cost.seconds, "peak_mb": cost.peak_bytes / 2**20})
    sizes = [int(row["size"]) for row in rows]
    times = [float(row["seconds"]) for row in rows]
    return {"points": rows, "slope": slope(sizes, times)}


def run(
    dockerfile_sizes: Sequence[int], ci_sizes: Sequence[int], repeats: int
) -> dict[str, object]:
    repo = RepoView.from_files({"requirements.txt": "flask\n"})
    dockerfiles = [(n, "Dockerfile", dockerfile_of_size(n), repo) for n in dockerfile_sizes]
    ci_points, template_points = [], []
    for n in ci_sizes:
        files = RepoView.from_files({f"svc{i}/Dockerfile": "FROM alpine:3.20\n" for i in range(n)})
        ci_points.append((n, ".gitlab-ci.yml", ci_file_of_size(n), files))
        template_points.append((n, ".gitlab-ci.yml", ci_template_file_of_size(n), files))
    with fewer_collections():  # as `layerbot check` runs the analysis
        return {
            "dockerfile_instructions": _curve(dockerfiles, repeats),
            "ci_jobs": _curve(ci_points, repeats),
            "ci_jobs_one_template": _curve(template_points, repeats),
        }
