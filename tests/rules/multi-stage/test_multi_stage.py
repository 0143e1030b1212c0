"""The multi-stage rule: detection per ecosystem, the builder + runtime rewrite, and its impact.

Each folder under ``fixtures/`` is a small project: a ``Dockerfile``, the project files the rule
reads (go.mod, Cargo.toml, pom.xml, ...) and a hand-written ``expect.toml``: ``findings = 0``
for a Dockerfile that must raise nothing, otherwise the finding's ``line``, its ``severity``
when it is not ``major``, and either
``no_fix`` (a phrase the message must contain) or what the rewrite must produce: the runtime
image, the one ``COPY --from`` (builder path, runtime path), the start command's argv and,
when the original only ran the toolchain at start (``go run``), the build step it ``adds``.
"""

from __future__ import annotations

import posixpath
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from layerbot.analysis import dockerfile, project
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix, fix_diff
from layerbot.analysis.model import Finding, RepoView
from layerbot.analysis.rules import all_rules
from layerbot.analysis.rules.multi_stage import NAME, left_behind
from layerbot.analysis.shipped import ShippedImage
from layerbot.analysis.toolchains import (
    ALPINE,
    DISTROLESS_STATIC,
    Toolchain,
    approximate_size_mb,
    describe,
    java_version_of,
    toolchain_of,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
# The design article's first Dockerfile, with the go.mod (go 1.22) and go.sum beside it.
ARTICLE = FIXTURES / "bad-go-article"
ARTICLE_NAIVE = (ARTICLE / "Dockerfile").read_text()
GO_PROJECT = {name: (ARTICLE / name).read_text() for name in ("go.mod", "go.sum")}


def load_case(case: Path) -> tuple[str, RepoView, dict[str, Any]]:
    files = {p.name: p.read_text() for p in case.iterdir() if p.name != "expect.toml"}
    expect = tomllib.loads((case / "expect.toml").read_text())
    return files["Dockerfile"], RepoView.from_files(files), expect


def multi_stage(text: str, repo: RepoView) -> list[Finding]:
    return [f for f in analyse_file("Dockerfile", text, repo).findings if f.rule == NAME]


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


def git_apply_check(tmp_path: Path, text: str, diff: str) -> subprocess.CompletedProcess[str]:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "Dockerfile").write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "fix.patch").write_text(diff)
    return subprocess.run(
        ["git", "apply", "--check", "fix.patch"], cwd=repo, capture_output=True, text=True
    )


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_fixture_raises_what_expect_toml_says(case: Path) -> None:
    text, repo, expect = load_case(case)
    found = multi_stage(text, repo)
    if expect.get("findings") == 0:
        assert found == []
        return
    assert len(found) == 1
    finding = found[0]
    assert (finding.line, finding.end_line) == (
        expect["line"],
        expect.get("end_line", expect["line"]),
    )
    assert finding.impact
    assert finding.severity.value == expect.get("severity", "major")
    if "no_fix" in expect:
        assert finding.fix is None
        assert expect["no_fix"] in finding.message
    else:
        assert finding.fix is not None
        assert finding.fix.safety.value == "review"


REWRITES = [c for c in CASES if "runtime" in tomllib.loads((c / "expect.toml").read_text())]


@pytest.mark.parametrize("case", REWRITES, ids=lambda p: p.name)
def test_rewrite_builds_the_expected_runtime_stage(case: Path) -> None:
    text, repo, expect = load_case(case)
    fix = multi_stage(text, repo)[0].fix
    assert fix is not None and len(fix.edits) == 1
    assert (fix.edits[0].start_line, fix.edits[0].end_line) == (1, len(text.splitlines()))
    fixed = apply_fix(text, fix)
    base, copies, argv, _ = runtime_facts(fixed)
    assert base == expect["runtime"]
    assert copies == [tuple(expect["copy"])]
    assert list(argv) == expect["start"]
    if "builder_from" in expect:
        assert dockerfile.parse(fixed).stages[-2].base == expect["builder_from"]
    if "carries" in expect:
        runtime = dockerfile.parse(fixed).final_stage
        carried = [
            i.original
            for i in runtime.body
            if i.keyword in {"COPY", "ADD"} and i.flags.get("from") != "builder"
        ]
        assert carried == expect["carries"]
    if "runs" in expect:
        runs = [i.arguments for i in dockerfile.parse(fixed).final_stage.of("RUN")]
        assert any(expect["runs"] in run for run in runs)


@pytest.mark.parametrize("case", REWRITES, ids=lambda p: p.name)
def test_rewrite_keeps_the_build_stage_instructions_as_written(case: Path) -> None:
    """Only a build step is added, when the original ran the toolchain at start."""
    text, repo, expect = load_case(case)
    fix = multi_stage(text, repo)[0].fix
    assert fix is not None
    before = dockerfile.parse(text)
    after = dockerfile.parse(apply_fix(text, fix))
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


