"""``layerbot check`` keeps the CI configuration's facts between runs
(:mod:`layerbot.pipeline_cache`): they are used while every file and folder they came from is
unchanged, worked out again otherwise, and the report is the one a fresh check gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layerbot.analysis.model import PipelineFacts
from layerbot.check import LocalRepoView
from layerbot.cli import main
from layerbot.pipeline_cache import CACHE_DIR_VARIABLE, give_pipeline_facts

DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
CMD ["python", "app.py"]
"""
BUILD_FROM_ROOT = "build:\n  script:\n    - docker build -f docker/Dockerfile .\n"
BUILD_IN_FOLDER = "build:\n  script:\n    - docker build docker\n"
FROM_ROOT = PipelineFacts({"docker/Dockerfile": "."}, {})
IN_FOLDER = PipelineFacts({"docker/Dockerfile": "docker"}, {})


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Dockerfile under docker/, built by a job an ``include: local`` wildcard brings in."""
    root = tmp_path / "repository"
    (root / ".git").mkdir(parents=True)
    (root / "docker").mkdir()
    (root / "ci").mkdir()
    (root / "docker" / "Dockerfile").write_text(DOCKERFILE)
    (root / "requirements.txt").write_text("flask\n")
    (root / ".gitlab-ci.yml").write_text("include:\n  - local: ci/*.yml\n")
    (root / "ci" / "build.yml").write_text(BUILD_FROM_ROOT)
    monkeypatch.chdir(root)
    return root


def _check(capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, object]:
    assert main(["check", "--format", "json", *options, "docker/Dockerfile"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert isinstance(report, dict)
    return report


def _ignore_file(report: dict[str, object]) -> str:
    """The ignore file the dockerignore finding asks for: the build context's."""
    findings = report["findings"]
    assert isinstance(findings, list)
    [message] = [f["message"] for f in findings if f["rule"] == "dockerignore"]
    return str(message).split("there is no `", 1)[1].split("`", 1)[0]


def _kept(root: Path) -> PipelineFacts | None:
    """The facts a new check of ``root`` is handed from the cache, ``None`` when it has to work
    them out (which keeps them for the next one)."""
    view = LocalRepoView(str(root))
    give_pipeline_facts(view, str(root))
    return view.pipeline_facts


def _cache_file(cache: Path) -> Path:
    [kept] = (cache / "pipelines").glob("*.json")
    return kept


def test_the_next_check_is_handed_the_kept_facts_and_reports_the_same(
    repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _check(capsys)
    assert _kept(repository) == FROM_ROOT
    assert _check(capsys) == first
    assert _check(capsys, "--no-cache") == first
    assert _ignore_file(first) == ".dockerignore"  # the root: the job builds with `.`


def test_an_edited_include_is_read_again(
    repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(capsys)
    (repository / "ci" / "build.yml").write_text(BUILD_IN_FOLDER)
    assert _kept(repository) is None
    assert _ignore_file(_check(capsys)) == "docker/.dockerignore"
    assert _kept(repository) == IN_FOLDER


def test_a_file_new_in_a_wildcard_include_folder_is_read(
    repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repository / "ci" / "build.yml").write_text(BUILD_IN_FOLDER)
    assert _ignore_file(_check(capsys)) == "docker/.dockerignore"
    (repository / "ci" / "a-first.yml").write_text(BUILD_FROM_ROOT.replace("build:", "early:"))
    assert _kept(repository) is None
    assert _ignore_file(_check(capsys)) == ".dockerignore"  # the first build's context


def test_an_include_that_was_missing_is_read_once_it_is_there(
    repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repository / ".gitlab-ci.yml").write_text("include:\n  - local: ci/docker.yml\n")
    (repository / "ci" / "build.yml").unlink()
    assert _ignore_file(_check(capsys)) == "docker/.dockerignore"  # no job: its own folder
    assert _kept(repository) == PipelineFacts({}, {})
    (repository / "ci" / "docker.yml").write_text(BUILD_FROM_ROOT)
    assert _kept(repository) is None
    assert _ignore_file(_check(capsys)) == ".dockerignore"


def test_both_facts_survive_the_cache(repository: Path, cache: Path) -> None:
    (repository / "ci" / "build.yml").write_text(
        "tools:\n  script:\n    - docker build -t registry.example/tools:stable docker\n"
        "lint:\n  image: registry.example/tools:stable\n  script:\n    - make lint\n"
    )
    worked_out = PipelineFacts({"docker/Dockerfile": "docker"}, {"docker/Dockerfile": "lint"})
    assert _kept(repository) is None
    assert _kept(repository) == worked_out


@pytest.mark.parametrize("key", ["layout", "root", "engine", "ci_file"])
def test_facts_kept_for_another_repository_engine_or_file_are_not_used(
    key: str, repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(capsys)
    kept = json.loads(_cache_file(cache).read_text())
    kept[key] = "another"
    _cache_file(cache).write_text(json.dumps(kept))
    assert _kept(repository) is None


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"facts": 1}', "\udcff", ""], ids=repr)
def test_a_damaged_cache_file_is_a_miss_and_is_replaced(
    damage: str, repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = _check(capsys)
    _cache_file(cache).write_bytes(damage.encode("utf-8", "surrogateescape"))
    assert _check(capsys) == fresh
    assert _kept(repository) == FROM_ROOT


def test_a_cache_folder_that_cannot_be_written_changes_nothing(
    repository: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(blocked / "cache"))
    fresh = _check(capsys, "--no-cache")
    assert _check(capsys) == fresh
    assert _check(capsys) == fresh
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "repository"]


def test_no_cache_keeps_nothing(
    repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(capsys, "--no-cache")
    assert not cache.exists()


def test_a_check_of_the_ci_file_alone_keeps_nothing(
    repository: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its own check loads the pipeline anyway: the facts would be a second load."""
    main(["check", "--format", "json", ".gitlab-ci.yml"])
    assert json.loads(capsys.readouterr().out)["files"] == 1
    assert not cache.exists()
    _check(capsys)
    assert _cache_file(cache).exists()
