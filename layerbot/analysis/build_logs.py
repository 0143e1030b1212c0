"""Per-step timings read from a CI job's log: what each Dockerfile step cost in a real build.

CI runners print each builder's progress as plain text, and each builder says which step ran,
whether it came from the cache and (for most) how long it took:

- BuildKit's plain progress (``docker build`` with BuildKit, ``docker buildx build``, the
  default outside a terminal): ``#8 [builder 4/6] RUN go mod download`` opens a step (the
  bracket holds the stage name, ``stage-N`` for an unnamed stage, or nothing in a one-stage
  file), ``#8 DONE 41.8s`` closes it, ``#8 CACHED`` says it was a cache hit, ``#8 ERROR: …``
  that it failed. Numbering starts again at ``#1`` for each build in the same job.
- kaniko: every line carries the seconds since kaniko started (``INFO[0042] RUN …``); a step
  lasts until the next step's line; ``Using caching version of cmd: RUN …`` marks a cache hit.
- Buildah (``STEP 3/6: RUN …``, ``--> Using cache …``) and Docker's classic builder
  (``Step 3/6 : RUN …``, `` ---> Using cache``) print no durations: a step's time comes from
  GitLab Runner's per-line timestamps when the job sets ``FF_TIMESTAMPS`` (GitLab 17.1+:
  ``2024-05-01T10:00:00.123456Z 00O `` before every line), else it is unknown.

The raw log the jobs API serves also holds ANSI colours, ``\\r`` progress rewrites and
``section_start:…``/``section_end:…`` markers; they are removed first.

No builder prints the pushed image's size (``docker push``'s ``size: N`` is the manifest's
size, not the image's), so no size is read from logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# GitLab Runner's line header with FF_TIMESTAMPS: RFC 3339 time with microseconds, a stream
# number (two hex digits), O or E, and '+' when the line continues the previous one.
_RUNNER_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) [0-9a-f]{2}[EO][+ ]")
_SECTION_MARKER = re.compile(r"section_(?:start|end):\d+:[A-Za-z0-9_.\-]+(?:\[[^\]]*\])?")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

_BUILDKIT_LINE = re.compile(r"^#(\d+) (.*)$")
_BUILDKIT_STEP = re.compile(r"^\[(?:(\S+) )?(\d+)/(\d+)\] (.*)$")
_BUILDKIT_DONE = re.compile(r"^DONE (\d+(?:\.\d+)?)s$")
# The first vertex of every build: the next build of the same job starts numbering again.
_BUILDKIT_FIRST_VERTEX = ("[internal] load build definition", "building with ")
_KANIKO_LINE = re.compile(r"^(?:INFO|WARN|DEBU)\[(\d+)\] (.*)$")
_KANIKO_STAGE = re.compile(r"^Building stage '[^']*' \[idx: '(\d+)'")
_KANIKO_CACHED = re.compile(r"^Using caching version of cmd: (.*)$")
_KANIKO_END = re.compile(r"^(Pushing image|Pushed |Skipping push)")
_STEP_HEADER = re.compile(r"^(?:\[\d+/\d+\] )?(STEP|Step) (\d+)/(\d+) ?: (.*)$")
_STEP_CACHED = re.compile(r"^\s*-{2,3}> Using cache")
_STEP_END = re.compile(r"^(Successfully built|Successfully tagged|COMMIT|-{2,3}>\s*[0-9a-f]{6,}$)")
_INSTRUCTION = re.compile(
    r"^(FROM|RUN|COPY|ADD|WORKDIR|ENV|ARG|LABEL|USER|EXPOSE|VOLUME|CMD|ENTRYPOINT|"
    r"HEALTHCHECK|SHELL|STOPSIGNAL|ONBUILD|MAINTAINER) (.*)$"
)


class TimedStep(Record):
    """One Dockerfile step as a build log reports it."""

    __slots__ = ("cached", "failed", "seconds", "stage", "text")

    def __init__(
        self,
        stage: str | None,
        text: str,
        seconds: float | None,
        cached: bool = False,
        failed: bool = False,
    ) -> None:
        self.stage: Final = stage  # the stage's name as the builder printed it (None: not printed)
        self.text: Final = text  # the instruction, whitespace collapsed: "RUN go mod download"
        self.seconds: Final = seconds  # None: cached, failed, or the log gives no time
        self.cached: Final = cached
        self.failed: Final = failed


class BuildRun(Record):
    """One image build found in a log (a job may build several, e.g. ``--target builder``)."""

    __slots__ = ("builder", "steps")

    def __init__(self, builder: str, steps: tuple[TimedStep, ...]) -> None:
        self.builder: Final = builder  # "BuildKit", "kaniko", "Buildah" or "classic builder"
        self.steps: Final = steps

    @property
    def seconds(self) -> float | None:
        """Time spent in the steps, when every step that ran was timed."""
        ran = [step for step in self.steps if not step.cached]
        if not ran or any(step.seconds is None for step in ran):
            return None
        return sum(step.seconds or 0.0 for step in ran)


class _Line(Record):
    __slots__ = ("text", "time")

    def __init__(self, text: str, time: datetime | None) -> None:
        self.text: Final = text
        self.time: Final = time


def normalize(instruction: str) -> str:
    """An instruction as a comparable string: keyword upper-cased, whitespace collapsed."""
    words = instruction.split()
    if not words:
        return ""
    return " ".join([words[0].upper(), *words[1:]])


def clean_lines(log: str) -> Iterator[_Line]:
    """The log's visible lines: runner timestamps split off, colours, markers and rewrites gone."""
    for raw in log.split("\n"):
        time = None
        header = _RUNNER_TIMESTAMP.match(raw)
        if header:
            time = datetime.fromisoformat(header.group(1).replace("Z", "+00:00"))
            raw = raw[header.end() :]
        text = _SECTION_MARKER.sub("", _ANSI.sub("", raw.rstrip("\r")))
        yield _Line(text.rsplit("\r", 1)[-1].rstrip(), time)


