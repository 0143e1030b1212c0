"""What one rule's fixes look like across its cases, beyond what one case's files can state.

``test_rules.py`` checks each case on its own; these checks read the same case folders and
state properties of a rule's fixes (the multi-stage rewrite's ``[rewrite]`` facts, the shape
of an edit, which ecosystems the cases cover) and the few interplays between rules.
"""

from __future__ import annotations

import posixpath

import pytest

from layerbot.analysis import dockerfile, ecosystems
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix, as_replacement
from layerbot.analysis.model import Finding, RepoView, Safety
from layerbot.analysis.shipped import ShippedImage
from layerbot.analysis.toolchains import ALPINE, DISTROLESS_STATIC, approximate_size_mb, describe
from tests.rules.cases import Case, cases_of


def _id(case: Case) -> str:
    return case.folder.name


def the_finding(case: Case) -> Finding:
    [finding] = [f for f in case.findings() if f.rule == case.rule]
    return finding


def fixed_by_the_finding(case: Case) -> str:
    fix = the_finding(case).fix
    assert fix is not None
    return apply_fix(case.text, fix)


# --- multi-stage: the builder + runtime rewrite -------------------------------------------

REWRITES = [case for case in cases_of("multi-stage") if "rewrite" in case.expected]
WHOLE_REWRITES = [case for case in REWRITES if "runtime" in case.expected["rewrite"]]


def runtime_facts(text: str) -> tuple[str, list[tuple[str, str]], tuple[str, ...], str]:
    """Final stage base, what it copies from the builder (source, destination), start argv and
    WORKDIR."""
    doc = dockerfile.parse(text)
    shipped = ShippedImage.of(doc)
    copies = []
    for instruction in doc.final_stage.of("COPY"):
        stage = doc.stage_named(instruction.flags.get("from", ""))
        if stage is not None and stage.index == doc.final_stage.index - 1:
            destination = instruction.copy_destination()
            assert destination is not None
            copies.append((instruction.copy_sources()[0], destination))
    entry = shipped.entry()
    assert entry is not None
    assert shipped.workdir is not None
    return doc.final_stage.base, copies, entry.argv, shipped.workdir


@pytest.mark.parametrize("case", REWRITES, ids=_id)
def test_rewrite_builds_the_runtime_stage_the_case_states(case: Case) -> None:
    expect = case.expected["rewrite"]
    fix = the_finding(case).fix
    assert fix is not None
    fixed = apply_fix(case.text, fix)
    runtime = dockerfile.parse(fixed).final_stage
    if "appends" in expect:  # the build tools are removed in their own RUN instead
        assert expect["appends"] in fixed.splitlines()
    if "runtime" in expect:
        assert [(e.start_line, e.end_line) for e in fix.edits] == [(1, len(case.text.splitlines()))]
        base, copies, argv, _ = runtime_facts(fixed)
        assert base == expect["runtime"]
        assert copies == [tuple(expect["copy"])]
        assert list(argv) == expect["start"]
    if "builder_from" in expect:
        assert dockerfile.parse(fixed).stages[-2].base == expect["builder_from"]
    if "carries" in expect:
        carried = [
            i.original
            for i in runtime.body
            if i.keyword in {"COPY", "ADD"} and i.flags.get("from") != "builder"
        ]
        assert carried == expect["carries"]
    runs = [i.arguments for i in runtime.of("RUN")]
    wanted = expect.get("runs", [])
    for part in [wanted] if isinstance(wanted, str) else wanted:
        assert any(part in run for run in runs), (part, runs)
    if "user" in expect:
        assert [i.arguments for i in runtime.of("USER")] == [expect["user"]]
    if "manifests" in expect:
        assert runtime.of("COPY")[0].copy_sources() == expect["manifests"]


