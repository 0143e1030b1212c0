"""Every image build of a pipeline, indexed: by the images it tags, the cache manifests it
exports, the first stable pushed tag per Dockerfile and target, and the script line it is
written on. The CI rules ask these in constant time, so a pipeline's analysis stays linear in
its jobs (3,000 jobs running one template's line included).
"""

from __future__ import annotations

from layerbot.analysis.ci_builds import (
    Build,
    Tool,
    cache_options,
    cache_references,
    is_stable,
    made_by_this_pipeline,
)
from layerbot.analysis.ci_yaml import Origin
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class SiteJobs(Record):
    """The jobs that run one script line (a template's, an anchor's), gathered once."""

    __slots__ = ("dockerfiles", "names", "origins")

    def __init__(
        self,
        names: tuple[str, ...],
        origins: frozenset[Origin],
        dockerfiles: tuple[str | None, ...] = (),
    ) -> None:
        self.names: Final = names  # sorted, each once
        self.origins: Final = origins  # where each job's key is written
        # the Dockerfile each job's build of the line reads, each once, in job order
        # (``None``: a job whose variables leave it unknown)
        self.dockerfiles: Final = dockerfiles


class BuildIndex(Record):
    """Every build of a pipeline by the images it tags, the cache manifests it exports, and the
    first stable, pushed tag per (Dockerfile, target): lookups that would otherwise compare
    every build with every other."""

    __slots__ = ("by_site", "by_tag", "every_stage", "exports", "stable_by_source")

    def __init__(
        self,
        by_tag: dict[str, list[Build]],
        exports: frozenset[str],
        stable_by_source: dict[tuple[str | None, str | None], tuple[Build, str, str]],
        by_site: dict[tuple[Origin | None, int], SiteJobs],
        every_stage: frozenset[str],
    ) -> None:
        self.by_tag: Final = by_tag
        self.exports: Final = exports
        self.every_stage: Final = every_stage  # registry caches exported with mode=max
        self.stable_by_source: Final = stable_by_source
        self.by_site: Final = by_site

    def cache_sources(self, build: Build) -> list[str]:
        """The build's ``--cache-from`` values that can hold a cache when it runs: not a tag
        made from this very commit (``:$CI_COMMIT_SHA``) unless another build of the pipeline
        makes it first; other cache backends (``type=local``, ``gha``...) are taken as sources."""
        found = []
        for value in build.cache_from:
            references = cache_references([value])
            if not references:
                found.append(value)  # a backend we do not judge
                continue
            reference = references[0]
            makers = self.by_tag.get(parse_image(reference).key, [])
            mine = made_by_this_pipeline(reference, build.job)
            if not mine or any(other is not build for other in makers):
                found.append(value)
        return found

    def jobs_running(self, build: Build) -> SiteJobs:
        """The jobs that run ``build``'s script line: one for a job's own line, every job
        extending the template for a template's."""
        found = self.by_site.get(_site(build))
        return found or SiteJobs((build.job.name,), frozenset({build.job.origin}))

    @classmethod
    def of(cls, builds: list[Build]) -> BuildIndex:
        by_tag: dict[str, list[Build]] = {}
        exports: set[str] = set()
        every_stage: set[str] = set()
        stable: dict[tuple[str | None, str | None], tuple[Build, str, str]] = {}
        by_site: dict[tuple[Origin | None, int], list[Build]] = {}
        for build in builds:
            by_site.setdefault(_site(build), []).append(build)
            for written, resolved in build.tags:
                by_tag.setdefault(parse_image(resolved).key, []).append(build)
                source = (build.dockerfile, build.target)
                # Stable for the job that pushes it: a job of tag pipelines only pushes a
                # ref-named tag under a new tag name each time, never a branch's.
                usable = build.tool in (Tool.DOCKER, Tool.BUILDX) and is_stable(resolved, build.job)
                if source not in stable and usable and build.pushed(resolved):
                    stable[source] = (build, written, resolved)
            exports.update(parse_image(ref).key for ref in cache_references(build.cache_to))
            every_stage.update(
                parse_image(options["ref"]).key
                for options in map(cache_options, build.cache_to)
                if options["type"] == "registry"
                and options.get("mode") == "max"
                and options.get("ref")
            )
        sites = {
            site: SiteJobs(
                tuple(sorted({build.job.name for build in sharing})),
                frozenset(build.job.origin for build in sharing),
                tuple(dict.fromkeys(build.dockerfile for build in sharing)),
            )
            for site, sharing in by_site.items()
        }
        return cls(by_tag, frozenset(exports), stable, sites, frozenset(every_stage))


def _site(build: Build) -> tuple[Origin | None, int]:
    return build.step.script.origin, build.step.position