FIXES = [c for c in CASES if any(f.fix for f in multi_stage(load_case(c)[0], load_case(c)[1]))]


@pytest.mark.parametrize("case", FIXES, ids=lambda p: p.name)
def test_every_fix_applies_parses_and_is_not_raised_again(case: Path, tmp_path: Path) -> None:
    text, repo, _ = load_case(case)
    for finding in multi_stage(text, repo):
        assert finding.fix is not None
        diff = fix_diff("Dockerfile", text, finding.fix)
        result = git_apply_check(tmp_path, text, diff)
        assert result.returncode == 0, result.stderr
        fixed = apply_fix(text, finding.fix)
        dockerfile.parse(fixed)
        assert multi_stage(fixed, repo) == []


def test_start_command_runs_what_the_runtime_stage_copies() -> None:
    """Paths the start command names resolve, from the runtime WORKDIR, into a copied path."""
    for case in REWRITES:
        text, repo, _ = load_case(case)
        fix = multi_stage(text, repo)[0].fix
        assert fix is not None
        _, copies, argv, workdir = runtime_facts(apply_fix(text, fix))
        named = [a for a in argv if "/" in a or a.endswith((".dll", ".jar"))]
        if not named:  # `yarn start` or a bare name from PATH: covered by expect.toml
            continue
        target = posixpath.normpath(posixpath.join(workdir, named[0]))
        assert any(
            target == posixpath.normpath(dest) or target.startswith(dest.rstrip("/") + "/")
            for _, dest in copies
        ), (case.name, target, copies)


def test_article_naive_dockerfile_is_fixed_into_builder_and_small_runtime() -> None:
    assert ARTICLE_NAIVE.startswith("FROM golang:latest\n") and "go 1.22" in GO_PROJECT["go.mod"]
    repo = RepoView.from_files({**GO_PROJECT, "Dockerfile": ARTICLE_NAIVE})
    found = multi_stage(ARTICLE_NAIVE, repo)
    assert [(f.line, f.rule) for f in found] == [(1, NAME)]

    outcome = fix_file("Dockerfile", ARTICLE_NAIVE, repo, unsafe=True)
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
    assert multi_stage(outcome.text, repo) == []


def test_impact_comes_from_the_size_table() -> None:
    repo = RepoView.from_files({**GO_PROJECT, "Dockerfile": ARTICLE_NAIVE})
    (finding,) = multi_stage(ARTICLE_NAIVE, repo)
    doc = dockerfile.parse(ARTICLE_NAIVE)
    before = doc.resolved_base(doc.final_stage)
    assert approximate_size_mb(before) is not None
    assert describe(before) in (finding.impact or "")
    assert describe(ALPINE) in (finding.impact or "")
    assert "approximate" in (finding.impact or "")


def test_global_arg_base_image_is_resolved() -> None:
    text = (
        "ARG IMAGE=rust:1.79\nFROM ${IMAGE}\nCOPY . .\nRUN cargo build --release\n"
        'CMD ["./target/release/x"]\n'
    )
    repo = RepoView.from_files({"Cargo.toml": '[package]\nname = "x"\n', "Dockerfile": text})
    (finding,) = multi_stage(text, repo)
    assert "`rust:1.79`" in finding.message


def test_unresolvable_base_image_is_left_alone() -> None:
    text = 'ARG IMAGE\nFROM ${IMAGE}\nCOPY . .\nRUN go build -o app .\nCMD ["./app"]\n'
    assert multi_stage(text, RepoView.from_files({})) == []


def test_jre_and_slim_images_are_not_toolchains() -> None:
    for base in ("eclipse-temurin:21-jre", "python:3.12-slim", "node:20-slim"):
        text = f'FROM {base}\nCOPY app /app\nCMD ["/app"]\n'
        assert multi_stage(text, RepoView.from_files({})) == [], base


def test_node_image_without_a_build_step_is_not_flagged() -> None:
    text = 'FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD ["node", "index.js"]\n'
    assert multi_stage(text, RepoView.from_files({})) == []


def test_build_tools_removed_in_the_same_run_are_not_left_behind() -> None:
    doc = dockerfile.parse(
        "FROM debian:bookworm-slim\n"
        "RUN apt-get update && apt-get install -y gcc-12 make && make && "
        "apt-get purge -y gcc-12 make\n"
        "RUN apk add --virtual=.deps gcc && apk del .deps\n"
        "RUN dnf groupinstall -y 'Development Tools'\n"
    )
    runs = doc.final_stage.of("RUN")
    assert left_behind(runs[0]).tools == ()
    assert left_behind(runs[1]).groups == ()
    assert left_behind(runs[2]).tools == ("Development Tools",)