@pytest.mark.parametrize("case", WHOLE_REWRITES, ids=_id)
def test_rewrite_keeps_the_build_stage_instructions_as_written(case: Case) -> None:
    """Only a build step is added, when the original ran the toolchain at start."""
    expect = case.expected["rewrite"]
    before = dockerfile.parse(case.text)
    after = dockerfile.parse(fixed_by_the_finding(case))
    metadata = {"EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "LABEL", "STOPSIGNAL"}
    kept = [(i.keyword, i.value) for i in before.final_stage.body if i.keyword not in metadata]
    builder = after.stages[-2]
    built = [(i.keyword, i.value) for i in builder.body if i.value != "CGO_ENABLED=0"]
    assert built[: len(kept)] == kept
    added = [f"{keyword} {value}" for keyword, value in built[len(kept) :]]
    assert added == ([expect["adds"]] if "adds" in expect else [])
    assert builder.name
    copied_from = {i.flags["from"] for i in after.final_stage.of("COPY") if "from" in i.flags}
    assert builder.name in copied_from
    assert all(after.stage_named(name) is not None for name in copied_from)
    for stage_before, stage_after in zip(before.stages[:-1], after.stages[:-2], strict=True):
        assert stage_after.instructions == stage_before.instructions


@pytest.mark.parametrize("case", WHOLE_REWRITES, ids=_id)
def test_start_command_runs_what_the_runtime_stage_copies(case: Case) -> None:
    """Paths the start command names resolve, from the runtime WORKDIR, into a copied path."""
    _, copies, argv, workdir = runtime_facts(fixed_by_the_finding(case))
    named = [a for a in argv if "/" in a or a.endswith((".dll", ".jar"))]
    if not named:  # `yarn start` or a bare name from PATH: stated by expected.toml
        return
    target = posixpath.normpath(posixpath.join(workdir, named[0]))
    assert any(
        target == posixpath.normpath(dest) or target.startswith(dest.rstrip("/") + "/")
        for _, dest in copies
    ), (target, copies)


ARTICLE = Case(next(c.folder for c in cases_of("multi-stage") if c.folder.name == "bad-go-article"))


def test_article_naive_dockerfile_is_fixed_into_builder_and_small_runtime() -> None:
    assert ARTICLE.text.startswith("FROM golang:latest\n") and "go 1.22" in ARTICLE.files["go.mod"]
    outcome = fix_file("Dockerfile", ARTICLE.text, ARTICLE.repo, unsafe=True)
    doc = dockerfile.parse(outcome.text)
    assert len(doc.stages) == 2
    builder, runtime = doc.stages
    assert builder.name == "builder"
    assert runtime.image.name in {ALPINE.split(":")[0], DISTROLESS_STATIC}
    assert runtime.image.tag != "latest"
    (copy,) = [i for i in runtime.of("COPY") if i.flags.get("from") == "builder"]
    _, copies, argv, workdir = runtime_facts(outcome.text)
    assert posixpath.normpath(posixpath.join(workdir, argv[0])) == copies[0][1]
    # The builder writes the binary where the runtime copies it from.
    build_dir = ShippedImage.of(doc).workdir  # runtime WORKDIR mirrors the builder's
    assert copy.copy_sources() == [posixpath.join(build_dir or "/", "main")]
    assert "CGO_ENABLED=0" in outcome.text
    assert [f for f in outcome.remaining if f.rule == "multi-stage"] == []


def test_multi_stage_impact_comes_from_the_size_table() -> None:
    finding = the_finding(ARTICLE)
    doc = dockerfile.parse(ARTICLE.text)
    before = doc.resolved_base(doc.final_stage)
    assert approximate_size_mb(before) is not None
    assert describe(before) in (finding.impact or "")
    assert describe(ALPINE) in (finding.impact or "")
    assert "approximate" in (finding.impact or "")


@pytest.mark.parametrize(
    "text",
    [
        ARTICLE.text.replace("WORKDIR /app", "WORKDIR /a\rpp"),
        ARTICLE.text + "]",  # a last line without newline that the parser never reads
    ],
    ids=["stray-carriage-return", "unread-last-line"],
)
def test_files_whose_lines_cannot_be_trusted_are_refused_before_any_rule(text: str) -> None:
    findings = analyse_file("Dockerfile", text, ARTICLE.repo).findings
    assert [f.rule for f in findings] == ["invalid-file"]


def test_a_crlf_file_is_rewritten() -> None:
    """Kept out of the case folders: git may normalise a committed CRLF file."""
    text = ARTICLE.text.replace("\n", "\r\n")
    [finding] = [f for f in ARTICLE.findings(text) if f.rule == "multi-stage"]
    assert finding.fix is not None
    assert len(dockerfile.parse(apply_fix(text, finding.fix)).stages) == 2


def test_every_ecosystem_has_a_positive_and_a_negative_multi_stage_case() -> None:
    names = [case.folder.name for case in cases_of("multi-stage")]
    for ecosystem in ("go", "rust", "maven", "gradle", "node", "dotnet", "python", "apk"):
        assert any(n.startswith("bad-") and ecosystem in n for n in names), ecosystem
    for ecosystem in ("go", "rust", "java", "node", "dotnet", "python", "apk", "build-tools"):
        assert any(n.startswith("good-") and ecosystem in n for n in names), ecosystem


# --- cache-mount ----------------------------------------------------------------------------

CACHE_MOUNT_FIXED = [c for c in cases_of("cache-mount") if c.rules == {"cache-mount"}]
CACHE_MOUNT_FIXED = [c for c in CACHE_MOUNT_FIXED if c.expected_fixed.exists()]


def _steps(line: str) -> list[ecosystems.DependencyStep]:
    return ecosystems.dependency_steps(dockerfile.parse(f"FROM x\n{line}\n").stages[0].body[0])


def test_every_ecosystem_has_a_cache_mount_case_with_a_fix() -> None:
    covered = {
        step.ecosystem.name
        for case in CACHE_MOUNT_FIXED
        for line in case.text.splitlines()
        if line.startswith("RUN")
        for step in _steps(line)
    }
    assert covered == {e.name for e in ecosystems.ECOSYSTEMS if e.cache_dirs}


def _mounts(line: str) -> str:
    words = line.split()[1:]
    return "".join(f"{w} " for w in words if w.startswith("--mount=type=cache,target="))


@pytest.mark.parametrize("case", CACHE_MOUNT_FIXED, ids=_id)
def test_cache_mount_fix_only_adds_mounts(case: Case) -> None:
    fix = the_finding(case).fix
    assert fix is not None
    if len(fix.edits) == 1:
        assert as_replacement(case.text, fix) is not None
    before, after = case.text.splitlines(), fixed_by_the_finding(case).splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed and all(b == a.replace("RUN ", "RUN " + _mounts(b), 1) for a, b in changed)


def test_fixing_everything_never_mounts_a_cache_pip_is_told_not_to_use() -> None:
    [pip] = [c for c in cases_of("cache-mount") if c.folder.name == "pip"]
    outcome = fix_file("Dockerfile", pip.text, pip.repo, unsafe=True)
    install = next(line for line in outcome.text.splitlines() if "pip install" in line)
    assert ("--mount=type=cache" in install) != ("--no-cache-dir" in install)
    remaining = {f.rule for f in outcome.remaining}
    assert "package-cache" not in remaining and "cache-mount" not in remaining


# --- dependency-layer-order -----------------------------------------------------------------

ORDERED = [c for c in cases_of("dependency-layer-order") if c.expected_fixed.exists()]


def test_every_ecosystem_has_a_dependency_layer_order_case_with_a_fix() -> None:
    labels = {
        label
        for case in ORDERED
        for expected in case.expected_findings
        for label in expected.get("message_has", [])
    }
    assert {e.label for e in ecosystems.ECOSYSTEMS} <= labels


@pytest.mark.parametrize("case", ORDERED, ids=_id)
def test_dependency_layer_order_fix_is_one_suggestion_over_the_finding(case: Case) -> None:
    for finding in case.findings():
        assert finding.fix is not None
        replacement = as_replacement(case.text, finding.fix)
        assert replacement is not None
        assert (replacement.start_line, replacement.end_line) == (finding.line, finding.end_line)


def test_the_proposed_dockerignore_makes_the_node_reorder_safe() -> None:
    [case] = [c for c in cases_of("dependency-layer-order") if c.folder.name == "yarn-berry"]
    report = analyse_file(case.path, case.text, case.repo)
    [before] = [f for f in report.findings if f.rule == "dependency-layer-order"]
    [ignore] = [f for f in report.findings if f.rule == "dockerignore"]
    assert before.fix is not None and before.fix.safety is Safety.REVIEW
    assert ignore.fix is not None and ignore.fix.path == ".dockerignore"
    files = {**case.files, ".dockerignore": apply_fix("", ignore.fix)}
    [after] = [
        f
        for f in analyse_file(case.path, case.text, RepoView.from_files(files)).findings
        if f.rule == "dependency-layer-order"
    ]
    assert after.fix is not None and after.fix.safety is Safety.SAFE


# --- dockerignore ---------------------------------------------------------------------------


def entries(case_name: str) -> list[str]:
    [case] = [c for c in cases_of("dockerignore") if c.folder.name == case_name]
    return case.expected_fixed.read_text().splitlines()


def test_dockerignore_entries_are_fitted_to_the_ecosystem() -> None:
    assert "**/node_modules" in entries("node")
    assert "target" in entries("maven") and "**/node_modules" not in entries("maven")
    assert {"**/bin", "**/obj"} <= set(entries("dotnet-subfolder-context"))
    assert "**/__pycache__" in entries("python-tracked-build-folder")
    assert {".git", ".env", "!.env.example"} <= set(entries("go"))


def test_what_the_dockerfile_needs_is_never_excluded() -> None:
    assert "dist" in entries("node") and "dist" not in entries("node-prebuilt-dist")
    assert ".git" not in entries("rust-uses-git")
    assert "build" not in entries("python-tracked-build-folder")
