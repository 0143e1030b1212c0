"""A static model of Docker's layer cache: which build steps a change makes re-run.

The rules it encodes, from Docker's "Build cache invalidation" documentation
(docs.docker.com/build/cache/invalidation/) and "Docker build cache"
(docs.docker.com/build/cache/):

- ``COPY`` and ``ADD`` are cached on a checksum of the files they copy: a step is invalidated
  when any file it copies changes. So a ``COPY`` of the whole context (``COPY . .``) is
  invalidated by any source change, and a ``COPY`` of manifests only by a manifest change.
- ``RUN`` is cached on its command text: it re-runs only when an earlier step was invalidated
  (or a ``--mount=type=bind`` of changed context files, the cache's other input).
- "Once a layer changes, all downstream layers need to be rebuilt": every later step of the
  stage re-runs after an invalidated one, and a stage built ``FROM`` or ``COPY --from`` a stage
  that re-ran re-runs too.

Steps are what BuildKit numbers in its progress output (``[3/6] COPY . .``): ``FROM``,
``RUN``, ``COPY``, ``ADD`` and ``WORKDIR``. Metadata instructions (``ENV``, ``EXPOSE``,
``CMD``…) only edit the image config and are not counted.

The model is deliberately simple: it knows which files an instruction reads by name, not by
content, so "code" means "a file that is not a dependency manifest". Base image updates,
``--no-cache`` and cache eviction are out of scope.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
from enum import StrEnum

from layerbot.analysis import memo
from layerbot.analysis.dockerfile import Dockerfile, Instruction, Stage
from layerbot.analysis.ecosystems import ECOSYSTEMS
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

STEP_KEYWORDS = frozenset({"FROM", "RUN", "COPY", "ADD", "WORKDIR"})


class Change(StrEnum):
    """What a commit touched: application code only, or a dependency manifest."""

    CODE = "code"
    MANIFEST = "manifest"

    @property
    def label(self) -> str:
        return "code-only" if self is Change.CODE else "dependency-manifest"


class SourceKind(StrEnum):
    WHOLE_CONTEXT = "whole-context"
    MANIFEST = "manifest"
    CODE = "code"


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


_MANIFEST_PATTERNS = tuple(sorted({m for e in ECOSYSTEMS for m in e.manifests}))
# A tool's own dot-folder that holds its manifest folders (`.yarn` for `.yarn/releases`, with
# Yarn's plugins, patches and offline cache) is the package manager's, never the sources.
_MANIFEST_DIRS = frozenset(
    folder
    for e in ECOSYSTEMS
    for d in e.manifest_dirs
    for folder in (d, d.split("/")[0] if d.startswith(".") else d)
)
# Plain names in a set, only the few globs in a regex: one regex of all fifty took 2 ms to compile.
_MANIFEST_NAMES = frozenset(p for p in _MANIFEST_PATTERNS if not _is_glob(p))
_MANIFEST_GLOB = re.compile(
    "|".join(fnmatch.translate(p) for p in _MANIFEST_PATTERNS if _is_glob(p))
)
_WHOLE = frozenset({".", "./", "*", "./*", "", "/"})


@functools.lru_cache(maxsize=4096)
def source_kind(source: str) -> SourceKind:
    """How a context path copied by COPY/ADD (or bind-mounted) is affected by changes.

    A glob counts as manifests only when it is one of the manifest globs (``*.csproj``) or
    a narrowing of a manifest name (``package*.json``); ``*.json`` could be anything.
    """
    path = posixpath.normpath(source.strip() or ".")
    if source.strip() in _WHOLE or path in _WHOLE:
        return SourceKind.WHOLE_CONTEXT
    if path.rstrip("/") in _MANIFEST_DIRS:
        return SourceKind.MANIFEST
    name = posixpath.basename(path)
    if _is_manifest(path) or _is_manifest(name):
        return SourceKind.MANIFEST
    if _is_glob(name):
        for pattern in _MANIFEST_PATTERNS:
            manifest_name = posixpath.basename(pattern)
            narrowing = not name.startswith("*") and fnmatch.fnmatchcase(manifest_name, name)
            if narrowing or name == manifest_name:
                return SourceKind.MANIFEST
    return SourceKind.CODE


def _is_manifest(path: str) -> bool:
    return path in _MANIFEST_NAMES or _MANIFEST_GLOB.match(path) is not None


def invalidates(kind: SourceKind, change: Change) -> bool:
    if kind is SourceKind.WHOLE_CONTEXT:
        return True
    return (kind is SourceKind.MANIFEST) == (change is Change.MANIFEST)


def is_whole_context_copy(instruction: Instruction) -> bool:
    """``COPY . .``, ``COPY ./ /app``, ``ADD . /src``: the whole build context, no ``--from``."""
    if instruction.keyword not in {"COPY", "ADD"} or "from" in instruction.flags:
        return False
    if instruction.heredocs:
        return False
    sources = instruction.copy_sources()
    return any(source_kind(s) is SourceKind.WHOLE_CONTEXT for s in sources)


def _is_remote(source: str) -> bool:
    return "://" in source or source.startswith("git@")


class _Inputs(Record):
    """What an instruction reads besides the previous step: context paths and stages."""

    __slots__ = ("context", "stages")

    def __init__(self, context: tuple[str, ...], stages: tuple[str, ...]) -> None:
        self.context: Final = context
        self.stages: Final = stages


def _inputs(instruction: Instruction) -> _Inputs:
    context: list[str] = []
    stages: list[str] = []
    if instruction.keyword in {"COPY", "ADD"} and not instruction.heredocs:
        source_stage = instruction.flags.get("from")
        if source_stage:
            stages.append(source_stage)
        else:
            context.extend(s for s in instruction.copy_sources() if not _is_remote(s))
    if instruction.keyword == "RUN":
        for options in instruction.mounts:
            if options.get("type", "bind") != "bind":
                continue
            if options.get("from"):
                stages.append(options["from"])
            else:
                context.append(options.get("source", "."))
    return _Inputs(tuple(context), tuple(stages))


class StageRerun(Record):
    """The build steps of one stage, and those a change makes re-run."""

    __slots__ = ("rerun", "stage_index", "steps")

    def __init__(
        self, stage_index: int, steps: tuple[Instruction, ...], rerun: tuple[Instruction, ...]
    ) -> None:
        self.stage_index: Final = stage_index
        self.steps: Final = steps
        self.rerun: Final = rerun

    @property
    def count(self) -> int:
        return len(self.rerun)

    @property
    def total(self) -> int:
        return len(self.steps)

    def reruns(self, instruction: Instruction) -> bool:
        return any(step.line == instruction.line for step in self.rerun)


def all_steps_rerun(doc: Dockerfile, change: Change | str = Change.CODE) -> list[StageRerun]:
    """:func:`steps_rerun` for every stage at once (one pass over the file)."""
    return _stage_reruns(doc, Change(change))


@memo.per_parse  # the cache, dockerignore and layer-order rules all ask, some for each finding
def _stage_reruns(doc: Dockerfile, change: Change) -> list[StageRerun]:
    results: list[StageRerun] = []
    for stage in doc.stages:

        def stage_changed(reference: str, current: Stage = stage) -> bool:
            found = doc.stage_named(reference)
            return (
                found is not None
                and found.index < current.index
                and (results[found.index].count > 0)
            )

        steps = tuple(i for i in stage.instructions if i.keyword in STEP_KEYWORDS)
        # The first invalidated step re-runs with every step after it.
        rerun = steps if stage_changed(stage.base) else ()
        for index, step in enumerate(() if rerun else steps):
            if step.keyword not in {"COPY", "ADD", "RUN"}:
                continue  # FROM and WORKDIR read nothing but the step before
            inputs = _inputs(step)
            if any(invalidates(source_kind(s), change) for s in inputs.context) or any(
                stage_changed(s) for s in inputs.stages
            ):
                rerun = steps[index:]
                break
        results.append(StageRerun(stage.index, steps, rerun))
    return results


def steps_rerun(
    doc: Dockerfile, stage: Stage | int, change: Change | str = Change.CODE
) -> StageRerun:
    """Which of ``stage``'s build steps re-run after a ``change`` to the build context."""
    index = stage if isinstance(stage, int) else stage.index
    return _stage_reruns(doc, Change(change))[index]