def test_build_tools_in_an_unused_stage_are_ignored_but_a_from_chain_is_followed() -> None:
    unused = (
        "FROM debian:bookworm-slim AS tools\nRUN apt-get install -y build-essential\n"
        'FROM alpine:3.20\nCMD ["true"]\n'
    )
    chained = (
        "FROM debian:bookworm-slim AS tools\nRUN apt-get install -y build-essential\n"
        'FROM tools\nCMD ["true"]\n'
    )
    assert multi_stage(unused, RepoView.from_files({})) == []
    assert [f.line for f in multi_stage(chained, RepoView.from_files({}))] == [2]


def test_rule_docs_have_every_section_and_cite_the_docker_doc() -> None:
    doc = all_rules()[NAME].doc
    for section in ("What it does", "Why it matters", "Example", "Use instead", "Fix safety"):
        assert f"## {section}" in doc
    assert "https://docs.docker.com/build/building/multi-stage/" in doc


def test_every_ecosystem_has_a_positive_and_a_negative_fixture() -> None:
    names = [case.name for case in CASES]
    for ecosystem in ("go", "rust", "maven", "gradle", "node", "dotnet", "python", "apk"):
        assert any(n.startswith("bad-") and ecosystem in n for n in names), ecosystem
    for ecosystem in ("go", "rust", "java", "node", "dotnet", "python", "apk", "build-tools"):
        assert any(n.startswith("good-") and ecosystem in n for n in names), ecosystem


def test_context_dir_is_where_project_files_are_read() -> None:
    text = (FIXTURES / "bad-rust-release" / "Dockerfile").read_text()
    cargo = (FIXTURES / "bad-rust-release" / "Cargo.toml").read_text()
    repo = RepoView.from_files({"svc/Dockerfile": text, "svc/Cargo.toml": cargo})
    doc = dockerfile.parse(text, "svc/Dockerfile")
    ctx = DockerfileContext.for_file(doc, repo)
    assert ctx.read("Cargo.toml") == cargo
    findings = analyse_file("svc/Dockerfile", text, repo).findings
    (finding,) = [f for f in findings if f.rule == NAME]
    assert finding.fix is not None
    assert "hello-server" in apply_fix(text, finding.fix)


def _context(files: dict[str, str]) -> DockerfileContext:
    doc = dockerfile.parse("FROM scratch\n")
    return DockerfileContext.for_file(doc, RepoView.from_files(files))


def test_project_versions_for_the_runtime_tags() -> None:
    pom = "<project><properties><maven.compiler.release>17</maven.compiler.release>"
    assert project.java_version(_context({"pom.xml": pom + "</properties></project>"})) == "17"
    legacy = "<project><properties><maven.compiler.target>1.8</maven.compiler.target>"
    assert project.java_version(_context({"pom.xml": legacy})) == "8"
    kts = "java { toolchain { languageVersion.set(JavaLanguageVersion.of(21)) } }"
    assert project.java_version(_context({"build.gradle.kts": kts})) == "21"
    groovy = "sourceCompatibility = JavaVersion.VERSION_11\n"
    assert project.java_version(_context({"build.gradle": groovy})) == "11"
    assert project.java_version(_context({})) is None
    csproj = "<Project><PropertyGroup><TargetFramework>net9.0</TargetFramework>"
    assert project.dotnet_version(csproj) == "9.0"
    assert project.dotnet_version("<TargetFramework>netcoreapp3.1</TargetFramework>") == "3.1"
    toml = '[toolchain]\nchannel = "1.81.0"\n'
    assert project.rust_version(_context({"rust-toolchain.toml": toml})) == "1.81"
    assert project.rust_version(_context({"rust-toolchain": "1.75\n"})) == "1.75"
    stable = '[toolchain]\nchannel = "stable"\n'
    assert project.rust_version(_context({"rust-toolchain.toml": stable})) is None


def test_toolchain_table_tells_sdk_images_from_runtime_images() -> None:
    image = dockerfile.parse_image
    assert toolchain_of(image("docker.io/library/golang:1.22")) is Toolchain.GO
    assert toolchain_of(image("mcr.microsoft.com/dotnet/sdk:8.0")) is Toolchain.DOTNET
    assert toolchain_of(image("mcr.microsoft.com/dotnet/aspnet:8.0")) is None
    assert toolchain_of(image("amazoncorretto:21")) is Toolchain.JDK
    assert toolchain_of(image("eclipse-temurin:21-jre-alpine")) is None
    assert toolchain_of(image("python:3.12")) is Toolchain.PYTHON
    assert toolchain_of(image("python:3.12-alpine")) is None
    assert java_version_of(image("maven:3.9.6-amazoncorretto-17")) == "17"
    assert java_version_of(image("gradle:8.7-jdk21-alpine")) == "21"
    assert java_version_of(image("openjdk:11-jdk-slim")) == "11"
    assert java_version_of(image("maven:latest")) is None
    full, slim = image("rust:1.79"), image("rust:1.79-slim")
    assert approximate_size_mb(full) is not None and approximate_size_mb(slim) is not None
    assert approximate_size_mb(full) > approximate_size_mb(slim)
    assert approximate_size_mb(image("example.com/unknown:1")) is None


