"""Textual edits of CI script lines: where a command sits in the file, and how to change it.

Fixes never re-dump YAML. They find the command's words on the original lines (inside the
script entry's span), insert flags right after the command words, and add whole commands as new
entries of a block sequence (``- docker pull ...``) or as new lines of a literal block (``|``),
copying the surrounding indentation. When that cannot be done safely, there is no fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from layerbot.analysis import dockerfile
from layerbot.analysis.ci_builds import Build, Tool, is_stable
from layerbot.analysis.ci_script import Step, expand
from layerbot.analysis.fixes import apply_edits
from layerbot.analysis.gitlab_ci import Pipeline, PipelineContext
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.model import Edit, Finding, Fix, InputError, Severity
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

COMMAND_PATTERNS = {
    Tool.DOCKER: re.compile(r"\bdocker\s+(?:image\s+|builder\s+)?build\b"),
    Tool.BUILDX: re.compile(r"\bdocker\s+buildx\s+(?:build|b)\b"),
    Tool.KANIKO: re.compile(r"\bexecutor\b"),
    Tool.BUILDAH: re.compile(r"\bbuildah\b[^\n#]*?\b(?:bud|build)\b"),
    Tool.BUILDCTL: re.compile(r"\bbuildctl(?:-daemonless\.sh)?\b[^\n#]*?\bbuild\b"),
}
_ENVIRONMENT_PREFIX = re.compile(r"\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*")
_CONTINUED = re.compile(r"(\\|&&|\|\||\|)\s*$")  # the shell command goes on next line
PUSH_PATTERN = re.compile(r"\bdocker\s+(?:image\s+)?push\b")
MAX_COMBINED_SPAN = 12
MAX_JOBS_NAMED = 8


class Spot(Record):
    """Where a command's words are: a 1-based line and the columns of the match."""

    __slots__ = ("end", "line", "start")

    def __init__(self, line: int, start: int, end: int) -> None:
        self.line: Final = line
        self.start: Final = start
        self.end: Final = end


def locate(
    pipeline: Pipeline, step: Step, steps: tuple[Step, ...], pattern: re.Pattern[str]
) -> Spot | None:
    """The command's words on the CI file's own lines, or ``None``: in another file, split
    across lines, or in a plain scalar of a flow sequence (where a comma we add would split it)."""
    origin = step.script.origin
    if origin is None or origin.path != pipeline.path:
        return None
    lines = pipeline.lines
    in_flow = any(bracket in lines[origin.line - 1][: origin.column] for bracket in "[{")
    if in_flow and not origin.style:
        return None
    earlier = sum(
        1
        for other in steps[step.index - step.position : step.index]
        if pattern.search(other.command.text)
    )
    spots = [
        Spot(number, match.start(), match.end())
        for number in range(origin.line, min(origin.end_line, len(lines)) + 1)
        for match in pattern.finditer(lines[number - 1])
    ]
    return spots[earlier] if earlier < len(spots) else None


def build_spot(pipeline: Pipeline, build: Build) -> Spot | None:
    pattern = COMMAND_PATTERNS.get(build.tool)
    return locate(pipeline, build.step, build.steps, pattern) if pattern else None


def finding_lines(pipeline: Pipeline, build: Build) -> tuple[int, int]:
    """The lines a finding about ``build`` spans in the CI file."""
    origin = build.step.script.origin
    if origin is not None and origin.path == pipeline.path:
        alone = build.step.first_in_item and build.step.last_in_item
        spot = build_spot(pipeline, build)
        if alone or spot is None:
            return origin.line, origin.end_line
        return spot.line, spot.line
    if build.job.origin.path == pipeline.path:
        return build.job.origin.line, build.job.origin.line
    include = pipeline.top_level.get("include")
    return (include.line, include.line) if include else (1, 1)


def add_flags(pipeline: Pipeline, spot: Spot, flags: str) -> Edit:
    """Insert `` flags`` right after the command words at ``spot``."""
    line = pipeline.lines[spot.line - 1]
    return Edit(spot.line, spot.line, (f"{line[: spot.end]} {flags}{line[spot.end :]}",))


def _starts_item(pipeline: Pipeline, step: Step, spot: Spot) -> bool:
    """Whether nothing but YAML syntax comes before the command in its script entry."""
    origin = step.script.origin
    assert origin is not None
    lines = pipeline.lines
    if not step.first_in_item:
        return False
    if origin.style in ("|", ">"):
        between = lines[origin.line : spot.line - 1]
        return all(not text.strip() for text in between) and spot.line > origin.line
    head = lines[spot.line - 1][origin.column : spot.start].lstrip("\"'")
    return spot.line == origin.line and _ENVIRONMENT_PREFIX.fullmatch(head) is not None


def _item_prefix(pipeline: Pipeline, step: Step) -> str | None:
    """``    - `` when the script entry is an item of a block sequence, else ``None``."""
    origin = step.script.origin
    assert origin is not None
    prefix = pipeline.lines[origin.line - 1][: origin.column]
    return prefix if prefix.strip() == "-" else None


