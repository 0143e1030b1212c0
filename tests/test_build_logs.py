"""Build-log timings: each builder's plain output parsed, matched to a Dockerfile by text, and
turned into what a finding's steps cost. The logs in ``tests/build_logs`` were written for the
project in the shapes each builder prints; the figures below were read off them by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from layerbot.analysis.build_logs import BuildRun, TimedStep, parse_build_log
from layerbot.analysis.dockerfile import parse
from layerbot.analysis.gitlab_ci import load_pipeline
from layerbot.analysis.measured import (
    Measurement,
    build_cost,
    finding_cost,
    match_runs,
    saved_seconds,
    slowest_steps,
    with_build_cost,
)
from layerbot.analysis.model import Finding, RepoView, Severity

ROOT = Path(__file__).resolve().parents[1]
LOGS = Path(__file__).parent / "build_logs"
GO_SERVICE = ROOT / "examples" / "go-service" / "Dockerfile"
DOWNLOAD = "RUN export GOPROXY=https://goproxy.cn && go mod download"


def _runs(name: str) -> list[BuildRun]:
    return parse_build_log((LOGS / name).read_text())


def _by_text(run: BuildRun) -> dict[str, TimedStep]:
    return {step.text: step for step in run.steps}


def test_buildkit_plain_progress_times_each_step_and_skips_internal_vertices() -> None:
    (run,) = _runs("buildkit-go-service.log")
    assert run.builder == "BuildKit"
    steps = _by_text(run)
    assert list(steps) == ["WORKDIR /app", "COPY . .", DOWNLOAD, "RUN go build -o main ."]
    assert steps[DOWNLOAD].seconds == 41.8
    assert steps["RUN go build -o main ."].seconds == 23.6
    assert run.seconds == pytest.approx(0.3 + 0.1 + 41.8 + 23.6)


def test_buildkit_two_builds_in_one_job_with_stages_and_cache_hits() -> None:
    builder, final = _runs("buildkit-two-builds.log")
    download = _by_text(builder)["RUN go mod download"]
    assert (download.stage, download.cached, download.seconds) == ("builder", True, None)
    assert _by_text(builder)["RUN CGO_ENABLED=0 go build -o /out/app ."].seconds == 31.5
    assert [step.stage for step in final.steps] == ["builder", "stage-1", "stage-1"]


def test_buildkit_error_marks_the_failed_step_without_a_time() -> None:
    (run,) = _runs("buildkit-error.log")
    failed = _by_text(run)["RUN npm ci"]
    assert failed.failed and failed.seconds is None
    assert run.seconds is None  # a step that ran has no time: no total is claimed


def test_kaniko_step_lasts_until_the_next_step_and_cache_hits_are_marked() -> None:
    (run,) = _runs("kaniko-go-service.log")
    steps = _by_text(run)
    assert run.builder == "kaniko"
    assert "CMD: /bin/sh" not in steps  # kaniko's own "Cmd:" lines are not instructions
    assert steps[DOWNLOAD].seconds == 44.0  # 22 -> 66
    assert steps["RUN go build -o main ."].seconds == 31.0  # 66 -> 97
    (cached_run,) = _runs("kaniko-cached.log")
    assert _by_text(cached_run)[DOWNLOAD].cached
    assert _by_text(cached_run)["RUN go build -o main ."].seconds == 29.0  # 24 -> 53


def test_classic_builder_is_timed_by_the_runner_timestamps() -> None:
    (run,) = _runs("classic-timestamps.log")
    steps = _by_text(run)
    assert run.builder == "classic builder"
    assert steps["WORKDIR /app"].cached
    assert steps[DOWNLOAD].seconds == pytest.approx(37.0)  # 09:12:03.0 -> 09:12:40.0
    assert steps["RUN go build -o main ."].seconds == pytest.approx(22.6)


def test_buildah_without_timestamps_knows_the_steps_but_no_times() -> None:
    (run,) = _runs("buildah-no-timestamps.log")
    assert run.builder == "Buildah"
    assert _by_text(run)["WORKDIR /app"].cached
    assert all(step.seconds is None for step in run.steps)


def test_a_log_without_a_build_gives_nothing() -> None:
    assert parse_build_log("$ make test\nok  \texample.com/shop 0.012s\nJob succeeded\n") == []


def test_steps_match_by_text_even_when_the_file_gained_a_step_since() -> None:
    text = GO_SERVICE.read_text().replace("WORKDIR /app\n", "WORKDIR /app\nRUN go version\n")
    doc = parse(text)
    timings = match_runs(doc, _runs("buildkit-go-service.log"))
    by_line = {doc.line_text(line).strip(): step.seconds for line, step in timings.items()}
    assert by_line[DOWNLOAD] == 41.8
    assert "RUN go version" not in by_line


def test_a_log_of_another_dockerfile_gives_no_timings() -> None:
    doc = parse(GO_SERVICE.read_text())
    assert match_runs(doc, _runs("buildkit-two-builds.log")) == {}


def _finding(line: int, end_line: int) -> Finding:
    return Finding("dependency-layer-order", Severity.MAJOR, "Dockerfile", line, end_line, "m")


def test_finding_cost_sums_its_steps_and_cached_steps_claim_no_time() -> None:
    doc = parse(GO_SERVICE.read_text())
    ran = Measurement("pipeline #7", match_runs(doc, _runs("buildkit-go-service.log")))
    assert finding_cost(doc, _finding(3, 4), ran) == (
        "in pipeline #7 these steps took 42 s and ran uncached"
    )
    cached = Measurement("pipeline #8", match_runs(doc, _runs("kaniko-cached.log")))
    assert finding_cost(doc, _finding(4, 4), cached) == (
        "in pipeline #8 this step came from the cache"
    )


def test_saved_time_counts_only_steps_the_fix_keeps_cached() -> None:
    doc = parse(GO_SERVICE.read_text())
    timings = match_runs(doc, _runs("buildkit-go-service.log"))
    reordered = GO_SERVICE.read_text().replace(
        "COPY . .\nRUN export GOPROXY=https://goproxy.cn && go mod download\n",
        "COPY go.mod go.sum ./\nRUN export GOPROXY=https://goproxy.cn && go mod download\n"
        "COPY . .\n",
    )
    assert saved_seconds(doc, reordered, timings) == 41.8
    assert saved_seconds(doc, GO_SERVICE.read_text(), timings) == 0.0


def _check(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "layerbot.cli", "check", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 1, done.stderr
    return done.stdout


def test_check_build_log_says_what_the_steps_cost() -> None:
    out = _check(
        "examples/go-service/Dockerfile", "--build-log", str(LOGS / "kaniko-go-service.log")
    )
    assert "in the build log `kaniko-go-service.log` these steps took 45 s and ran uncached" in out
    assert out.rstrip().endswith(
        "measured: `examples/go-service/Dockerfile`: its steps took 76 s in the build log "
        "`kaniko-go-service.log`; the fixes would save about 44 s per code-only pipeline"
    )


def test_check_build_log_of_another_build_says_nothing_about_time() -> None:
    out = _check(
        "examples/go-service/Dockerfile", "--build-log", str(LOGS / "buildkit-two-builds.log")
    )
    assert "build log" not in out and "measured" not in out


def test_slowest_steps_name_the_commands_that_ran_longest() -> None:
    doc = parse(GO_SERVICE.read_text())
    ran = Measurement("pipeline #7", match_runs(doc, _runs("buildkit-go-service.log")))
    # 41.8 s and 23.6 s in the log; WORKDIR (0.3 s) and COPY (0.1 s) are under a second
    assert slowest_steps(ran) == "slowest steps: `go mod download` 42 s, `go build -o main .` 24 s"
    cached = Measurement("pipeline #8", match_runs(doc, _runs("kaniko-cached.log")))
    # the download came from the cache: it is not among the slowest; the build ran 24 → 53
    assert slowest_steps(cached, count=1) == "slowest steps: `go build -o main .` 29 s"


def test_a_ci_finding_on_the_build_gets_what_the_whole_build_cost() -> None:
    ci_text = (GO_SERVICE.parent / ".gitlab-ci.yml").read_text()
    files = {".gitlab-ci.yml": ci_text, "Dockerfile": GO_SERVICE.read_text()}
    pipeline = load_pipeline(".gitlab-ci.yml", ci_text, RepoView.from_files(files))
    doc = parse(GO_SERVICE.read_text(), "Dockerfile")
    # line 11 is the job's `docker build`; line 10 its `docker login`
    on_build = Finding("ci-cache-from", Severity.MAJOR, ".gitlab-ci.yml", 11, 11, "m", "no cache")
    elsewhere = Finding("ci-cache-from", Severity.MAJOR, ".gitlab-ci.yml", 10, 10, "m")
    ran = Measurement("pipeline #7", match_runs(doc, _runs("buildkit-go-service.log")))
    # WORKDIR 0.3 + COPY 0.1 + 41.8 + 23.6 s, all ran
    assert (
        build_cost(ran) == "in pipeline #7 the build's steps took 66 s and none came from the cache"
    )
    priced = with_build_cost([on_build, elsewhere], pipeline, "build", doc, ran)
    assert priced[0].impact == f"no cache; {build_cost(ran)}"
    assert priced[1] == elsewhere
    assert with_build_cost([on_build], pipeline, "deploy", doc, ran) == [on_build]
    # kaniko: WORKDIR 0 s, COPY 1 s, the download cached, the build 24 → 53
    cached = Measurement("pipeline #8", match_runs(doc, _runs("kaniko-cached.log")))
    assert build_cost(cached) == "in pipeline #8 the build's steps took 30 s and 1 of 4 were cached"
