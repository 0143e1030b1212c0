"""What the findings cost in a real build: build-log timings matched to a Dockerfile's steps.

A log's steps are matched to the Dockerfile's instructions by their text (and stage, where the
builder prints it), never by their number: the log may come from an older revision of the file
with steps added or removed since. A log that does not match the file (a job that builds
another Dockerfile) gives no timings at all, so no figure is ever made up.

Saved time is what the layer-cache model (:mod:`layerbot.analysis.layer_cache`) says stops
re-running on a code-only change once the fix is applied, counted only for steps the log
timed; a step the fix creates has no measurement and counts for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from layerbot.analysis.build_logs import BuildRun, TimedStep, normalize
from layerbot.analysis.ci_fixes import finding_lines
from layerbot.analysis.dockerfile import Dockerfile, DockerfileError, Instruction, Stage, parse
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.gitlab_ci import Pipeline
from layerbot.analysis.layer_cache import STEP_KEYWORDS, Change, all_steps_rerun
from layerbot.analysis.model import Finding
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# A log matches a file when at least this share of both sides' steps pair up.
_MIN_MATCHED_SHARE = 0.5


class Measurement(Record):
    """Timings of one Dockerfile's steps (by instruction line) and where they came from."""

    __slots__ = ("source", "timings")

    def __init__(self, source: str, timings: dict[int, TimedStep]) -> None:
        self.source: Final = source  # e.g. "pipeline #1234 (job `build`, 2 days ago)"
        self.timings: Final = timings


def _timed_steps(doc: Dockerfile) -> list[Instruction]:
    return [i for s in doc.stages for i in s.instructions if i.keyword in STEP_KEYWORDS - {"FROM"}]


def _text(instruction: Instruction) -> str:
    return normalize(f"{instruction.keyword} {instruction.value}")


def _command(instruction: Instruction) -> str:
    """The instruction without its flags: a fix that adds ``--mount`` runs the same command."""
    return normalize(f"{instruction.keyword} {instruction.arguments}")


def _stage_labels(stage: Stage) -> set[str]:
    labels = {f"stage-{stage.index}"}
    if stage.name:
        labels.add(stage.name.lower())
    return labels


def _same_text(logged: str, written: str) -> bool:
    """Equal, or one cut short of the other (builders may shorten long step names)."""
    if logged == written:
        return True
    shorter, longer = sorted((logged.rstrip(". …"), written), key=len)
    return len(shorter) >= 40 and longer.startswith(shorter)


def _match_run(doc: Dockerfile, run: BuildRun) -> dict[int, TimedStep]:
    steps = _timed_steps(doc)
    matched: dict[int, TimedStep] = {}
    for logged in run.steps:
        for instruction in steps:
            if instruction.line in matched:
                continue
            stage = doc.stages[instruction.stage]
            if logged.stage is not None and logged.stage.lower() not in _stage_labels(stage):
                continue
            if _same_text(logged.text, _text(instruction)):
                matched[instruction.line] = logged
                break
    enough = len(matched) >= _MIN_MATCHED_SHARE * max(len(steps), len(run.steps), 1)
    return matched if enough else {}


def match_runs(doc: Dockerfile, runs: Iterable[BuildRun]) -> dict[int, TimedStep]:
    """Each instruction's timing from the runs that built this file (a step that ran beats
    a cache hit of the same step in a later build of the same job)."""
    timings: dict[int, TimedStep] = {}
    for run in runs:
        for line, step in _match_run(doc, run).items():
            if line not in timings or (timings[line].seconds is None and step.seconds is not None):
                timings[line] = step
    return timings


def _seconds(value: float) -> str:
    if value >= 90:
        return f"{value / 60:.1f} min"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def saved_seconds(doc: Dockerfile, fixed_text: str, timings: dict[int, TimedStep]) -> float:
    """Measured seconds of steps that re-run on a code-only change now and, still written the
    same, stay cached after the fix. A step the fix rewrites is not counted: its new form was
    never measured."""
    try:
        fixed = parse(fixed_text, doc.path)
    except DockerfileError:
        return 0.0
    kept_cached = {_command(step) for step in _timed_steps(fixed)} - {
        _command(step) for stage in all_steps_rerun(fixed, Change.CODE) for step in stage.rerun
    }
    saved = 0.0
    for stage in all_steps_rerun(doc, Change.CODE):
        for step in stage.rerun:
            timing = timings.get(step.line)
            if timing and timing.seconds is not None and _command(step) in kept_cached:
                saved += timing.seconds
    return saved


