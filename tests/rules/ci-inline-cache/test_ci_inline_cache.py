"""ci-inline-cache: BuildKit cache images built without inline cache metadata."""

from __future__ import annotations

from layerbot.analysis.model import Safety, Severity
from layerbot.analysis.rules import ci_inline_cache
from tests.ci.helpers import fixed_text, job, run_rule

LATEST = "$CI_REGISTRY_IMAGE:latest"
BUILD = f"docker build --cache-from {LATEST} -t {LATEST} ."


def test_known_buildkit_is_major_and_the_fix_adds_the_build_arg() -> None:
    text = job(f"docker pull {LATEST} || true", BUILD, f"docker push {LATEST}")
    [finding] = run_rule(ci_inline_cache, text)
    assert (finding.line, finding.severity) == (5, Severity.MAJOR)
    assert finding.fix is not None and finding.fix.safety is Safety.SAFE
    assert "docker build --build-arg BUILDKIT_INLINE_CACHE=1 --cache-from" in fixed_text(
        text, finding
    )


def test_unknown_docker_is_minor() -> None:
    text = job(BUILD, f"docker push {LATEST}", image="registry.example.com/ci/tools:3")
    [finding] = run_rule(ci_inline_cache, text)
    assert finding.severity is Severity.MINOR
    assert "does not say which Docker" in finding.message


def test_classic_builder_is_not_this_rules_business() -> None:
    assert run_rule(ci_inline_cache, job(BUILD, image="docker:20.10")) == []
    text = "variables:\n  DOCKER_BUILDKIT: 0\n" + job(BUILD)
    assert run_rule(ci_inline_cache, text) == []


def test_export_shell_variable_turns_buildkit_on() -> None:
    text = job("export DOCKER_BUILDKIT=1", BUILD, image="docker:20.10")
    [finding] = run_rule(ci_inline_cache, text)
    assert finding.severity is Severity.MAJOR and "DOCKER_BUILDKIT=1" in finding.message


def test_images_built_with_metadata_or_exported_caches_are_fine() -> None:
    with_arg = (
        f"docker build --build-arg BUILDKIT_INLINE_CACHE=1 --cache-from {LATEST} -t {LATEST} ."
    )
    assert run_rule(ci_inline_cache, job(with_arg)) == []
    registry = (
        "docker buildx build --cache-from type=registry,ref=$CI_REGISTRY_IMAGE:cache "
        "--cache-to type=registry,ref=$CI_REGISTRY_IMAGE:cache,mode=max -t app ."
    )
    assert run_rule(ci_inline_cache, job(registry)) == []


def test_a_cache_image_built_elsewhere_is_not_judged() -> None:
    assert run_rule(ci_inline_cache, job("docker build --cache-from other/image:1 -t app .")) == []


def test_the_finding_lands_on_the_build_that_produces_the_image() -> None:
    text = (
        job(f"docker build -t {LATEST} .", f"docker push {LATEST}")
        + "test-image:\n  image: docker:24.0.5\n  script:\n"
        + f"    - docker build --cache-from {LATEST} -t app:test .\n"
    )
    [finding] = run_rule(ci_inline_cache, text)
    assert finding.line == 4 and "job `test-image`" in finding.message


def test_buildx_producers_get_an_inline_cache_export() -> None:
    text = job(f"docker buildx build --push --cache-from {LATEST} -t {LATEST} .")
    [finding] = run_rule(ci_inline_cache, text)
    assert "docker buildx build --cache-to type=inline --push" in fixed_text(text, finding)


def test_impact_counts_the_steps_the_build_runs_for_its_target() -> None:
    dockerfile = (
        "FROM golang:1.22 AS builder\n"
        "COPY go.mod go.sum ./\n"
        "RUN go mod download\n"
        "FROM alpine:3.20\n"
        "COPY --from=builder /go /go\n"
        "RUN apk add --no-cache git\n"
    )
    builder = "$CI_REGISTRY_IMAGE:builder"
    text = job(
        f"docker build --target builder --cache-from {builder} -t {builder} .",
        f"docker push {builder}",
        BUILD,
    )
    findings = run_rule(ci_inline_cache, text, {"Dockerfile": dockerfile})
    assert [(f.line, f.impact) for f in findings] == [
        (
            4,
            "every pipeline re-runs all 2 RUN/COPY/ADD steps of `Dockerfile`, including "
            "`go mod download`",
        ),
        (
            6,
            "every pipeline re-runs all 4 RUN/COPY/ADD steps of `Dockerfile`, including "
            "`go mod download`, `apk add --no-cache git`",
        ),
    ]
