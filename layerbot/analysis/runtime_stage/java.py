"""Java: the jar Maven or Gradle packages, run on a JRE of the same version."""

from __future__ import annotations

import posixpath
import re

from layerbot.analysis import project
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.runtime_stage.plan import (
    Inputs,
    Plan,
    Refusal,
    added_build,
    run_options,
    runs_toolchain,
)
from layerbot.analysis.shipped import Entry, Step, resolve
from layerbot.analysis.toolchains import is_alpine, java_version_of

# Java ------------------------------------------------------------------------------------

_MAVEN = {"mvn", "mvnw"}
_GRADLE = {"gradle", "gradlew"}


def _pom_jar(ctx: DockerfileContext) -> str | None:
    """``target/<finalName>.jar`` or ``target/<artifactId>-<version>.jar`` from pom.xml."""
    pom = ctx.read("pom.xml")
    if pom is None:
        return None
    pom = re.sub(r"<parent>.*?</parent>|<dependencies>.*?</dependencies>", "", pom, flags=re.S)
    final = re.search(r"<finalName>\s*([^<$]+?)\s*</finalName>", pom)
    if final:
        return f"target/{final.group(1)}.jar"
    artifact = re.search(r"<artifactId>\s*([^<$]+?)\s*</artifactId>", pom)
    version = re.search(r"<version>\s*([^<$]+?)\s*</version>", pom)
    if artifact and version:
        return f"target/{artifact.group(1)}-{version.group(1)}.jar"
    return None


def _gradle_jar(ctx: DockerfileContext) -> str | None:
    """``build/libs/<rootProject.name>[-<version>].jar`` from the Gradle scripts."""
    settings = (ctx.read("settings.gradle.kts") or "") + (ctx.read("settings.gradle") or "")
    name = re.search(r"rootProject\.name\s*=\s*[\"']([^\"']+)[\"']", settings)
    if not name:
        return None
    build = (ctx.read("build.gradle.kts") or "") + (ctx.read("build.gradle") or "")
    version = re.search(r"^\s*version\s*=\s*[\"']([^\"']+)[\"']", build, re.MULTILINE)
    suffix = f"-{version.group(1)}" if version else ""
    return f"build/libs/{name.group(1)}{suffix}.jar"


def _packages_jar(step: Step) -> str | None:
    """Which build tool packaged a jar in this step: ``maven``, ``gradle`` or ``None``."""
    command = step.command
    if command.program in _MAVEN and command.has("package", "install", "verify"):
        return "maven"
    if command.program in _GRADLE and command.has("build", "bootJar", "jar", "assemble"):
        return "gradle"
    return None


def _boot_run_as_build(inputs: Inputs) -> Step | None:
    """For a start command ``mvn spring-boot:run`` or ``gradle bootRun``: the jar build."""
    entry = inputs.entry
    if entry is None:
        return None
    if runs_toolchain(entry, _MAVEN, {"spring-boot:run"}):
        run_options(entry.argv, {"-B", "--batch-mode", "-q", "--quiet", "-o"}, set())
        return added_build(inputs, entry.program, "-B", "package", "-DskipTests")
    if runs_toolchain(entry, _GRADLE, {"bootRun"}):
        run_options(entry.argv, {"--no-daemon", "-q", "--quiet", "--offline"}, set())
        return added_build(inputs, entry.program, "bootJar", "--no-daemon")
    return None


def plan_java(inputs: Inputs) -> Plan:
    ctx = inputs.ctx
    packaging = [(step, tool) for step in inputs.steps if (tool := _packages_jar(step))]
    added = None if packaging else _boot_run_as_build(inputs)
    if added is not None:
        packaging = [(added, _packages_jar(added) or "")]
    if not packaging:
        raise Refusal("no `mvn package` or `gradle build` step produces a jar")
    step, tool = packaging[-1]
    if step.cwd is None:
        raise Refusal("the build runs in a directory the Dockerfile does not fix")
    entry = inputs.entry
    runs_build_tool = runs_toolchain(entry, _MAVEN | _GRADLE, {"spring-boot:run", "bootRun", "run"})
    if entry is not None and not runs_build_tool:
        jar = _java_jar_argument(entry)
        if jar is None or "*" in jar:
            raise Refusal(f"the start command `{entry.program}` does not run one named jar")
        source = resolve(jar, inputs.workdir)
        copies = ((source, source),)
        command = None
    else:
        relative = _pom_jar(ctx) if tool == "maven" else _gradle_jar(ctx)
        if relative is None and tool == "gradle":
            raise Refusal("settings.gradle names no rootProject, so the jar's name is unknown")
        source = resolve(relative or "target/*.jar", step.cwd)
        target = resolve("app.jar", inputs.workdir)
        copies = ((source, target),)
        command = ("java", "-jar", target)
    version = java_version_of(inputs.shipped.image) or project.java_version(ctx)
    if version is None:
        raise Refusal("neither the image tag nor pom.xml/build.gradle says which Java to run")
    suffix = "-alpine" if is_alpine(inputs.shipped.image) else ""
    return Plan(
        runtime_image=f"eclipse-temurin:{version}-jre{suffix}",
        copies=copies,
        artifact=f"the jar `{copies[0][0]}`",
        command=command,
        builder_tail=("RUN " + added.command.text,) if added else (),
    )


def _java_jar_argument(entry: Entry) -> str | None:
    if posixpath.basename(entry.program) != "java" or "-jar" not in entry.argv:
        return None
    index = entry.argv.index("-jar")
    return entry.argv[index + 1] if index + 1 < len(entry.argv) else None
