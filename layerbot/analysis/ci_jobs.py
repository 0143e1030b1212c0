"""A CI job as the rules read it: its image, services, variables and script lines.

The loader (:mod:`layerbot.analysis.gitlab_ci`) makes these; the build scanner
(:mod:`layerbot.analysis.ci_builds`) reads them. Kept apart from both so that neither imports
the other's reader.
"""

from __future__ import annotations

from layerbot.analysis.ci_yaml import Origin
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class ScriptLine(Record):
    """One entry of a job's script, in run order, with where it was written."""

    __slots__ = ("origin", "section", "text")

    def __init__(self, text: str, section: str, origin: Origin | None) -> None:
        self.text: Final = text
        self.section: Final = section
        self.origin: Final = origin


class Job:
    __slots__ = (
        "cache_paths",
        "image",
        "name",
        "origin",
        "scripts",
        "services",
        "tags",
        "variables",
    )

    def __init__(
        self,
        name: str,
        origin: Origin,
        image: str | None,
        services: tuple[str, ...],
        variables: dict[str, str],
        scripts: tuple[ScriptLine, ...],
        tags: tuple[str, ...] = (),
        cache_paths: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.origin = origin
        self.image = image
        self.services = services
        self.variables = variables
        self.scripts = scripts
        self.tags = tags  # the runner tags that pick where it runs
        self.cache_paths = cache_paths  # what its `cache:` keeps between pipelines
