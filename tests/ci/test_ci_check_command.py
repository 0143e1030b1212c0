"""`layerbot check .gitlab-ci.yml` end to end, inline ignores, and the bot's cross-file helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from layerbot.analysis.engine import analyse_file
from layerbot.analysis.gitlab_ci import ci_jobs_building, dockerfiles_built, load_pipeline
from layerbot.analysis.model import RepoView
from layerbot.pipeline_cache import CACHE_DIR_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
CI = ".gitlab-ci.yml"
JOB = (
    "build:\n"  # 1
    "  image: docker:24.0.5\n"  # 2
    "  script:\n"  # 3
    "    - docker build -t $CI_REGISTRY_IMAGE:latest .\n"  # 4
    "    - docker push $CI_REGISTRY_IMAGE:latest\n"  # 5
)


def layerbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layerbot.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={
            "PYTHONPATH": str(ROOT),
            "PATH": "/usr/bin:/bin",
            CACHE_DIR_VARIABLE: os.environ[CACHE_DIR_VARIABLE],  # the session's (conftest)
        },
    )


def test_check_reports_and_fixes_a_ci_file(tmp_path: Path) -> None:
    (tmp_path / CI).write_text(JOB)
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUN echo hi\n")
    result = layerbot(tmp_path, "check", CI, "--format", "json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule"], f["line"]) for f in findings] == [("ci-cache-from", 4)]
    assert findings[0]["fix"]["replacement"] == [
        "    - docker build --cache-from $CI_REGISTRY_IMAGE:latest "
        "--build-arg BUILDKIT_INLINE_CACHE=1 -t $CI_REGISTRY_IMAGE:latest ."
    ]
    fixed = layerbot(tmp_path, "check", CI, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "--cache-from $CI_REGISTRY_IMAGE:latest" in (tmp_path / CI).read_text()


def test_an_ignore_comment_above_the_job_or_the_line_silences_the_rule() -> None:
    repo = RepoView.from_files({})
    above_job = "# layerbot ignore=ci-cache-from\n" + JOB
    assert analyse_file(CI, above_job, repo).findings == []
    lines = JOB.splitlines(keepends=True)
    above_line = "".join([*lines[:3], "    # layerbot ignore=ci-cache-from\n", *lines[3:]])
    assert analyse_file(CI, above_line, repo).findings == []
    other_rule = "# layerbot ignore=ci-inline-cache\n" + JOB
    assert [f.rule for f in analyse_file(CI, other_rule, repo).findings] == ["ci-cache-from"]


def test_an_ignore_above_a_template_covers_the_jobs_that_extend_it() -> None:
    text = (
        "# layerbot ignore=ci-cache-from\n"
        ".build:\n"
        "  image: docker:24.0.5\n"
        "  script:\n"
        "    - docker build -t $CI_REGISTRY_IMAGE:latest .\n"
        "    - docker push $CI_REGISTRY_IMAGE:latest\n"
        "build:\n"
        "  extends: .build\n"
    )
    assert analyse_file(CI, text, RepoView.from_files({})).findings == []


def test_a_changed_dockerfile_leads_back_to_the_ci_jobs_that_build_it() -> None:
    text = (
        "api:\n"
        "  script:\n"
        "    - docker build -f services/api/Dockerfile -t api .\n"
        "web:\n"
        "  script:\n"
        "    - cd services/web && docker build -t web .\n"
        "kaniko:\n"
        "  image: gcr.io/kaniko-project/executor:debug\n"
        "  script:\n"
        "    - /kaniko/executor --context $CI_PROJECT_DIR/services/api"
        " --dockerfile Dockerfile --no-push\n"
    )
    pipeline = load_pipeline(CI, text, RepoView.from_files({CI: text}))
    assert dockerfiles_built(pipeline) == ["services/api/Dockerfile", "services/web/Dockerfile"]
    assert ci_jobs_building(pipeline, "services/api/Dockerfile") == ["api", "kaniko"]
    assert ci_jobs_building(pipeline, "/services/web/Dockerfile") == ["web"]


def test_the_ci_finding_depends_on_the_dockerfile_it_builds() -> None:
    """The bot re-checks the CI file when only the Dockerfile changes: same CI text, new
    Dockerfile, different finding on the CI file."""
    text = (
        "build:\n"
        "  image: docker:24.0.5\n"
        "  script:\n"
        "    - docker build --cache-from $CI_REGISTRY_IMAGE:latest"
        " --build-arg BUILDKIT_INLINE_CACHE=1 -t $CI_REGISTRY_IMAGE:latest .\n"
        "    - docker push $CI_REGISTRY_IMAGE:latest\n"
    )
    single = "FROM golang:1.22\nRUN go build -o /app .\n"
    multi = "FROM golang:1.22 AS builder\nRUN go build -o /app .\nFROM alpine:3.20\n"
    multi += "COPY --from=builder /app /app\n"
    before = analyse_file(CI, text, RepoView.from_files({CI: text, "Dockerfile": single}))
    after = analyse_file(CI, text, RepoView.from_files({CI: text, "Dockerfile": multi}))
    assert before.findings == []
    assert [(f.rule, f.path, f.line) for f in after.findings] == [("ci-cache-builder-stage", CI, 4)]