def first_step_containing(result: StageRerun, text: str) -> Instruction | None:
    """The first step of ``result`` whose text contains ``text``."""
    for step in result.steps:
        if text in step.original:
            return step
    return None


def impact_sentence(
    before: StageRerun,
    after: StageRerun | None,
    *,
    slow_step: str | None = None,
    cached_step: str | None = None,
    change: Change | str = Change.CODE,
) -> str:
    """Compare a stage before and after a fix, e.g. "a code-only change re-runs 3 of 5 build
    steps, including `go mod download`; after the fix 2 of 6, with `go mod download` cached".

    ``slow_step`` is named only when the model says it re-runs before the fix, and
    ``cached_step`` only when it says that step stays cached after it: nothing is asserted
    that the model did not compute. Without ``after`` (no fix) only the first half is said.
    """
    kind = Change(change)
    text = f"a {kind.label} change re-runs {before.count} of {before.total} build steps"
    if slow_step:
        step = first_step_containing(before, slow_step)
        if step is not None and before.reruns(step):
            text += f", including `{slow_step}`"
    if after is None:
        return text
    text += f"; after the fix {after.count} of {after.total}"
    if cached_step:
        step = first_step_containing(after, cached_step)
        if step is not None and not after.reruns(step):
            text += f", with `{cached_step}` cached"
    return text
