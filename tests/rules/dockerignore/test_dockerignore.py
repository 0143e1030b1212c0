"""dockerignore on fixture build contexts: one per ecosystem family, plus the exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerbot.analysis import dockerfile
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.model import RepoView, Safety
from layerbot.analysis.rules import dockerignore as rule
from tests.rules.fix_checks import EXPECTED, assert_fix_is_sound, load_fixture, run_check

FIXTURES = Path(__file__).parent / "fixtures"
POSITIVE = sorted(p.name for p in FIXTURES.iterdir() if not p.name.startswith("ok-"))
NEGATIVE = sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith("ok-"))


@pytest.mark.parametrize("case", POSITIVE)
def test_positive_case_creates_the_expected_file(case: str, tmp_path: Path) -> None:
    files = load_fixture(FIXTURES / case)
    [finding] = run_check(rule.check, files)
    assert finding.fix is not None
    assert (finding.fix.path, finding.fix.creates_file) == (".dockerignore", True)
    assert finding.fix.safety is Safety.REVIEW
    assert finding.impact is not None and "build steps of this stage" in finding.impact
    patched = assert_fix_is_sound(tmp_path, rule.check, files, finding)
    assert patched[".dockerignore"] == (FIXTURES / case / EXPECTED).read_text()


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_case(case: str) -> None:
    assert run_check(rule.check, load_fixture(FIXTURES / case)) == []


def entries(case: str) -> list[str]:
    return (FIXTURES / case / EXPECTED).read_text().splitlines()


def test_entries_are_fitted_to_the_ecosystem() -> None:
    assert "**/node_modules" in entries("node")
    assert "target" in entries("maven") and "**/node_modules" not in entries("maven")
    assert {"**/bin", "**/obj"} <= set(entries("dotnet-subfolder-context"))
    assert "**/__pycache__" in entries("python-tracked-build-folder")
    assert {".git", ".env", "!.env.example"} <= set(entries("go"))


def test_what_the_dockerfile_needs_is_never_excluded() -> None:
    assert "dist" in entries("node") and "dist" not in entries("node-prebuilt-dist")
    assert ".git" not in entries("rust-uses-git")
    assert "build" not in entries("python-tracked-build-folder")


def test_fix_path_is_the_context_root_for_a_nested_dockerfile() -> None:
    files = {"svc/Dockerfile": "FROM node:20\nCOPY . .\n", "svc/package.json": "{}"}
    [finding] = run_check(rule.check, files, "svc/Dockerfile")
    assert finding.fix is not None and finding.fix.path == "svc/.dockerignore"
    assert finding.impact is not None and "`.git`" not in finding.impact  # not in this context


def test_dockerfile_specific_ignore_file_is_looked_up_next_to_the_dockerfile() -> None:
    files = {
        "docker/api.Dockerfile": "FROM node:20\nCOPY . .\n",
        "docker/api.Dockerfile.dockerignore": "node_modules\n",
        "package.json": "{}",
    }
    doc_path = "docker/api.Dockerfile"
    ctx = DockerfileContext.for_file(
        dockerfile.parse(files[doc_path], doc_path), RepoView.from_files(files), ""
    )
    assert list(rule.check(ctx)) == []
    del files["docker/api.Dockerfile.dockerignore"]
    ctx = DockerfileContext.for_file(
        dockerfile.parse(files[doc_path], doc_path), RepoView.from_files(files), ""
    )
    [finding] = rule.check(ctx)
    assert finding.fix is not None and finding.fix.path == ".dockerignore"