def parse_build_log(log: str) -> list[BuildRun]:
    """Every build the log shows, in order, with the steps it ran."""
    lines = list(clean_lines(log))
    for parser in (_buildkit_runs, _kaniko_runs, _numbered_step_runs):
        runs = parser(lines)
        if runs:
            return runs
    return []


class _OpenStep:
    __slots__ = ("cached", "closed", "failed", "seconds", "stage", "started", "text")

    def __init__(
        self,
        stage: str | None,
        text: str,
        seconds: float | None = None,
        cached: bool = False,
        failed: bool = False,
        started: datetime | float | None = None,
        closed: bool = False,
    ) -> None:
        self.stage = stage
        self.text = text
        self.seconds = seconds
        self.cached = cached
        self.failed = failed
        self.started = started
        self.closed = closed

    def frozen(self) -> TimedStep:
        return TimedStep(
            self.stage,
            self.text,
            None if self.cached or self.failed else self.seconds,
            self.cached,
            self.failed,
        )


class _Runs:
    __slots__ = ("builder", "runs")

    def __init__(self, builder: str) -> None:
        self.builder = builder
        self.runs: list[list[_OpenStep]] = []

    def new_run(self) -> list[_OpenStep]:
        self.runs.append([])
        return self.runs[-1]

    def result(self) -> list[BuildRun]:
        return [
            BuildRun(self.builder, tuple(step.frozen() for step in run)) for run in self.runs if run
        ]


def _buildkit_runs(lines: list[_Line]) -> list[BuildRun]:
    found = _Runs("BuildKit")
    steps: dict[int, _OpenStep] = {}
    seen: set[int] = set()
    run: list[_OpenStep] | None = None
    for line in lines:
        match = _BUILDKIT_LINE.match(line.text)
        if not match:
            continue
        number, rest = int(match.group(1)), match.group(2)
        if run is None or (rest.startswith(_BUILDKIT_FIRST_VERTEX) and number in seen):
            run, steps, seen = found.new_run(), {}, set()
        if number not in seen:
            seen.add(number)
            header = _BUILDKIT_STEP.match(rest)
            if header and not header.group(4).upper().startswith("FROM "):
                steps[number] = _OpenStep(header.group(1), normalize(header.group(4)))
                run.append(steps[number])
            continue
        step = steps.get(number)
        if step is None:
            continue
        if done := _BUILDKIT_DONE.match(rest):
            step.seconds = float(done.group(1))
        elif rest == "CACHED":
            step.cached = True
        elif rest.startswith(("ERROR", "CANCELED")):
            step.failed = True
    return found.result()


def _kaniko_runs(lines: list[_Line]) -> list[BuildRun]:
    found = _Runs("kaniko")
    cached: set[str] = set()
    stage: str | None = None
    run: list[_OpenStep] | None = None
    current: _OpenStep | None = None

    def close(at: float) -> None:
        if current is not None and isinstance(current.started, float):
            current.seconds = at - current.started

    for line in lines:
        match = _KANIKO_LINE.match(line.text)
        if not match:
            continue
        elapsed, message = float(match.group(1)), match.group(2)
        if run is None:
            run = found.new_run()
        if hit := _KANIKO_CACHED.match(message):
            cached.add(normalize(hit.group(1)))
        elif stage_header := _KANIKO_STAGE.match(message):
            close(elapsed)
            current, stage = None, f"stage-{stage_header.group(1)}"
        elif _KANIKO_END.match(message):
            close(elapsed)
            current = None
        elif _INSTRUCTION.match(message) and not message.upper().startswith("FROM "):
            close(elapsed)
            text = normalize(message)
            current = _OpenStep(stage, text, cached=text in cached, started=elapsed)
            run.append(current)
    return found.result()


def _numbered_step_runs(lines: list[_Line]) -> list[BuildRun]:
    """Buildah's ``STEP i/n:`` and the classic builder's ``Step i/n :``, timed by the runner."""
    found: _Runs | None = None
    run: list[_OpenStep] | None = None
    current: _OpenStep | None = None

    def close(at: datetime | None) -> None:
        if current is not None and isinstance(current.started, datetime) and at is not None:
            current.seconds = (at - current.started).total_seconds()

    for line in lines:
        header = _STEP_HEADER.match(line.text)
        if header:
            if found is None:
                found = _Runs("Buildah" if header.group(1) == "STEP" else "classic builder")
            close(line.time)
            if run is None or header.group(2) == "1":
                run = found.new_run()
            current = None
            if not header.group(4).upper().startswith("FROM "):
                current = _OpenStep(None, normalize(header.group(4)), started=line.time)
                run.append(current)
        elif current is not None and _STEP_CACHED.match(line.text):
            current.cached = True
        elif current is not None and _STEP_END.match(line.text.strip()):
            close(line.time)
            current.closed = True
            current = None
    return found.result() if found else []
