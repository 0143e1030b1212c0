""".NET: the `dotnet publish -o` folder on the aspnet or runtime image."""

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
    program_arguments,
    run_options,
    runs_toolchain,
)
from layerbot.analysis.shipped import Step, resolve
from layerbot.analysis.toolchains import dotnet_version_of, is_alpine

# .NET ------------------------------------------------------------------------------------


_PROJECT_SUFFIXES = (".csproj", ".fsproj", ".vbproj")


def _dotnet_project(ctx: DockerfileContext, step: Step) -> tuple[str, str] | None:
    """Path and text of the project ``dotnet publish`` builds (the only one, when unnamed)."""
    named = [a for a in step.command.argv[2:] if a.endswith(_PROJECT_SUFFIXES)]
    if named:
        text = ctx.read(named[0])
        return (named[0], text) if text is not None else None
    found = [p for p in ctx.repo.in_dir(ctx.context_dir) if p.endswith(_PROJECT_SUFFIXES)]
    text = ctx.repo.read(found[0]) if len(found) == 1 else None
    return (found[0], text) if text is not None else None


def _assembly_name(project_file: tuple[str, str] | None) -> str:
    """``<AssemblyName>.dll``, or the project file's name with ``.dll``."""
    if project_file is None:
        raise Refusal("no single project file says what the published assembly is called")
    path, text = project_file
    named = re.search(r"<AssemblyName>\s*([^<$]+?)\s*</AssemblyName>", text)
    stem = named.group(1) if named else posixpath.splitext(posixpath.basename(path))[0]
    return stem + ".dll"


_DOTNET_PUBLISH_DIR = "/app/publish"


def _dotnet_run_as_publish(inputs: Inputs) -> Step | None:
    """For a start command ``dotnet run [--project P]``: the publish step to add."""
    entry = inputs.entry
    if entry is None or not runs_toolchain(entry, {"dotnet"}, {"run"}):
        return None
    if program_arguments(entry.argv):
        raise Refusal("`dotnet run` passes arguments the rewrite does not carry over")
    options = run_options(entry.argv, set(), {"--project"})
    project_arg = [options["--project"]] if "--project" in options else []
    return added_build(
        inputs, "dotnet", "publish", *project_arg, "-c", "Release", "-o", _DOTNET_PUBLISH_DIR
    )


def plan_dotnet(inputs: Inputs) -> Plan:
    ctx = inputs.ctx
    publishes = [
        s
        for s in inputs.steps
        if s.command.program == "dotnet" and s.command.subcommand == "publish"
    ]
    added = None if publishes else _dotnet_run_as_publish(inputs)
    if added is not None:
        publishes = [added]
    if not publishes:
        raise Refusal("no `dotnet publish` step produces the application to copy")
    step = publishes[-1]
    output = step.command.option("-o", "--output")
    if output is None or step.cwd is None:
        raise Refusal("`dotnet publish` has no `-o` folder, so the output's place is unknown")
    published = resolve(output, step.cwd)
    project_file = _dotnet_project(ctx, step)
    entry = inputs.entry
    if entry is not None and entry.program != "dotnet":
        raise Refusal(f"the start command `{entry.program}` is not the published assembly")
    if entry is not None and entry.argv[1:2] != ("run",):
        dll = entry.argv[1] if len(entry.argv) > 1 else ""
        assembly = posixpath.basename(dll)
    else:
        assembly = _assembly_name(project_file)
    if not assembly.endswith(".dll"):
        raise Refusal("the start command does not name the published assembly")
    text = project_file[1] if project_file else None
    version = (text and project.dotnet_version(text)) or dotnet_version_of(inputs.shipped.image)
    if version is None:
        raise Refusal("neither the project file nor the image tag says which .NET to run")
    web = text is None or 'Sdk="Microsoft.NET.Sdk.Web"' in text
    suffix = "-alpine" if is_alpine(inputs.shipped.image) else ""
    workdir = inputs.workdir if inputs.workdir != "/" else "/app"
    flavour = "aspnet" if web else "runtime"
    return Plan(
        runtime_image=f"mcr.microsoft.com/dotnet/{flavour}:{version}{suffix}",
        copies=((published + "/", workdir + "/"),),
        artifact=f"the published application `{published}`",
        command=("dotnet", assembly),
        builder_tail=("RUN " + added.command.text,) if added else (),
        workdir=workdir,
    )
