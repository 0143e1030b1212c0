"""A CI job as the rules read it: its image, services, variables and script lines.

The loader (:mod:`layerbot.analysis.gitlab_ci`) makes these; the build scanner
(:mod:`layerbot.analysis.ci_builds`) reads them. Kept apart from both so that neither imports
the other's reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerbot.analysis.ci_yaml import Origin


@dataclass(frozen=True)
class ScriptLine:
    """One entry of a job's script, in run order, with where it was written."""

    text: str
    section: str
    origin: Origin | None


@dataclass
class Job:
    name: str
    origin: Origin
    image: str | None
    services: tuple[str, ...]
    variables: dict[str, str]
    scripts: tuple[ScriptLine, ...]
    tags: tuple[str, ...] = ()  # the runner tags that pick where it runs
    cache_paths: tuple[str, ...] = ()  # what its `cache:` keeps between pipelines
