"""Loading a ``.gitlab-ci.yml`` into jobs the rules can read, the way GitLab would see them.

``load_pipeline`` reads the configuration (:mod:`layerbot.analysis.ci_config`: the YAML read
safely, ``include:`` files merged, ``!reference`` resolved), then resolves ``extends:``
(GitLab's deep merge: mappings merged, everything else replaced by the child), ``default:``,
``inherit:``, global and job ``variables:``, and flattens ``before_script``, ``script`` and
``after_script`` into script lines that remember where they were written. Image builds found in
those scripts are in :attr:`Pipeline.builds` (see :mod:`layerbot.analysis.ci_builds`).
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Iterator

from layerbot.analysis.ci_build_index import BuildIndex
from layerbot.analysis.ci_builds import Build, JobScan, Tool, builds_of, is_stable
from layerbot.analysis.ci_config import (
    Includes,
    ProjectResolver,
    References,
    config_document,
    deep_merge,
)
from layerbot.analysis.ci_jobs import Job, ScriptLine, only_in_tag_pipelines
from layerbot.analysis.ci_script import expand, job_steps
from layerbot.analysis.ci_yaml import (
    CiYamlError,
    Mapping,
    Origin,
)
from layerbot.analysis.dockerfile import Dockerfile
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.memo import cached_property
from layerbot.analysis.model import Finding, Fix, Note, PipelineFacts, RepoView, Severity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_CI_BYTES = 2 * 1024 * 1024
MAX_EXTENDS_DEPTH = 11

GLOBAL_KEYWORDS = frozenset(
    {
        "stages",
        "variables",
        "default",
        "include",
        "workflow",
        "image",
        "services",
        "before_script",
        "after_script",
        "cache",
        "spec",
    }
)
# Keys a job takes from ``default:`` (or, but for ``tags``, the old top-level form) when it does
# not set them (https://docs.gitlab.com/ci/yaml/#default).
DEFAULT_KEYS = ("image", "services", "before_script", "after_script", "cache", "tags")
SCRIPT_SECTIONS = ("before_script", "script", "after_script")


class Pipeline:
    __slots__ = (
        "__dict__", "jobs", "listings", "notes", "path", "reads", "text", "top_level",
        "unread_includes",
    )  # fmt: skip

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.jobs: list[Job] = []
        self.notes: list[Note] = []
        self.top_level: dict[str, Origin] = {}
        # Included files we could not read: jobs or builds we do not see.
        self.unread_includes = 0
        # The local files and folders it was made of (:class:`ci_config.Includes`), its own too.
        self.reads: dict[str, str | None] = {path: text}
        self.listings: dict[str, list[str]] = {}

    @cached_property
    def key_lines(self) -> list[int]:
        """Lines of the file's top-level keys, in order."""
        return sorted(origin.line for origin in self.top_level.values())

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def builds(self) -> list[Build]:
        """Every image build in the pipeline's jobs, in job order."""
        return [build for job in self.jobs for build in builds_of(job)]

    @cached_property
    def build_index(self) -> BuildIndex:
        return BuildIndex.of(self.builds)

    @cached_property
    def _scans(self) -> dict[str, JobScan]:
        """Every job's scan by job name (a building job's is its builds')."""
        scans = {build.job.name: build.scan for build in self.builds}
        for job in self.jobs:
            if job.name not in scans:
                scans[job.name] = JobScan.of(job_steps(job))
        return scans

    @cached_property
    def pushed(self) -> frozenset[str]:
        """Images (keys) some job of the pipeline sends to the registry: a ``docker push``, or
        a build that pushes its own tags."""
        keys = {key for scan in self._scans.values() for key in scan.pushes}
        for build in self.builds:
            if build.pushes_itself:
                keys.update(parse_image(resolved).key for _, resolved in build.tags)
        return frozenset(keys)

    @cached_property
    def handed_over(self) -> frozenset[str]:
        """Images (keys) a job pushes or retags that another job of the pipeline built: the
        jobs share a Docker daemon that outlives them, so its layer cache persists too."""
        built: dict[str, set[str]] = {}
        for build in self.builds:
            built.setdefault(build.job.name, set()).update(
                parse_image(resolved).key for _, resolved in build.tags
            )
        needed: set[str] = set()
        for job in self.jobs:
            needed |= self._scans[job.name].needs_from_daemon(built.get(job.name, set()))
        made_elsewhere = set().union(*built.values()) if built else set()
        return frozenset(needed & made_elsewhere)

    def keeps_layer_cache(self, build: Build) -> bool:
        """Whether ``build`` runs on a Docker daemon whose layer cache outlives the job: a shell
        runner's or another host's (:attr:`Build.host_daemon`), or one that a later job pushes
        the built image from without pulling or building it. That pipeline works only where
        the jobs share a daemon, whatever service the file also names: a runner that mounts the
        host's socket leaves a ``docker:dind`` service unused. A ``DOCKER_HOST`` on TCP to the
        job's own service is a daemon that starts empty."""
        if build.host_daemon:
            return True
        if build.variables.get("DOCKER_HOST", "").startswith("tcp://"):
            return False
        return any(parse_image(resolved).key in self.handed_over for _, resolved in build.tags)

    @cached_property
    def _builds_by_repeat_key(self) -> dict[tuple[object, ...], list[Build]]:
        found: dict[tuple[object, ...], list[Build]] = {}
        for build in self.builds:
            key = _repeat_key(build)
            if key is not None:
                found.setdefault(key, []).append(build)
        return found

    def repeats_earlier_build(self, build: Build) -> bool:
        """Whether ``build`` repeats an earlier build of its job: the same tool, Dockerfile,
        context, target, build arguments and platforms, only other tags (``docker build -t
        app:$CI_COMMIT_SHA .`` then ``docker build -t app:latest .``). The job's daemon (or
        buildx builder) still holds every layer the first one made, so the repeat re-runs
        nothing: whether the job caches across pipelines is the first build's question."""
        key = _repeat_key(build)
        return key is not None and self._builds_by_repeat_key[key][0] is not build

    def repeats_of(self, build: Build) -> list[Build]:
        """The later builds of ``build``'s job that repeat it (:meth:`repeats_earlier_build`)."""
        key = _repeat_key(build)
        same = self._builds_by_repeat_key.get(key, []) if key is not None else []
        return [other for other in same if other.step.index > build.step.index]

    def job(self, name: str) -> Job | None:
        return next((job for job in self.jobs if job.name == name), None)


