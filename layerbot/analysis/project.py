"""What the repository says about its toolchain: language versions and manifests.

Rules use this to pin a base image to the version the project already declares (go.mod's
``go`` directive, ``.nvmrc``, package.json ``engines``, ``.python-version``, ``requires-python``)
and to copy only manifest files that exist.
"""

from __future__ import annotations

import re

from layerbot.analysis.context import DockerfileContext

NODE_VERSION_FILES = (".nvmrc", ".node-version")
"""Where a Node project names its version, first found first (the bot reads them ahead)."""
# Patterns for a few projects' files, kept as text: ``re`` compiles one when first used.
_GO_DIRECTIVE = r"(?m)^go\s+(\d+\.\d+)"
_VERSION = r"(\d+)(?:\.(\d+))?"


def go_version(ctx: DockerfileContext) -> str | None:
    """``1.22`` from go.mod's ``go 1.22.3`` line."""
    text = ctx.read("go.mod")
    match = re.search(_GO_DIRECTIVE, text or "")
    return match.group(1) if match else None


def node_version(ctx: DockerfileContext) -> str | None:
    """The major version from ``.nvmrc``, ``.node-version`` or package.json ``engines.node``."""
    for name in NODE_VERSION_FILES:
        text = (ctx.read(name) or "").strip().lstrip("v")
        match = re.match(_VERSION, text)
        if match:
            return match.group(1)
    package = ctx.json_object("package.json")
    engines = package.get("engines") if package is not None else None
    spec = engines.get("node") if isinstance(engines, dict) else None
    match = re.search(_VERSION, spec) if isinstance(spec, str) else None
    return match.group(1) if match else None


def python_version(ctx: DockerfileContext) -> str | None:
    """``3.12`` from ``.python-version`` or pyproject's ``requires-python = ">=3.12"``."""
    text = (ctx.read(".python-version") or "").strip()
    match = re.match(r"(3\.\d+)", text)
    if match:
        return match.group(1)
    pyproject = ctx.read("pyproject.toml") or ""
    match = re.search(r"requires-python\s*=\s*[\"'][~>=^]*\s*(3\.\d+)", pyproject)
    return match.group(1) if match else None


_POM_JAVA = (
    r"<(?:maven\.compiler\.release|java\.version|maven\.compiler\.target|release)>"
    r"\s*(?:1\.)?(\d+)\s*<"
)
_GRADLE_JAVA = (
    r"(?:JavaLanguageVersion\.of\(\s*|(?:source|target)Compatibility\s*=\s*"
    r"(?:JavaVersion\.VERSION_(?:1_)?|[\"']?(?:1\.)?))(\d+)"
)
_TARGET_FRAMEWORK = r"<TargetFramework>\s*net(?:coreapp)?(\d+\.\d+)"
_RUST_CHANNEL = r"(?m)^\s*channel\s*=\s*[\"'](\d+\.\d+)(?:\.\d+)?[\"']"


def java_version(ctx: DockerfileContext) -> str | None:
    """``21`` from pom.xml's ``maven.compiler.release``/``java.version`` or Gradle's toolchain."""
    match = re.search(_POM_JAVA, ctx.read("pom.xml") or "")
    if match:
        return match.group(1)
    for name in ("build.gradle.kts", "build.gradle"):
        match = re.search(_GRADLE_JAVA, ctx.read(name) or "")
        if match:
            return match.group(1)
    return None


def dotnet_version(project_file: str) -> str | None:
    """``8.0`` from a project file's ``<TargetFramework>net8.0</TargetFramework>``."""
    match = re.search(_TARGET_FRAMEWORK, project_file)
    return match.group(1) if match else None


def rust_version(ctx: DockerfileContext) -> str | None:
    """``1.79`` from rust-toolchain.toml's ``channel`` or a plain ``rust-toolchain`` file."""
    match = re.search(_RUST_CHANNEL, ctx.read("rust-toolchain.toml") or "")
    if match:
        return match.group(1)
    plain = re.match(r"\s*(\d+\.\d+)", ctx.read("rust-toolchain") or "")
    return plain.group(1) if plain else None
