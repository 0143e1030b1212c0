"""GitLab CI configuration loading (placeholder until the CI analyser lands).

The engine calls :func:`load_pipeline` and hands rules a :class:`PipelineContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workers.analysis.model import Finding, Note, RepoView


@dataclass
class Pipeline:
    path: str
    text: str
    notes: list[Note] = field(default_factory=list)


@dataclass
class PipelineContext:
    pipeline: Pipeline
    repo: RepoView

    def suppression_anchors(self, finding: Finding) -> tuple[int, ...]:
        """Lines whose ``# layerbot ignore=`` comment also covers ``finding`` (its job's key)."""
        return ()


def load_pipeline(path: str, text: str, repo: RepoView) -> Pipeline:
    return Pipeline(path, text)
