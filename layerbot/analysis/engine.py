"""The analysis entry points: files in, findings (and fixed text) out. No I/O happens here.

``analyse_file`` never raises for bad input: a file that cannot be analysed becomes one
``invalid-file`` finding for that file, and the other files are analysed as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from layerbot.analysis import dockerfile
from layerbot.analysis.config import Config, Suppressions
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.discovery import DOCKERFILE, GITLAB_CI, build_context, kind_in, matches_any
from layerbot.analysis.fixes import (
    apply_edits,
    check_line_breaks,
    join_lines,
    overlaps,
    split_lines,
)
from layerbot.analysis.model import (
    AnalysisResult,
    Edit,
    Finding,
    InputError,
    Note,
    RepoView,
    Safety,
    Severity,
)
from layerbot.analysis.rules import rules_for

INVALID_FILE = "invalid-file"
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FIX_PASSES = 10


def decode(path: str, data: bytes) -> str:
    """File bytes as text, or :class:`InputError` for what is not a UTF-8 text file."""
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{len(data):,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")
    if b"\x00" in data:
        raise InputError("the file is binary (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"the file is not UTF-8 text (byte {error.start})") from None


class FileReport:
    __slots__ = ("findings", "notes")

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.notes: list[Note] = []


def _invalid(path: str, error: InputError) -> Finding:
    return Finding(
        rule=INVALID_FILE,
        severity=Severity.MAJOR,
        path=path,
        line=max(1, error.line),
        end_line=max(1, error.line),
        message=f"{path} could not be analysed: {error}",
    )


def analyse_file(
    path: str,
    text: str | bytes,
    repo: RepoView,
    config: Config | None = None,
    context_dir: str | None = None,
) -> FileReport:
    """Findings for one file; ``context_dir`` overrides the Dockerfile's build context, which
    is otherwise the one the root CI configuration builds it with, else its own folder."""
    config = config or Config()
    report = FileReport()
    kind = kind_in(repo, path)
    if kind is None or matches_any(path, list(config.exclude)):
        return report
    try:
        source = decode(path, text) if isinstance(text, bytes) else text
        if len(source) > MAX_FILE_BYTES:
            raise InputError(f"{len(source):,} characters is over the {MAX_FILE_BYTES:,} limit")
        check_line_breaks(source)
        raw, anchors = _run_rules(kind, path, source, repo, context_dir, report)
    except InputError as error:
        report.findings.append(_invalid(path, error))
        return report
    suppressions = Suppressions.scan(split_lines(source))
    for finding in raw:
        adjusted = config.adjust(finding)
        if adjusted is not None and not suppressions.silences(adjusted, anchors.get(finding, ())):
            report.findings.append(adjusted)
    report.findings.sort(key=lambda f: (f.line, f.end_line, f.rule))
    return report


def _run_rules(
    kind: str,
    path: str,
    source: str,
    repo: RepoView,
    context_dir: str | None,
    report: FileReport,
) -> tuple[list[Finding], dict[Finding, tuple[int, ...]]]:
    """Raw findings of every rule for ``kind``, and extra suppression anchors per finding."""
    findings: list[Finding] = []
    anchors: dict[Finding, tuple[int, ...]] = {}
    if kind == DOCKERFILE:
        if context_dir is None:
            context_dir = build_context(repo, path)
        context = DockerfileContext.for_file(dockerfile.parse(source, path), repo, context_dir)
        for rule in rules_for(DOCKERFILE):
            findings.extend(rule.check(context))
    elif kind == GITLAB_CI:
        from layerbot.analysis import gitlab_ci

        pipeline = gitlab_ci.load_pipeline(path, source, repo)
        report.notes.extend(pipeline.notes)
        ci_context = gitlab_ci.PipelineContext(pipeline, repo)
        for rule in rules_for(GITLAB_CI):
            findings.extend(rule.check(ci_context))
        anchors = {f: ci_context.suppression_anchors(f) for f in findings}
    return findings, anchors


def analyse(
    files: Mapping[str, str | bytes], repo: RepoView, config: Config | None = None
) -> AnalysisResult:
    """Analyse several files of one repository; each file's trouble stays its own."""
    result = AnalysisResult()
    for path in sorted(files):
        if kind_in(repo, path) is None:
            continue
        report = analyse_file(path, files[path], repo, config)
        result.files += 1
        result.findings.extend(report.findings)
        result.notes.extend(report.notes)
    return result


class FixOutcome:
    __slots__ = ("fixed", "remaining", "text")

    def __init__(self, text: str, fixed: list[Finding], remaining: list[Finding]) -> None:
        self.text = text
        self.fixed = fixed
        self.remaining = remaining


def _fixable(finding: Finding, path: str, unsafe: bool) -> bool:
    fix = finding.fix
    if fix is None or fix.creates_file or (fix.path not in (None, path)):
        return False
    return unsafe or fix.safety is Safety.SAFE


def _compatible(chosen: Iterable[Edit], candidate: Iterable[Edit]) -> bool:
    return not any(overlaps(a, b) for a in chosen for b in candidate)


def fix_file(
    path: str,
    text: str,
    repo: RepoView,
    config: Config | None = None,
    *,
    unsafe: bool = False,
    context_dir: str | None = None,
) -> FixOutcome:
    """Apply every fix that edits ``path`` itself, re-analysing until nothing more applies.

    Fixes whose edits overlap wait for the next pass, where they are recomputed against the
    new text; so a whole-file rewrite and a one-line fix compose instead of clobbering.
    """
    fixed: list[Finding] = []
    findings = analyse_file(path, text, repo, config, context_dir).findings
    for _ in range(MAX_FIX_PASSES):
        edits: list[Edit] = []
        applied_now = []
        for finding in findings:
            if not _fixable(finding, path, unsafe):
                continue
            assert finding.fix is not None
            if _compatible(edits, finding.fix.edits):
                edits.extend(finding.fix.edits)
                applied_now.append(finding)
        if not applied_now:
            break
        trailing = text.endswith("\n") or not text
        text = join_lines(apply_edits(split_lines(text), edits), trailing)
        fixed.extend(applied_now)
        findings = analyse_file(path, text, repo, config, context_dir).findings
    return FixOutcome(text=text, fixed=fixed, remaining=findings)
