"""dependency-layer-order on the shapes of issue 11 §1 that one case folder cannot show alone:
implicit fetches per build tool, half-done layouts and what the fix then inserts."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerbot.analysis.rules import dependency_layer_order as rule
from tests.rules.soundness import assert_fix_is_sound, run_check

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
