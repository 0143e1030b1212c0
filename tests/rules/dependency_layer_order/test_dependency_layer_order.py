"""dependency-layer-order on fixture build contexts, one or more per ecosystem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layerbot.analysis import ecosystems
from layerbot.analysis.engine import analyse_file
from layerbot.analysis.fixes import apply_fix, as_replacement
from layerbot.analysis.model import RepoView, Safety
from layerbot.analysis.rules import dependency_layer_order as rule
from layerbot.analysis.rules import dockerignore
from tests.rules.fix_checks import EXPECTED, assert_fix_is_sound, load_fixture, run_check

FIXTURES = Path(__file__).parent / "fixtures"
WHOLE_COPY = re.compile(r"^(COPY|ADD)(\s+--\S+)*\s+\./?\s")

# fixture -> (ecosystem flagged, fix safety or None when no fix is offered)
POSITIVE = {
    "go-download": ("go", Safety.SAFE),
    "go-build-implicit": ("go", Safety.SAFE),
    "go-local-replace": ("go", None),
    "npm-ci": ("npm", Safety.SAFE),
    "npm-install-and-build": ("npm", Safety.REVIEW),
    "npm-lifecycle-scripts": ("npm", Safety.REVIEW),
    "ignored-lockfile": ("npm", Safety.SAFE),
    "dockerfile-specific-ignore": ("npm", Safety.SAFE),
    "no-manifests": ("npm", None),
    "yarn-berry": ("yarn", Safety.REVIEW),
    "pnpm": ("pnpm", Safety.REVIEW),
    "pip-requirements": ("pip", Safety.SAFE),
    "pip-install-project": ("pip", Safety.SAFE),
    "poetry": ("poetry", Safety.SAFE),
    "uv": ("uv", Safety.SAFE),
    "pipenv": ("pipenv", Safety.SAFE),
    "maven": ("maven", Safety.SAFE),
    "maven-modules": ("maven", Safety.REVIEW),
    "gradle": ("gradle", Safety.SAFE),
    "cargo": ("cargo", Safety.REVIEW),
    "bundler": ("bundler", Safety.SAFE),
    "mix": ("mix", Safety.REVIEW),
    "composer": ("composer", Safety.SAFE),
    "dotnet-restore": ("dotnet", Safety.SAFE),
    "dotnet-publish": ("dotnet", Safety.SAFE),
}
NEGATIVE = sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith("ok-"))


def test_every_fixture_is_listed_and_every_ecosystem_is_covered() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir()}
    assert on_disk == set(POSITIVE) | set(NEGATIVE)
    fixed = {name for name, safety in POSITIVE.values() if safety is not None}
    assert fixed == {e.name for e in ecosystems.ECOSYSTEMS}


@pytest.mark.parametrize("case", sorted(POSITIVE))
def test_positive_case(case: str, tmp_path: Path) -> None:
    files = load_fixture(FIXTURES / case)
    ecosystem_name, safety = POSITIVE[case]
    findings = run_check(rule.check, files)
    assert len(findings) == 1
    finding = findings[0]
    copy_line = next(
        n for n, line in enumerate(files["Dockerfile"].splitlines(), 1) if WHOLE_COPY.match(line)
    )
    assert (finding.rule, finding.line) == (rule.NAME, copy_line)
    assert ecosystems.by_name(ecosystem_name).label in finding.message
    assert finding.impact is not None and finding.impact.startswith("a code-only change re-runs")
    expected = FIXTURES / case / EXPECTED
    if safety is None:
        assert finding.fix is None
        assert not expected.exists()
        assert "after the fix" not in finding.impact
        return
    assert finding.fix is not None
    assert finding.fix.safety is safety
    assert "after the fix" in finding.impact
    replacement = as_replacement(files["Dockerfile"], finding.fix)
    assert replacement is not None
    assert (replacement.start_line, replacement.end_line) == (finding.line, finding.end_line)
    patched = assert_fix_is_sound(tmp_path, rule.check, files, finding)
    assert patched["Dockerfile"] == expected.read_text()


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_case(case: str) -> None:
    assert run_check(rule.check, load_fixture(FIXTURES / case)) == []


def test_design_article_naive_dockerfile_through_the_engine() -> None:
    text = (
        "FROM golang:latest\nWORKDIR /app\nCOPY . .\n"
        "RUN export GOPROXY=https://goproxy.cn && go mod download\n"
        'RUN go build -o main .\nEXPOSE 8080\nCMD ["./main"]\n'
    )
    repo = RepoView.from_files({"go.mod": "module m\n\ngo 1.22\n", "go.sum": "x h1:y=\n"})
    report = analyse_file("Dockerfile", text, repo)
    [finding] = [f for f in report.findings if f.rule == rule.NAME]
    assert (finding.line, finding.end_line) == (3, 4)
    assert finding.impact == (
        "a code-only change re-runs 3 of 5 build steps, including `go mod download`; "
        "after the fix 2 of 6, with `go mod download` cached"
    )
    assert finding.fix is not None and finding.fix.safety is Safety.SAFE
    assert finding.fix.edits[0].new_lines == (
        "COPY go.mod go.sum ./",
        "RUN export GOPROXY=https://goproxy.cn && go mod download",
        "COPY . .",
    )


def test_manifests_in_a_sub_folder_context_are_found_relative_to_it() -> None:
    files = {
        "services/api/Dockerfile": "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n",
        "services/api/package.json": "{}",
        "services/api/package-lock.json": "{}",
        "package.json": "{}",
    }
    findings = run_check(rule.check, files, "services/api/Dockerfile")
    assert findings[0].fix is not None
    assert findings[0].fix.edits[0].new_lines[0] == "COPY package.json package-lock.json ./"


def test_no_fix_when_the_install_runs_in_another_folder() -> None:
    files = {
        "Dockerfile": "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN cd web && npm ci\n",
        "package.json": "{}",
        "package-lock.json": "{}",
    }
    [finding] = run_check(rule.check, files)
    assert finding.fix is None


def test_one_finding_per_ecosystem_and_stage() -> None:
    files = {
        "Dockerfile": (
            "FROM golang:1.22\nWORKDIR /app\nCOPY . .\nRUN go mod download\nRUN go build .\n"
            "FROM node:20\nCOPY . .\nRUN npm ci && npm test\nRUN npm ci\n"
        ),
        "go.mod": "module m\n",
        "go.sum": "",
        "package.json": "{}",
    }
    findings = run_check(rule.check, files)
    assert [(f.line, f.end_line) for f in findings] == [(3, 4), (7, 8)]


@pytest.mark.parametrize(
    "dockerfile_text",
    [
        "FROM golang:1.22 AS deps\nWORKDIR /app\nCOPY go.mod go.sum ./\nRUN go mod download\n"
        "FROM deps AS build\nCOPY . .\nRUN go build -o /main .\n",
        "FROM node:20 AS deps\nWORKDIR /app\nCOPY package.json ./\nRUN npm ci\n"
        "FROM node:20\nWORKDIR /app\nCOPY --from=deps /app/node_modules ./node_modules\n"
        "COPY . .\nRUN npm install && npm run build\n",
        "FROM ruby:3.3 AS gems\nCOPY Gemfile Gemfile.lock ./\nRUN bundle install\n"
        "FROM ruby:3.3\nCOPY --from=gems /usr/local/bundle /usr/local/bundle\nCOPY . .\n"
        "RUN bundle install\n",
    ],
    ids=["from-deps-stage", "node-modules-copied-in", "gems-copied-in"],
)
def test_dependencies_prepared_in_another_stage_are_not_flagged(dockerfile_text: str) -> None:
    files = {
        "Dockerfile": dockerfile_text,
        "go.mod": "module m\n",
        "go.sum": "",
        "package.json": "{}",
        "Gemfile": "",
        "Gemfile.lock": "",
    }
    assert run_check(rule.check, files) == []


def test_the_proposed_dockerignore_makes_the_node_reorder_safe() -> None:
    files = load_fixture(FIXTURES / "yarn-berry")
    [before] = run_check(rule.check, files)
    assert before.fix is not None and before.fix.safety is Safety.REVIEW
    [ignore] = run_check(dockerignore.check, files)
    assert ignore.fix is not None and ignore.fix.path == ".dockerignore"
    files[".dockerignore"] = apply_fix("", ignore.fix)
    [after] = run_check(rule.check, files)
    assert after.fix is not None and after.fix.safety is Safety.SAFE


GO_FILES = {
    "go.mod": "module m\n\ngo 1.22\n",
    "go.sum": "x v1 h1:y=\n",
    "main.go": "package main\n",
}


def _fixed(tmp_path: Path, files: dict[str, str], path: str = "Dockerfile") -> str:
    [finding] = run_check(rule.check, files, path)
    assert finding.fix is not None
    return assert_fix_is_sound(tmp_path, rule.check, files, finding, path)[path]


def test_manifests_copied_without_a_download_get_only_the_download(tmp_path: Path) -> None:
    text = "FROM golang:1.22\nWORKDIR /src\nCOPY go.mod go.sum ./\nCOPY . .\nRUN go build .\n"
    files = {**GO_FILES, "Dockerfile": text}
    [finding] = run_check(rule.check, files)
    assert "copied alone first, but nothing downloads from them" in finding.message
    assert _fixed(tmp_path, files) == (
        "FROM golang:1.22\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n"
        "COPY . .\nRUN go build .\n"
    )


def test_a_build_after_a_source_folder_copy_is_found(tmp_path: Path) -> None:
    text = (
        "FROM maven:3.9-eclipse-temurin-21\nWORKDIR /w\nCOPY pom.xml .\nCOPY src ./src\n"
        "RUN mvn -B package\n"
    )
    files = {"pom.xml": "<project/>\n", "src/main/java/A.java": "class A {}\n", "Dockerfile": text}
    [finding] = run_check(rule.check, files)
    assert finding.message.startswith("`mvn -B package` downloads the Maven dependencies itself")
    assert (finding.line, finding.end_line) == (4, 5)
    assert _fixed(tmp_path, files) == text.replace(
        "COPY src", "RUN mvn -B dependency:go-offline\nCOPY src"
    )


def test_a_sub_project_folder_copied_as_the_project_gets_its_own_manifests(
    tmp_path: Path,
) -> None:
    text = "FROM golang:1.22\nWORKDIR /app\nCOPY svc/api ./\nRUN go build -o /api .\n"
    files = {f"svc/api/{name}": body for name, body in GO_FILES.items()} | {"Dockerfile": text}
    assert _fixed(tmp_path, files) == text.replace(
        "COPY svc/api ./",
        "COPY svc/api/go.mod svc/api/go.sum ./\nRUN go mod download\nCOPY svc/api ./",
    )


def test_a_build_in_a_sub_folder_belongs_to_the_module_above(tmp_path: Path) -> None:
    text = "FROM golang:1.22\nWORKDIR /app\nCOPY . .\nWORKDIR /app/cmd/x\nRUN go install .\n"
    fixed = _fixed(tmp_path, {**GO_FILES, "Dockerfile": text})
    assert fixed.startswith("FROM golang:1.22\nWORKDIR /app\nCOPY go.mod go.sum ./\n")
    assert "RUN go mod download\nCOPY . .\n" in fixed


@pytest.mark.parametrize(
    "text, extra",
    [
        ("FROM golang:1.22\nCOPY . .\nRUN go build .\n", {"vendor/modules.txt": "# m\n"}),
        ("FROM golang:1.22\nENV GOFLAGS=-mod=vendor\nCOPY . .\nRUN go build .\n", {}),
        ("FROM golang:1.22\nCOPY . .\nRUN go build -mod=vendor .\n", {}),
        ("FROM golang:1.22\nRUN go install example.org/tool@v1.0.0\nCOPY . .\n", {}),
        (
            "FROM golang:1.22\nCOPY . .\n"
            "RUN --mount=type=cache,target=/go/pkg/mod go build -o /x .\n",
            {},
        ),
        ("FROM maven:3.9\nCOPY . .\nRUN mvn -o package\n", {"pom.xml": "<project/>"}),
        ("FROM rust:1.79\nCOPY . .\nRUN cargo chef prepare --recipe-path r.json\n", {}),
        ("FROM rust:1.79\nCOPY . .\nRUN cargo build --frozen\n", {}),
    ],
    ids=[
        "vendor-folder",
        "goflags-vendor",
        "mod-vendor-flag",
        "tool-at-version",
        "build-under-cache-mount",
        "maven-offline",
        "cargo-chef-prepare",
        "cargo-frozen",
    ],
)
def test_builds_that_fetch_nothing_after_the_sources_are_not_flagged(
    text: str, extra: dict[str, str]
) -> None:
    files = {**GO_FILES, "Cargo.toml": "[package]\n", "Cargo.lock": "", **extra, "Dockerfile": text}
    assert run_check(rule.check, files) == []


def test_sources_bind_mounted_into_the_build_are_a_finding_without_fix() -> None:
    text = "FROM golang:1.22\nWORKDIR /s\nRUN --mount=type=bind,target=. go build -o /x .\n"
    [finding] = run_check(rule.check, {**GO_FILES, "Dockerfile": text})
    assert (finding.line, finding.fix) == (3, None)
    assert "--mount=type=bind" in finding.message


NODE_FILES = {"package.json": "{}", "package-lock.json": "{}", ".dockerignore": "node_modules\n"}


def test_the_install_moves_with_the_clean_up_of_its_cache(tmp_path: Path) -> None:
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm cache clean --force\n"
    assert _fixed(tmp_path, {**NODE_FILES, "Dockerfile": text}) == (
        "FROM node:20\nWORKDIR /app\nCOPY package.json package-lock.json ./\n"
        "RUN npm ci && npm cache clean --force\nCOPY . .\n"
    )


def test_the_install_leaves_a_longer_run_which_keeps_the_rest(tmp_path: Path) -> None:
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci && \\\n    npm run build\n"
    assert _fixed(tmp_path, {**NODE_FILES, "Dockerfile": text}) == (
        "FROM node:20\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\n"
        "COPY . .\nRUN npm run build\n"
    )


def test_removing_sources_is_not_a_clean_up_that_moves(tmp_path: Path) -> None:
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci && rm -rf test\n"
    fixed = _fixed(tmp_path, {**NODE_FILES, "Dockerfile": text})
    assert fixed.endswith("RUN npm ci\nCOPY . .\nRUN rm -rf test\n")


def test_a_dotnet_project_named_in_a_sub_folder_is_restored_on_its_own(tmp_path: Path) -> None:
    text = "FROM mcr.microsoft.com/dotnet/sdk:8.0\nWORKDIR /src\nCOPY . .\n"
    text += "RUN dotnet publish src/Api/Api.csproj -c Release -o /out\n"
    files = {
        "src/Api/Api.csproj": (
            '<Project><ItemGroup><ProjectReference Include="..\\Core\\Core.csproj" />'
            "</ItemGroup></Project>\n"
        ),
        "src/Core/Core.csproj": "<Project />\n",
        "Dockerfile": text,
    }
    assert _fixed(tmp_path, files) == (
        "FROM mcr.microsoft.com/dotnet/sdk:8.0\nWORKDIR /src\n"
        "COPY src/Api/Api.csproj ./src/Api/\nCOPY src/Core/Core.csproj ./src/Core/\n"
        "RUN dotnet restore src/Api/Api.csproj\nCOPY . .\n"
        "RUN dotnet publish --no-restore src/Api/Api.csproj -c Release -o /out\n"
    )


def test_requirements_named_by_absolute_path_locate_the_project(tmp_path: Path) -> None:
    text = "FROM python:3.12-slim\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n"
    files = {"requirements.txt": "flask\n", "app.py": "", "Dockerfile": text}
    assert _fixed(tmp_path, files) == (
        "FROM python:3.12-slim\nCOPY requirements.txt /app/\n"
        "RUN pip install -r /app/requirements.txt\nCOPY . /app\n"
    )


def test_go_mod_vendor_after_the_sources_fetches_the_modules() -> None:
    text = "FROM golang:1.22\nCOPY . .\nRUN go mod vendor && go build -mod=vendor -o /x .\n"
    [finding] = run_check(rule.check, {**GO_FILES, "Dockerfile": text})
    assert finding.message.startswith("`go mod vendor` downloads the Go dependencies itself")
