"""ci-cache-builder-stage: multi-stage builds whose cache holds the final stage only."""

from __future__ import annotations

from layerbot.analysis.gitlab_ci import load_pipeline
from layerbot.analysis.model import RepoView, Safety
from layerbot.analysis.rules import ci_cache_builder_stage
from tests.ci.helpers import fixed_text, job, run_rule

LATEST = "$CI_REGISTRY_IMAGE:latest"
INLINE = "--build-arg BUILDKIT_INLINE_CACHE=1"
MULTI = (
    "FROM golang:1.22 AS builder\n"
    "RUN go mod download\n"
    "RUN go build -o /app .\n"
    "FROM alpine:3.20\n"
    "COPY --from=builder /app /app\n"
)
BUILD = f"docker build --cache-from {LATEST} {INLINE} -t {LATEST} -f docker/Dockerfile ."


def test_the_fix_builds_and_pushes_the_builder_stage_with_the_jobs_flags() -> None:
    text = job(BUILD, f"docker push {LATEST}", image="docker:20.10")
    [finding] = run_rule(ci_cache_builder_stage, text, {"docker/Dockerfile": MULTI})
    assert "`builder`" in finding.message and "`go mod download`" in finding.message
    assert finding.fix is not None and finding.fix.safety is Safety.REVIEW
    builder = "$CI_REGISTRY_IMAGE:builder"
    assert fixed_text(text, finding).splitlines()[3:7] == [
        f"    - docker pull {builder} || true",
        f"    - docker build --target builder --cache-from {builder} --file docker/Dockerfile"
        f" --tag {builder} .",
        f"    - docker push {builder}",
        f"    - docker build --cache-from {builder} --cache-from {LATEST} {INLINE} -t {LATEST}"
        " -f docker/Dockerfile .",
    ]


def test_the_fixed_pipeline_is_not_reported_again() -> None:
    text = job(BUILD, f"docker push {LATEST}")
    files = {"docker/Dockerfile": MULTI}
    [finding] = run_rule(ci_cache_builder_stage, text, files)
    after = fixed_text(text, finding)
    load_pipeline(".gitlab-ci.yml", after, RepoView.from_files(files))
    assert run_rule(ci_cache_builder_stage, after, files) == []


def test_single_stage_missing_dockerfile_and_mode_max_are_fine() -> None:
    single = "FROM golang:1.22\nRUN go build .\n"
    assert run_rule(ci_cache_builder_stage, job(BUILD), {"docker/Dockerfile": single}) == []
    assert run_rule(ci_cache_builder_stage, job(BUILD)) == []
    max_mode = (
        "docker buildx build --cache-to type=registry,ref=$CI_REGISTRY_IMAGE:c,mode=max "
        "--cache-from type=registry,ref=$CI_REGISTRY_IMAGE:c -f docker/Dockerfile ."
    )
    assert run_rule(ci_cache_builder_stage, job(max_mode), {"docker/Dockerfile": MULTI}) == []


def test_builds_without_any_cache_are_left_to_ci_cache_from() -> None:
    plain = job(f"docker build -t {LATEST} -f docker/Dockerfile .")
    assert run_rule(ci_cache_builder_stage, plain, {"docker/Dockerfile": MULTI}) == []


def test_stages_that_do_no_work_or_are_unused_do_not_count() -> None:
    copy_only = "FROM alpine:3.20 AS files\nCOPY conf /conf\nFROM alpine:3.20\n"
    copy_only += "COPY --from=files /conf /conf\n"
    unused = "FROM golang:1.22 AS tools\nRUN go install x\nFROM alpine:3.20\nRUN echo hi\n"
    for dockerfile in (copy_only, unused):
        assert run_rule(ci_cache_builder_stage, job(BUILD), {"docker/Dockerfile": dockerfile}) == []


def test_an_unnamed_builder_stage_gets_the_finding_without_a_fix() -> None:
    unnamed = (
        "FROM golang:1.22\nRUN go build -o /app .\nFROM alpine:3.20\nCOPY --from=0 /app /app\n"
    )
    [finding] = run_rule(ci_cache_builder_stage, job(BUILD), {"docker/Dockerfile": unnamed})
    assert finding.fix is None and "`0`" in finding.message
