"""Which files layerbot analyses: Dockerfiles by the names teams give them and by their use in
the root ``.gitlab-ci.yml``, and CI configurations; and the build context a CI job passes.

One set of functions serves ``layerbot check`` (files and folders), the bot (the changed files
of a merge request) and the engine (which context a Dockerfile is built with), so the three
never disagree about what a Dockerfile is.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import posixpath
from collections.abc import Iterator

from layerbot.analysis.model import InputError, PipelineFacts, RepoView

TYPE_CHECKING = False
if TYPE_CHECKING:
    from layerbot.analysis.gitlab_ci import Pipeline

DOCKERFILE = "dockerfile"
GITLAB_CI = "gitlab-ci"
ROOT_CI_FILES = (".gitlab-ci.yml", ".gitlab-ci.yaml")

_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "vendor", "target"}
# Files named like a Dockerfile that are not one: BuildKit's per-Dockerfile ignore file
# (``Dockerfile.dockerignore``), templates rendered into a Dockerfile before any build, and
# documentation or scripts about it.
_NOT_DOCKERFILE_SUFFIXES = (
    ".dockerignore",
    ".template",
    ".tmpl",
    ".tpl",
    ".j2",
    ".jinja",
    ".jinja2",
    ".erb",
    ".in",
    ".md",
    ".rst",
    ".txt",
    ".sh",
    ".py",
    ".yml",
    ".yaml",
    ".json",
    ".orig",
    ".bak",
    ".swp",
)


def is_dockerfile_name(path: str) -> bool:
    """``Dockerfile``, ``Dockerfile.prod``, ``Dockerfile-api``, ``Dockerfile2``,
    ``api.Dockerfile``, ``web.dockerfile``, ``Containerfile``, ``Containerfile.arm64``…"""
    lowered = posixpath.basename(path).lower()
    if lowered.endswith(_NOT_DOCKERFILE_SUFFIXES):
        return False
    return lowered.startswith(("dockerfile", "containerfile")) or lowered.endswith(
        (".dockerfile", ".containerfile")
    )


def file_kind(path: str) -> str | None:
    """``dockerfile``, ``gitlab-ci`` or ``None`` for a file we do not analyse, by its name."""
    if posixpath.basename(path) in ROOT_CI_FILES:
        return GITLAB_CI
    return DOCKERFILE if is_dockerfile_name(path) else None


def kind_in(repo: RepoView, path: str) -> str | None:
    """:func:`file_kind`, and ``dockerfile`` for a file the root CI configuration builds
    whatever its name (``docker build -f deploy/web.docker .``)."""
    kind = file_kind(path)
    if kind is None and posixpath.normpath(path) in pipeline_facts(repo).build_contexts:
        return DOCKERFILE
    return kind


def root_ci_file(repo: RepoView) -> tuple[str, str] | None:
    """Path and text of the root CI configuration, the first of :data:`ROOT_CI_FILES` there is."""
    for ci_path in ROOT_CI_FILES:
        text = repo.read(ci_path)
        if text is not None:
            return ci_path, text
    return None


@functools.lru_cache(maxsize=16)
def root_pipeline(repo: RepoView) -> Pipeline | None:
    """The root CI configuration, loaded once per repository view: every file of a review
    asks (for its build context, for whether a job runs in the image it builds). The CI loader
    (and YAML) is imported only for a repository that has one."""
    found = root_ci_file(repo)
    if found is None:
        return None
    from layerbot.analysis import gitlab_ci

    try:
        return gitlab_ci.load_pipeline(*found, repo)
    except InputError:
        return None


@functools.lru_cache(maxsize=16)
def pipeline_facts(repo: RepoView) -> PipelineFacts:
    """The root CI configuration's facts a Dockerfile's check needs: the view's own when its
    shell gave them, else worked out from the pipeline (none without one)."""
    if repo.pipeline_facts is not None:
        return repo.pipeline_facts
    pipeline = root_pipeline(repo)
    if pipeline is None:
        return PipelineFacts({}, {})
    from layerbot.analysis import gitlab_ci

    return gitlab_ci.facts_of(pipeline)


def build_context(repo: RepoView, dockerfile_path: str) -> str | None:
    """The build context the CI job passes for this Dockerfile, ``None`` when no job says."""
    return pipeline_facts(repo).build_contexts.get(posixpath.normpath(dockerfile_path))


def discover(root: str) -> Iterator[str]:
    """Files under ``root`` analysable by name, in a stable order, skipping dependency
    folders (:func:`built_under` adds those found by use)."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if file_kind(name) is not None:
                yield os.path.join(directory, name)


def built_under(repo: RepoView, folder: str) -> list[str]:
    """Repository paths under ``folder`` that the root CI configuration builds as Dockerfiles
    although their names do not say so."""
    prefix = "" if folder in ("", ".") else posixpath.normpath(folder) + "/"
    return sorted(
        path
        for path in pipeline_facts(repo).build_contexts
        if path.startswith(prefix) and file_kind(path) is None and repo.exists(path)
    )


def matches_any(path: str, patterns: list[str]) -> bool:
    """Glob match on the repository path; ``dir/**`` covers everything below ``dir``."""
    for pattern in patterns:
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.rstrip("/") + "/*"):
            return True
        if pattern.endswith("/**") and path.startswith(pattern[:-3].rstrip("/") + "/"):
            return True
    return False
