"""Running one CI rule on a pipeline text, for the rule tests under ``tests/rules/ci-*``."""

from __future__ import annotations

from types import ModuleType

from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.gitlab_ci import PipelineContext, load_pipeline
from layerbot.analysis.model import Finding, RepoView

CI = ".gitlab-ci.yml"


def run_rule(rule: ModuleType, text: str, files: dict[str, str] | None = None) -> list[Finding]:
    repo = RepoView.from_files({**(files or {}), CI: text})
    return list(rule.check(PipelineContext(load_pipeline(CI, text, repo), repo)))


def fixed_text(text: str, finding: Finding) -> str:
    assert finding.fix is not None
    return apply_fix(text, finding.fix)


def job(*script: str, image: str = "docker:24.0.5", before: tuple[str, ...] = ()) -> str:
    """A one-job pipeline; script entries are written one per line as block-sequence items."""
    lines = ["build:", f"  image: {image}"]
    if before:
        lines += ["  before_script:", *(f"    - {entry}" for entry in before)]
    lines += ["  script:", *(f"    - {entry}" for entry in script)]
    return "\n".join(lines) + "\n"
