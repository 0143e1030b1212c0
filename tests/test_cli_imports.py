"""What ``layerbot check`` imports: pre-commit and CI jobs start it once per file, so it must
not pay for the bot's web side, its Celery side or the GitLab client (nor for YAML when the
repository has no CI configuration). Read from ``python -X importtime`` in a fresh process,
so a module-level import added anywhere on the path shows up here; no timing is asserted."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from layerbot.pipeline_cache import CACHE_DIR_VARIABLE

ROOT = Path(__file__).resolve().parents[1]

BOT_SIDE = {"flask", "werkzeug", "celery", "kombu", "redis", "gitlab", "prometheus_client"}
BOT_PACKAGES = {"bot", "workers", "layerbot.settings", "layerbot.celery_app", "layerbot.health"}
CI_LOADER = {"yaml", "layerbot.analysis.ci_yaml", "layerbot.analysis.gitlab_ci"}
# What the start of a check does without (docs/architecture.md, "Records, not dataclasses"):
# dataclasses compile code at import and bring inspect and ast; typing and pathlib (with
# urllib.parse and ipaddress) cost milliseconds the check has no use for at run time.
SLOW_TO_IMPORT = {"dataclasses", "inspect", "ast", "typing", "pathlib", "urllib", "ipaddress"}

DOCKERFILE = """\
FROM python:3.12
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
CMD ["python", "app.py"]
"""


def imported_by_check(repository: Path) -> set[str]:
    """Every module a ``layerbot check Dockerfile`` process imported, in ``repository``.

    Without ``site`` (``-S``), the installed libraries put on the path by hand: an editable
    install's import finder, run by ``site`` at start, imports ``pathlib`` before the check
    would, and a normal install has no such finder.
    """
    path = os.pathsep.join([str(ROOT), sysconfig.get_path("purelib")])
    result = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-m", "layerbot.cli", "check", "Dockerfile"],
        capture_output=True,
        text=True,
        cwd=repository,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": path,
            CACHE_DIR_VARIABLE: os.environ[CACHE_DIR_VARIABLE],  # the session's (conftest)
        },
    )
    # The check ran: the COPY before the install is reported (exit status 1).
    assert result.returncode == 1, result.stderr[-2000:]
    assert "dependency-layer-order" in result.stdout
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "layerbot.analysis.engine" in names  # the parse of importtime's output works
    return names


def _top_levels(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names} | names


def _repository(folder: Path, files: dict[str, str]) -> Path:
    (folder / ".git").mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_check_of_a_dockerfile_imports_neither_the_bot_nor_yaml(tmp_path: Path) -> None:
    repository = _repository(tmp_path, {"Dockerfile": DOCKERFILE, "requirements.txt": "flask\n"})
    names = _top_levels(imported_by_check(repository))
    assert names & BOT_SIDE == set()
    assert names & BOT_PACKAGES == set()
    assert names & CI_LOADER == set()
    assert names & SLOW_TO_IMPORT == set()


def test_a_ci_configuration_brings_yaml_but_still_not_the_bot(tmp_path: Path) -> None:
    ci = "build:\n  script:\n    - docker build -t app .\n"
    repository = _repository(
        tmp_path,
        {"Dockerfile": DOCKERFILE, "requirements.txt": "flask\n", ".gitlab-ci.yml": ci},
    )
    names = _top_levels(imported_by_check(repository))
    assert names >= CI_LOADER  # the build context comes from the CI job
    assert names & BOT_SIDE == set()
    assert names & BOT_PACKAGES == set()
    assert names & SLOW_TO_IMPORT == set()


def test_a_second_check_takes_the_ci_facts_from_the_cache_without_yaml(tmp_path: Path) -> None:
    ci = "build:\n  script:\n    - docker build -t app .\n"
    repository = _repository(
        tmp_path,
        {"Dockerfile": DOCKERFILE, "requirements.txt": "flask\n", ".gitlab-ci.yml": ci},
    )
    assert _top_levels(imported_by_check(repository)) >= CI_LOADER  # worked out, then kept
    names = _top_levels(imported_by_check(repository))
    assert names & CI_LOADER == set()
    assert names & SLOW_TO_IMPORT == set()