def insert_before(pipeline: Pipeline, step: Step, spot: Spot, command: str) -> Edit | None:
    """A new command run just before the one at ``spot``, or ``None`` if YAML makes it unsafe."""
    origin = step.script.origin
    assert origin is not None
    prefix = _item_prefix(pipeline, step)
    if prefix is not None and _starts_item(pipeline, step, spot):
        return Edit(origin.line, origin.line - 1, (prefix + command,))
    indent = pipeline.lines[spot.line - 1][: spot.start]
    previous = pipeline.lines[spot.line - 2] if spot.line > origin.line + 1 else ""
    at_line_start = origin.style == "|" and spot.line > origin.line and not indent.strip()
    if at_line_start and not _CONTINUED.search(previous):
        return Edit(spot.line, spot.line - 1, (indent + command,))
    return None


def insert_after(pipeline: Pipeline, step: Step, spot: Spot, command: str) -> Edit | None:
    """A new command run just after the (one-line) command at ``spot``."""
    origin = step.script.origin
    assert origin is not None
    prefix = _item_prefix(pipeline, step)
    if prefix is not None and step.last_in_item:
        return Edit(origin.end_line + 1, origin.end_line, (prefix + command,))
    line = pipeline.lines[spot.line - 1]
    if origin.style == "|" and not line[: spot.start].strip() and not _CONTINUED.search(line):
        return Edit(spot.line + 1, spot.line, (line[: spot.start] + command,))
    return None


def _merge_insertions(edits: list[Edit]) -> list[Edit]:
    """Insertions at one spot as one insertion, in the order given."""
    merged: dict[int, list[str]] = {}
    others = []
    for edit in edits:
        if edit.is_insertion:
            merged.setdefault(edit.start_line, []).extend(edit.new_lines)
        else:
            others.append(edit)
    return others + [Edit(line, line - 1, tuple(lines)) for line, lines in merged.items()]


def combine(pipeline: Pipeline, edits: list[Edit]) -> tuple[Edit, ...]:
    """Edits close together as one contiguous replacement (one GitLab suggestion)."""
    edits = _merge_insertions(edits)
    if len(edits) < 2:
        return tuple(edits)
    low = min(edit.start_line for edit in edits)
    high = max(max(edit.end_line, edit.start_line - 1) for edit in edits)
    if high - low > MAX_COMBINED_SPAN:
        return tuple(sorted(edits, key=lambda e: (e.start_line, e.end_line)))
    window = pipeline.lines[low - 1 : high]
    shifted = [Edit(e.start_line - low + 1, e.end_line - low + 1, e.new_lines) for e in edits]
    return (Edit(low, high, tuple(apply_edits(window, shifted))),)


def build_finding(
    ctx: PipelineContext,
    rule: str,
    severity: Severity,
    build: Build,
    message: str,
    *,
    impact: str | None = None,
    fix: Fix | None = None,
) -> Finding:
    """A finding on ``build``'s script lines, silenced also by an ignore above its job (or any
    job running the same template line)."""
    lines = finding_lines(ctx.pipeline, build)
    jobs = ctx.pipeline.build_index.jobs_running(build).origins
    return ctx.finding(rule, severity, lines, message, jobs=jobs, impact=impact, fix=fix)


def jobs_named(ctx: PipelineContext, build: Build) -> str:
    """``job `a``` or ``jobs `a`, `b```: every job that runs ``build``'s script line (the
    first few and a count when a template runs in many)."""
    names = ctx.pipeline.build_index.jobs_running(build).names
    listed = ", ".join(f"`{name}`" for name in names[:MAX_JOBS_NAMED])
    if len(names) > MAX_JOBS_NAMED:
        listed += f" and {len(names) - MAX_JOBS_NAMED:,} more"
    return f"job {listed}" if len(names) == 1 else f"jobs {listed}"


def jobs_doing(ctx: PipelineContext, build: Build, singular: str, plural: str) -> str:
    """``job `a` builds`` or ``jobs `a`, `b` build``: :func:`jobs_named` with its verb."""
    named = jobs_named(ctx, build)
    return f"{named} {singular if named.startswith('job ') else plural}"


def once_per_line(findings: Iterable[tuple[Build, Finding]]) -> Iterator[Finding]:
    """One finding per rule, line span and build command: a template's build is reported once,
    not per job. Builds written in an included file all land on the ``include:`` line, so the
    command each one is (where its script entry is written, which command of it) keeps them
    apart there."""
    seen: set[tuple[object, ...]] = set()
    for build, finding in findings:
        site = (build.step.script.origin, build.step.position)
        key = (finding.rule, finding.line, finding.end_line, site)
        if key not in seen:
            seen.add(key)
            yield finding


def written_form(build: Build, written: str, resolved: str) -> str:
    """How to spell ``resolved`` in ``build``'s job: as written there when it means the same."""
    return written if expand(written, build.variables) == resolved else resolved


def spelled_image(written: str, resolved: str) -> str:
    """An image reference to build new names from: as written when the words carry the tag
    (``$CI_REGISTRY_IMAGE:latest``), resolved when a variable hides it (``$IMAGE``)."""
    return written if ":" in written.rsplit("/", 1)[-1] or written == resolved else resolved


