"""The CI/CD catalog components in ``templates/`` (issue 12, install paths).

GitLab's component layout: a top-level ``templates/`` folder, one ``NAME.yml`` per component,
each a ``spec:`` header document (``inputs`` with defaults and descriptions), ``---``, then the
configuration, where ``$[[ inputs.NAME ]]`` is replaced by the input's value. Checked here: the
header is well formed, every input used is declared and every declared input used, and with the
default inputs the configuration loads with the project's own CI loader into the job it
promises, a job that `layerbot check` finds nothing in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from layerbot.analysis import gitlab_ci
from layerbot.analysis.engine import analyse
from layerbot.analysis.model import RepoView

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
INPUT = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")
INPUT_KEYS = {"default", "description", "type", "options", "regex"}
COMPONENTS = {
    "code-quality": ("layerbot-code-quality", "layerbot check --format gitlab"),
    "review": ("layerbot-review", "layerbot review"),
}


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.yml").read_text(encoding="utf-8")


def header_and_body(text: str) -> tuple[dict[str, Any], str]:
    head, separator, body = text.partition("\n---\n")
    assert separator, "a component is a spec: header, ---, then the configuration"
    spec = yaml.safe_load(head)
    assert isinstance(spec, dict)
    return spec, body


def with_defaults(text: str) -> str:
    """The configuration as GitLab builds it when the including project passes no input."""
    spec, body = header_and_body(text)
    inputs = spec["spec"]["inputs"]
    return INPUT.sub(lambda match: str(inputs[match.group(1)]["default"]), body)


def test_the_templates_folder_holds_exactly_the_documented_components() -> None:
    assert sorted(path.stem for path in TEMPLATES.glob("*.yml")) == sorted(COMPONENTS)


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_spec_header_declares_every_input_it_uses(name: str) -> None:
    spec, body = header_and_body(template(name))
    assert list(spec) == ["spec"]
    inputs = spec["spec"]["inputs"]
    assert isinstance(inputs, dict) and inputs
    for input_name, declared in inputs.items():
        assert isinstance(declared, dict), input_name
        assert set(declared) <= INPUT_KEYS, input_name
        assert "default" in declared, f"{input_name}: one include line must be enough"
        assert str(declared.get("description", "")).strip(), input_name
        assert declared.get("type", "string") in ("string", "number", "boolean", "array")
    used = set(INPUT.findall(body))
    assert used == set(inputs)


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_with_default_inputs_the_project_ci_loader_reads_the_promised_job(name: str) -> None:
    job_name, command = COMPONENTS[name]
    path = f"templates/{name}.yml"
    text = template(name)
    raw = gitlab_ci.load_pipeline(path, text, RepoView.from_files({}))  # the spec: header
    assert [job.name for job in raw.jobs] == [job_name]
    configured = with_defaults(text)
    assert "$[[" not in configured
    pipeline = gitlab_ci.load_pipeline(path, configured, RepoView.from_files({}))
    [job] = pipeline.jobs
    assert job.name == job_name
    assert job.image == "python:3.12"
    scripts = [line.text for line in job.scripts]
    assert any(command in line for line in scripts)
    assert any(
        line.startswith(
            'pip install --no-cache-dir "git+https://gitlab.com/layerbot/layerbot.git@v'
        )
        for line in scripts
    )
    assert pipeline.notes == []
    result = analyse({path: configured.encode()}, RepoView.from_files({}))
    assert result.findings == []


def test_the_code_quality_job_reports_findings_without_failing_on_them() -> None:
    config = yaml.safe_load(with_defaults(template("code-quality")))
    job = config["layerbot-code-quality"]
    assert job["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"
    assert job["artifacts"]["when"] == "always"
    check = next(line for line in job["script"] if "layerbot check" in line)
    assert check.endswith("> gl-code-quality-report.json || test $? -eq 1")


def test_the_review_job_runs_only_in_merge_request_pipelines_and_never_blocks() -> None:
    config = yaml.safe_load(with_defaults(template("review")))
    job = config["layerbot-review"]
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert job["allow_failure"] is True


def test_the_readme_includes_each_component_by_its_name() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in COMPONENTS:
        assert f"component: $CI_SERVER_FQDN/layerbot/layerbot/{name}@v0.1.0" in readme
