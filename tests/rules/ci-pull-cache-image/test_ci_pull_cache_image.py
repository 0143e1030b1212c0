"""ci-pull-cache-image: the classic builder's cache images must be pulled first."""

from __future__ import annotations

from layerbot.analysis.rules import ci_pull_cache_image
from tests.ci.helpers import fixed_text, job, run_rule

LATEST = "$CI_REGISTRY_IMAGE:latest"
BUILD = f"docker build --cache-from {LATEST} -t {LATEST} ."


def test_missing_pull_on_old_docker_gets_one_inserted_before_the_build() -> None:
    text = job(BUILD, f"docker push {LATEST}", image="docker:19.03.12")
    [finding] = run_rule(ci_pull_cache_image, text)
    assert finding.line == 4 and "docker:19.03.12" in finding.message
    assert fixed_text(text, finding).splitlines()[3:5] == [
        f"    - docker pull {LATEST} || true",
        f"    - {BUILD}",
    ]


def test_a_pull_in_before_script_counts() -> None:
    text = job(BUILD, image="docker:20.10", before=(f"docker pull {LATEST} || true",))
    assert run_rule(ci_pull_cache_image, text) == []


def test_a_pull_after_the_build_does_not_count() -> None:
    text = job(BUILD, f"docker pull {LATEST}", image="docker:20.10")
    assert len(run_rule(ci_pull_cache_image, text)) == 1


def test_buildkit_and_unknown_docker_are_left_alone() -> None:
    assert run_rule(ci_pull_cache_image, job(BUILD, image="docker:24.0.5")) == []
    assert run_rule(ci_pull_cache_image, job(BUILD, image="alpine:3.20")) == []


def test_the_variable_spelling_of_the_pull_follows_the_build() -> None:
    text = "variables:\n  CACHE: $CI_REGISTRY_IMAGE:main\n" + job(
        "DOCKER_BUILDKIT=0 docker build --cache-from $CACHE -t app .", image="docker:27"
    )
    [finding] = run_rule(ci_pull_cache_image, text)
    assert "    - docker pull $CACHE || true" in fixed_text(text, finding).splitlines()


def test_inside_a_literal_block_the_pull_is_a_new_line_of_the_block() -> None:
    text = (
        "build:\n"
        "  image: docker:20.10\n"
        "  script:\n"
        "    - |\n"
        "      set -e\n"
        f"      docker build --cache-from {LATEST} -t {LATEST} .\n"
    )
    [finding] = run_rule(ci_pull_cache_image, text)
    assert fixed_text(text, finding).splitlines()[5] == f"      docker pull {LATEST} || true"


def test_no_pull_is_wedged_into_a_command_continued_from_the_line_before() -> None:
    for ending in (" &&", " ||", " |"):
        text = (
            "build:\n"
            "  image: docker:20.10\n"
            "  script:\n"
            "    - |\n"
            f"      docker info{ending}\n"
            f"      docker build --cache-from {LATEST} -t {LATEST} .\n"
        )
        [finding] = run_rule(ci_pull_cache_image, text)
        assert finding.fix is None, ending


def test_a_plain_scalar_in_a_flow_sequence_is_not_edited() -> None:
    text = f"build:\n  image: docker:20.10\n  script: [{BUILD}]\n"
    [finding] = run_rule(ci_pull_cache_image, text)
    assert finding.fix is None