def _repeat_key(build: Build) -> tuple[object, ...] | None:
    """What decides the layers a build makes, and on which daemon, tags and the inline cache
    switch aside (``BUILDKIT_INLINE_CACHE`` only adds metadata to the image config)."""
    if build.tool not in (Tool.DOCKER, Tool.BUILDX) or build.dockerfile is None:
        return None
    if build.context is None or build.no_cache:
        return None
    arguments = build.build_args
    kept = sorted(a for a in arguments if not a.startswith("BUILDKIT_INLINE_CACHE"))
    platforms = tuple(build.resolved.values("--platform"))
    return (
        build.job.name,
        build.tool,
        build.dockerfile,
        build.context,
        build.target,
        tuple(kept),
        platforms,
        build.daemon,
    )


def facts_of(pipeline: Pipeline) -> PipelineFacts:
    """The pipeline's facts a Dockerfile's check needs (:class:`PipelineFacts`).

    A Dockerfile's build context is the one its first build passes: ``docker build -f
    build/Dockerfile .`` builds with the repository root, so the root ``.dockerignore`` and
    manifests are the ones that count. Its tool-image job is the first job whose ``image:``
    is a tag a build of it makes and every pipeline reuses; a per-commit tag
    (``:$CI_COMMIT_SHA``) is the application under test, not a tool image.
    """
    contexts: dict[str, str] = {}
    built: dict[str, set[str]] = {}
    for build in pipeline.builds:
        if build.dockerfile is None:
            continue
        if build.context is not None:
            contexts.setdefault(build.dockerfile, build.context)
        built.setdefault(build.dockerfile, set()).update(
            parse_image(resolved).key for _, resolved in build.tags
        )
    runs_in: dict[str, str] = {}
    for job in pipeline.jobs:
        image = job.image and expand(job.image, job.variables)
        if not image or not is_stable(image):
            continue
        key = parse_image(image).key
        for dockerfile, keys in built.items():
            if key in keys:
                runs_in.setdefault(dockerfile, job.name)
    return PipelineFacts(contexts, runs_in)