def test_runtime_stage_installs_curl_for_a_healthcheck_and_recreates_the_user() -> None:
    text = (
        "FROM rust:1.79-bookworm\nWORKDIR /app\nCOPY . .\n"
        "RUN useradd --uid 1000 svc && cargo build --release\n"
        "USER svc\nHEALTHCHECK CMD curl -fs http://localhost:8000/ || exit 1\n"
        'CMD ["./target/release/svc"]\n'
    )
    repo = RepoView.from_files({"Cargo.toml": '[package]\nname = "svc"\n', "Dockerfile": text})
    (finding,) = multi_stage(text, repo)
    assert finding.fix is not None
    runtime = dockerfile.parse(apply_fix(text, finding.fix)).final_stage
    (setup,) = runtime.of("RUN")
    assert "--no-install-recommends ca-certificates curl" in setup.arguments
    assert "useradd --system --gid svc --uid 1000 --no-create-home svc" in setup.arguments
    assert [i.arguments for i in runtime.of("USER")] == ["svc"]


@pytest.mark.parametrize(
    "text",
    [
        ARTICLE_NAIVE.replace("WORKDIR /app", "WORKDIR /a\rpp"),
        ARTICLE_NAIVE + "]",  # a last line without newline that the parser never reads
    ],
    ids=["stray-carriage-return", "unread-last-line"],
)
def test_files_whose_lines_cannot_be_trusted_are_refused_before_any_rule(text: str) -> None:
    repo = RepoView.from_files({**GO_PROJECT, "Dockerfile": text})
    assert multi_stage(text, repo) == []
    findings = analyse_file("Dockerfile", text, repo).findings
    assert [f.rule for f in findings] == ["invalid-file"]


def test_crlf_file_is_rewritten() -> None:
    text = ARTICLE_NAIVE.replace("\n", "\r\n")
    repo = RepoView.from_files({**GO_PROJECT, "Dockerfile": text})
    (finding,) = multi_stage(text, repo)
    assert finding.fix is not None
    assert len(dockerfile.parse(apply_fix(text, finding.fix)).stages) == 2


def test_sdks_installed_with_the_package_manager_are_build_tools() -> None:
    text = (
        "FROM ubuntu:22.04\n"
        "RUN apt-get update && apt-get install -y openjdk-17-jdk-headless maven "
        "libpq5 && rm -rf /var/lib/apt/lists/*\n"
        'CMD ["java", "-jar", "/app.jar"]\n'
    )
    (finding,) = multi_stage(text, RepoView.from_files({}))
    assert finding.line == 2
    assert "`openjdk-17-jdk-headless`, `maven`" in finding.message
    assert "libpq5" not in finding.message
    assert finding.fix is None


def test_a_shell_pipeline_start_command_is_not_replaced() -> None:
    text = ARTICLE_NAIVE.replace('CMD ["./main"]', "CMD ./main 2>&1 | tee /var/log/app.log")
    repo = RepoView.from_files({**GO_PROJECT, "Dockerfile": text})
    (finding,) = multi_stage(text, repo)
    assert finding.fix is None
    assert "shell command line" in finding.message


@pytest.mark.parametrize(
    ("base", "lockfile", "install"),
    [
        ("node:14", "package-lock.json", "npm ci --only=production"),
        ("node:22", None, "npm install --omit=dev"),
        ("node:20", "pnpm-lock.yaml", "pnpm install --prod --frozen-lockfile"),
    ],
)
def test_node_runtime_installs_production_dependencies(
    base: str, lockfile: str | None, install: str
) -> None:
    text = f'FROM {base}\nWORKDIR /app\nCOPY . .\nRUN npm run build\nCMD ["node", "lib/main.js"]\n'
    files = {"package.json": "{}", "Dockerfile": text, **({lockfile: ""} if lockfile else {})}
    (finding,) = multi_stage(text, RepoView.from_files(files))
    assert finding.fix is not None
    runtime = dockerfile.parse(apply_fix(text, finding.fix)).final_stage
    assert any(install in run.arguments for run in runtime.of("RUN"))
    manifests = runtime.of("COPY")[0].copy_sources()
    assert manifests == ["package.json", *([lockfile] if lockfile else [])]
