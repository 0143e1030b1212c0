"""ci-kaniko-cache: kaniko without --cache=true, and the archive notice."""

from __future__ import annotations

from layerbot.analysis.model import Severity
from layerbot.analysis.rules import ci_kaniko_cache
from tests.ci.helpers import fixed_text, job, run_rule

KANIKO = "gcr.io/kaniko-project/executor:debug"


def test_uncached_kaniko_is_major_with_the_archive_notice() -> None:
    text = job("/kaniko/executor --context . --destination $CI_REGISTRY_IMAGE:1", image=KANIKO)
    [finding] = run_rule(ci_kaniko_cache, text)
    assert finding.severity is Severity.MAJOR
    assert "archived in June 2025" in finding.message and "buildah" in finding.message
    assert "/kaniko/executor --cache=true --context" in fixed_text(text, finding)


def test_without_a_destination_the_cache_repo_is_named() -> None:
    text = job("/kaniko/executor --context . --no-push", image=KANIKO)
    [finding] = run_rule(ci_kaniko_cache, text)
    assert "--cache=true --cache-repo=$CI_REGISTRY_IMAGE/cache" in fixed_text(text, finding)


def test_cached_kaniko_only_gets_the_information() -> None:
    for flag in ("--cache=true", "--cache"):
        text = job(f"/kaniko/executor {flag} --destination x/y:1", image=KANIKO)
        [finding] = run_rule(ci_kaniko_cache, text)
        assert finding.severity is Severity.INFO and finding.fix is None


def test_cache_false_is_not_caching() -> None:
    text = job("/kaniko/executor --cache=false --destination x/y:1", image=KANIKO)
    assert run_rule(ci_kaniko_cache, text)[0].severity is Severity.MAJOR


def test_other_executors_are_not_kaniko() -> None:
    assert run_rule(ci_kaniko_cache, job("./executor --run", image="python:3.12")) == []