def dockerfiles_built(pipeline: Pipeline) -> list[str]:
    """Repository paths of the Dockerfiles the pipeline's jobs build (for the bot's re-checks)."""
    return sorted({build.dockerfile for build in pipeline.builds if build.dockerfile})


def ci_jobs_building(pipeline: Pipeline, dockerfile_path: str) -> list[str]:
    """Names of the jobs that build ``dockerfile_path``."""
    wanted = posixpath.normpath(dockerfile_path).lstrip("/")
    return sorted({b.job.name for b in pipeline.builds if b.dockerfile == wanted})


class PipelineContext:
    """What a CI rule is handed; findings made here know their job's key line for ignores."""

    __slots__ = ("_anchors", "dockerfiles", "pipeline", "repo")

    def __init__(self, pipeline: Pipeline, repo: RepoView) -> None:
        self.pipeline = pipeline
        self.repo = repo
        self._anchors: dict[Finding, tuple[frozenset[Origin], int | None]] = {}
        # The Dockerfiles the builds read, parsed once for every rule (``None``: absent or invalid).
        self.dockerfiles: dict[str, Dockerfile | None] = {}

    @property
    def path(self) -> str:
        return self.pipeline.path

    def suppression_anchors(self, finding: Finding) -> tuple[int, ...]:
        """Lines whose ``# layerbot ignore=`` comment also covers ``finding`` (its job's key).
        Worked out here, for the findings kept, not for each one a rule made."""
        jobs, enclosing = self._anchors.get(finding, (frozenset(), None))
        anchors = {origin.line for origin in jobs if origin.path == self.path}
        if enclosing is not None:
            anchors.add(enclosing)
        return tuple(sorted(anchors - {finding.line}))

    def finding(
        self,
        rule: str,
        severity: Severity,
        lines: tuple[int, int],
        message: str,
        *,
        jobs: frozenset[Origin] = frozenset(),
        impact: str | None = None,
        fix: Fix | None = None,
    ) -> Finding:
        found = Finding(rule, severity, self.path, lines[0], lines[1], message, impact, fix)
        self._anchors[found] = (jobs, self.enclosing_key(lines[0]))
        return found

    def enclosing_key(self, line: int) -> int | None:
        """The line of the top-level key (job or template) whose block holds ``line``."""
        keys = self.pipeline.key_lines
        position = bisect.bisect_right(keys, line)
        return keys[position - 1] if position else None


# --- loading ------------------------------------------------------------------------------


def load_pipeline(
    path: str, text: str, repo: RepoView, resolve_project: ProjectResolver | None = None
) -> Pipeline:
    """The pipeline of ``path``; :class:`CiYamlError` (an InputError) when it cannot be read."""
    if len(text) > MAX_CI_BYTES:
        raise CiYamlError(f"{len(text):,} characters is over the {MAX_CI_BYTES:,} limit")
    pipeline = Pipeline(path, text)
    root = config_document(text, path)
    pipeline.top_level = dict(root.key_origins)
    loader = Includes(repo, pipeline.notes, path, resolve_project)
    config = loader.expand(root, path, (path,), root.origin.line)
    pipeline.unread_includes = loader.unread
    pipeline.reads.update(loader.reads)
    pipeline.listings = loader.listings
    resolver = References(config, pipeline.notes, path)
    config = resolver.resolve(config, 0)
    pipeline.jobs = list(_jobs(config, pipeline.notes, path))
    return pipeline


# --- jobs ---------------------------------------------------------------------------------