def image_repository(build: Build) -> str:
    """The repository of the build's first tag, for new tags and caches beside it."""
    if not build.tags:
        return "$CI_REGISTRY_IMAGE"
    return parse_image(spelled_image(*build.tags[0])).name


def stable_pushed_tag(ctx: PipelineContext, build: Build) -> tuple[str, str] | None:
    """``(written, resolved)`` of an image this build can cache from: a stable tag it pushes,
    one a ``docker tag`` of its image pushes, or one that another build of the same
    Dockerfile and target pushes; stable for the build's own job (in a job of tag pipelines
    only, a tag named after the ref is not)."""
    for written, resolved in build.tags:
        if is_stable(resolved, build.job) and build.pushed(resolved):
            return written, resolved
    for written, resolved in build.retagged:
        if is_stable(resolved, build.job):
            return written, resolved
    found = ctx.pipeline.build_index.stable_by_source.get((build.dockerfile, build.target))
    if found is None or not is_stable(found[2], build.job):
        return None
    _, written, resolved = found
    return written_form(build, written, resolved), resolved


def dockerfile_of(ctx: PipelineContext, build: Build) -> dockerfile.Dockerfile | None:
    """The Dockerfile ``build`` builds, read through the repository (once per pipeline), or
    ``None``."""
    path = build.dockerfile
    if path is None:
        return None
    if path not in ctx.dockerfiles:
        text = ctx.repo.read(path)
        try:
            ctx.dockerfiles[path] = dockerfile.parse(text, path) if text is not None else None
        except InputError:
            ctx.dockerfiles[path] = None
    return ctx.dockerfiles[path]


def _stages_needed(doc: dockerfile.Dockerfile, target: dockerfile.Stage) -> set[int]:
    """Indexes of the stages a ``--target`` build of ``target`` runs."""
    needed: set[int] = set()
    pending = [target]
    while pending:
        stage = pending.pop()
        if stage.index in needed:
            continue
        needed.add(stage.index)
        parent = doc.base_stage(stage)
        sources = [i.flags.get("from") for i in stage.instructions if i.keyword == "COPY"]
        found = [doc.stage_named(name) for name in sources if name]
        pending.extend(s for s in [parent, *found] if s is not None and s.index < stage.index)
    return needed


def _steps_built(ctx: PipelineContext, build: Build) -> list[dockerfile.Instruction] | None:
    """The RUN/COPY/ADD steps of the stages ``build`` runs, or ``None`` when the Dockerfile
    cannot be read."""
    doc = dockerfile_of(ctx, build)
    if doc is None:
        return None
    target = doc.stage_named(build.target) if build.target else None
    used = _stages_needed(doc, target) if target is not None else doc.used_stages()
    return [
        instruction
        for stage in doc.stages
        if stage.index in used
        for instruction in stage.instructions
        if instruction.keyword in ("RUN", "COPY", "ADD")
    ]


def nothing_to_cache(ctx: PipelineContext, build: Build) -> bool:
    """Whether the stages ``build`` runs, read through the repository, only copy files in (a jar
    an earlier job built, static files) and fetch nothing: no ``RUN``, no ``ADD`` of a URL.
    A layer cache spares no work there: a copy of changed files runs again whatever the cache
    holds, and a copy of unchanged ones costs about what its cache check does."""
    steps = _steps_built(ctx, build)
    return steps is not None and not any(
        step.keyword == "RUN" or (step.keyword == "ADD" and "://" in step.value) for step in steps
    )


def rebuild_impact(ctx: PipelineContext, build: Build) -> str | None:
    """What a pipeline without cache re-runs, counted from the Dockerfile when we can read it."""
    steps = _steps_built(ctx, build)
    if not steps:
        return None
    runs = [i.commands[-1].text.strip()[:40] for i in steps if i.keyword == "RUN" and i.commands]
    named = f", including {', '.join(f'`{run}`' for run in runs[:2])}" if runs else ""
    counted = f"all {len(steps)} RUN/COPY/ADD steps of `{build.dockerfile}`"
    return f"every pipeline re-runs {counted}{named}{shared_line(ctx, build)}"


def shared_line(ctx: PipelineContext, build: Build) -> str:
    """``""``, or for a script line (a template's) that several jobs run on different
    Dockerfiles: how many it builds in how many jobs, the impact counted on ``build``'s."""
    site = ctx.pipeline.build_index.jobs_running(build)
    if len(site.dockerfiles) < 2:
        return ""
    known = [path for path in site.dockerfiles if path is not None]
    files = f"{len(known)} Dockerfile{'' if len(known) == 1 else 's'}" + (
        f" (and {len(site.dockerfiles) - len(known)} the CI file does not name)"
        if len(known) < len(site.dockerfiles)
        else ""
    )
    return (
        f"; this script line builds {files} in {len(site.names)} jobs, each re-run in full "
        f"(counted here for `{build.dockerfile}`, job `{build.job.name}`)"
    )