def finding_cost(doc: Dockerfile, finding: Finding, measured: Measurement) -> str | None:
    """One sentence on what the finding's steps cost in the measured build, or None."""
    named = [
        measured.timings[i.line]
        for i in _timed_steps(doc)
        if finding.line <= i.line <= finding.end_line and i.line in measured.timings
    ]
    if not named:
        return None
    these = "this step" if len(named) == 1 else "these steps"
    if all(step.cached for step in named):
        return f"in {measured.source} {these} came from the cache"
    ran = [step for step in named if not step.cached]
    if any(step.seconds is None for step in ran):
        return None
    sentence = (
        f"in {measured.source} {these} took {_seconds(sum(s.seconds or 0 for s in ran))}"
        " and ran uncached"
    )
    if finding.fix is not None and not finding.fix.creates_file:
        saved = saved_seconds(doc, apply_fix(doc.text, finding.fix), measured.timings)
        if saved > 0:
            sentence += (
                f"; with the fix, {_seconds(saved)} of them would be cached on a code-only change"
            )
    return sentence


def _with_impact(finding: Finding, cost: str | None) -> Finding:
    if not cost:
        return finding
    impact = f"{finding.impact}; {cost}" if finding.impact else cost[0].upper() + cost[1:]
    return finding.with_impact(impact)


def with_costs(
    doc: Dockerfile, findings: Iterable[Finding], measured: Measurement
) -> list[Finding]:
    """The findings, each impact extended by what its steps cost in the measured build."""
    result = []
    for finding in findings:
        cost = finding_cost(doc, finding, measured) if finding.path == doc.path else None
        result.append(_with_impact(finding, cost))
    return result


def _short(step: TimedStep) -> str:
    """A step as a reader knows it: ``go mod download`` for ``RUN X=1 && go mod download``."""
    keyword, _, rest = step.text.partition(" ")
    command = rest.split("&&")[-1].strip() if keyword == "RUN" else step.text
    return command if len(command) <= 40 else command[:39] + "…"


def slowest_steps(measured: Measurement, count: int = 3) -> str | None:
    """The steps that took longest, e.g. ``slowest steps: `go mod download` 42 s, `go build` 24 s``
    (steps of a second or more that ran; None when none did)."""
    ran = sorted(
        (s for s in measured.timings.values() if s.seconds is not None and s.seconds >= 1),
        key=lambda s: -(s.seconds or 0.0),
    )[:count]
    if not ran:
        return None
    return "slowest steps: " + ", ".join(f"`{_short(s)}` {_seconds(s.seconds or 0)}" for s in ran)


def build_cost(measured: Measurement) -> str | None:
    """What the whole measured build cost, for a CI finding about the job that ran it."""
    steps = list(measured.timings.values())
    ran = [step for step in steps if not step.cached]
    if not ran or any(step.seconds is None for step in ran):
        return None
    total = _seconds(sum(step.seconds or 0.0 for step in ran))
    cached = len(steps) - len(ran)
    reuse = "none came from the cache" if not cached else f"{cached} of {len(steps)} were cached"
    return f"in {measured.source} the build's steps took {total} and {reuse}"


def with_build_cost(
    findings: Iterable[Finding],
    pipeline: Pipeline,
    job: str,
    doc: Dockerfile,
    measured: Measurement,
) -> list[Finding]:
    """The findings, each CI finding on ``job``'s build of ``doc`` extended by what that build
    cost (found by the lines a finding about that build spans, as the CI rules place it)."""
    spans = {
        finding_lines(pipeline, build)
        for build in pipeline.builds
        if build.job.name == job and build.dockerfile == doc.path
    }
    cost = build_cost(measured) if spans else None
    result = []
    for finding in findings:
        on_build = finding.path == pipeline.path and (finding.line, finding.end_line) in spans
        result.append(_with_impact(finding, cost if on_build else None))
    return result


def summary_line(doc: Dockerfile, fixed_text: str, measured: Measurement) -> str | None:
    """The build's measured time and what all fixes would save per code-only pipeline."""
    ran = [step for step in measured.timings.values() if not step.cached]
    if not ran or any(step.seconds is None for step in ran):
        return None
    total = sum(step.seconds or 0.0 for step in ran)
    saved = saved_seconds(doc, fixed_text, measured.timings)
    line = f"`{doc.path}`: its steps took {_seconds(total)} in {measured.source}"
    if saved > 0:
        line += f"; the fixes would save about {_seconds(saved)} per code-only pipeline"
    return line