def _jobs(config: Mapping, notes: list[Note], path: str) -> Iterator[Job]:
    defaults = Mapping(config.origin)
    for key in DEFAULT_KEYS:  # the deprecated top-level form, then `default:`
        if key in config and key in GLOBAL_KEYWORDS:
            defaults[key] = config[key]
    if isinstance(config.get("default"), Mapping):
        defaults = deep_merge(defaults, config["default"])
    global_variables = _variables(config.get("variables"))
    resolver = _Extends(config, notes, path)
    for name, value in config.items():
        if name in GLOBAL_KEYWORDS or name.startswith(".") or not isinstance(value, Mapping):
            continue
        definition = resolver.effective(name, (), config.key_origins[name].line)
        inherit = definition.get("inherit")
        if not isinstance(inherit, dict):
            inherit = {}
        for key in _inherited(inherit.get("default", True), DEFAULT_KEYS):
            if key not in definition and key in defaults:
                definition[key] = defaults[key]
        variables = {
            k: v
            for k, v in global_variables.items()
            if k in _inherited(inherit.get("variables", True), tuple(global_variables))
        }
        variables.update(_variables(definition.get("variables")))
        yield Job(
            name=name,
            origin=config.key_origins[name],
            image=_image_name(definition.get("image")),
            services=tuple(
                n for n in map(_image_name, _as_list(definition.get("services"))) if n is not None
            ),
            variables=variables,
            scripts=tuple(
                ScriptLine(str(item), section, getattr(item, "origin", None))
                for section in SCRIPT_SECTIONS
                for item in _flatten(definition.get(section))
            ),
            tags=tuple(str(tag) for tag in _flatten(definition.get("tags"))),
            cache_paths=tuple(
                str(path)
                for cache in _as_list(definition.get("cache"))
                if isinstance(cache, dict)
                for path in _flatten(cache.get("paths"))
            ),
            tag_pipelines_only=only_in_tag_pipelines(
                definition.get("rules"), definition.get("only"), definition.get("except")
            ),
        )


def _inherited(setting: Any, keys: tuple[str, ...]) -> tuple[str, ...]:
    """Which of ``keys`` an ``inherit:`` setting (true, false or a list) lets through."""
    if setting is False:
        return ()
    if isinstance(setting, list):
        return tuple(k for k in keys if k in setting)
    return keys


class _Extends:
    """``extends:`` resolution: parents in order, then the job itself, deep-merged."""

    def __init__(self, config: Mapping, notes: list[Note], path: str) -> None:
        self.config = config
        self.notes = notes
        self.path = path
        self.resolved: dict[str, Mapping] = {}  # each job once, however many jobs extend it

    def effective(self, name: str, stack: tuple[str, ...], line: int) -> Mapping:
        """The job's definition with its parents merged in (a copy the caller may change)."""
        if name in self.resolved:
            return deep_merge(Mapping(self.resolved[name].origin), self.resolved[name])
        if name in stack:
            raise CiYamlError(f"extends cycle: {' -> '.join((*stack, name))}", line)
        if len(stack) >= MAX_EXTENDS_DEPTH:
            raise CiYamlError(f"extends nested over {MAX_EXTENDS_DEPTH} levels", line)
        job = self.config[name]
        merged = Mapping(job.origin)
        for parent in _as_list(job.get("extends")):
            parent_name = str(parent)
            if not isinstance(self.config.get(parent_name), Mapping):
                self.notes.append(
                    Note(
                        self.path,
                        f"line {line}: job {name} extends {parent_name}, which is not defined "
                        "here; analysed without it",
                    )
                )
                continue
            merged = deep_merge(merged, self.effective(parent_name, (*stack, name), line))
        own = Mapping(job.origin)
        for key, value in job.items():
            if key != "extends":
                own[key] = value
                own.key_origins[key] = job.key_origins.get(key, job.origin)
        self.resolved[name] = deep_merge(merged, own)
        return deep_merge(Mapping(job.origin), self.resolved[name])


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _flatten(value: Any) -> Iterator[Any]:
    """Script entries: a string, or lists nested any depth (GitLab flattens them)."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, str | int | float):
        yield value


def _image_name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if isinstance(value, str) else None


def _variables(value: Any) -> dict[str, str]:
    """``variables:`` as plain strings; ``{value: ..., description: ...}`` forms unwrapped."""
    if not isinstance(value, dict):
        return {}
    result = {}
    for name, raw in value.items():
        if isinstance(raw, dict):
            raw = raw.get("value")
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        if raw is not None and not isinstance(raw, dict | list):
            result[str(name)] = str(raw)
    return result


__all__ = [
    "Pipeline",
    "PipelineContext",
    "ci_jobs_building",
    "deep_merge",
    "dockerfiles_built",
    "load_pipeline",
]
