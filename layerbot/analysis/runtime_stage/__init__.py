"""The multi-stage rewrite: the original final stage becomes ``builder``, a runtime stage follows.

The builder keeps its instructions as written (other rules improve them on the next fix pass);
only the container metadata (EXPOSE, CMD, ENTRYPOINT, HEALTHCHECK, LABEL, STOPSIGNAL) moves to
the runtime stage. Each ecosystem's planner works out the artifact the build produces (from
the build command, the project's manifests and the start command) and the runtime image that
runs it; when it cannot be sure, it says why and the finding goes without a fix.
"""

from __future__ import annotations

from collections.abc import Callable

from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.runtime_stage.dotnet import plan_dotnet
from layerbot.analysis.runtime_stage.go import plan_go
from layerbot.analysis.runtime_stage.java import plan_java
from layerbot.analysis.runtime_stage.node import plan_node
from layerbot.analysis.runtime_stage.plan import Inputs, Plan, Refusal
from layerbot.analysis.runtime_stage.render import (
    Rewrite,
    builder_name,
    render_builder,
    render_runtime,
)
from layerbot.analysis.runtime_stage.rust import plan_rust
from layerbot.analysis.shipped import ShippedImage
from layerbot.analysis.toolchains import Toolchain

__all__ = ["Plan", "Refusal", "Rewrite", "rewrite"]

_PLANNERS: dict[Toolchain, Callable[[Inputs], Plan]] = {
    Toolchain.GO: plan_go,
    Toolchain.RUST: plan_rust,
    Toolchain.MAVEN: plan_java,
    Toolchain.GRADLE: plan_java,
    Toolchain.JDK: plan_java,
    Toolchain.DOTNET: plan_dotnet,
    Toolchain.NODE: plan_node,
}

# Why a toolchain without a planner gets no rewrite.
_UNPLANNED = {
    Toolchain.PYTHON: "which system libraries the packages need at runtime depends on them",
    Toolchain.BUN: (
        "which files the start command reads (the build output, the production dependencies) "
        "is not worked out for Bun projects"
    ),
    Toolchain.ELIXIR: (
        "a `mix release` runs on an image with the C library and OpenSSL it was built "
        "against, and the release's name comes from mix.exs, which the rewrite does not read"
    ),
    Toolchain.SBT: (
        "the jar's path depends on the sbt plugins (`assembly`, `stage`) and the build "
        "definition, which the rewrite does not read"
    ),
    Toolchain.CLOJURE: (
        "the uberjar's path comes from project.clj or the build script, which the rewrite "
        "does not read"
    ),
    Toolchain.HASKELL: (
        "the executable's name and install path come from the package description, and it "
        "needs the C libraries GHC linked it against (libgmp) in the runtime image"
    ),
    Toolchain.SWIFT: (
        "the executable's path comes from the package's products (`.build/release/<product>`), "
        "and it needs the Swift runtime libraries of the same release"
    ),
    Toolchain.CRYSTAL: (
        "the executable's name comes from `-o` or shard.yml's targets, and unless it is built "
        "`--static` it needs the shared libraries it was linked against (libgc, libpcre, "
        "libevent) in the runtime image"
    ),
    Toolchain.NIM: (
        "the executable's name comes from `-o`, the .nimble file's `bin` or the main module, and "
        "it needs the shared libraries its modules load in the runtime image"
    ),
    Toolchain.OCAML: (
        "the executable's path comes from the dune files (`_build/default/<dir>/<name>.exe`), "
        "and it needs the C libraries it was linked against in the runtime image"
    ),
    Toolchain.DART: (
        "an AOT executable runs on `scratch` with the dart image's `/runtime/` copied in, "
        "and its path comes from the `dart compile` command, which the rewrite does not follow"
    ),
}


def rewrite(ctx: DockerfileContext, shipped: ShippedImage, toolchain: Toolchain) -> Rewrite:
    """The whole Dockerfile rewritten as builder + runtime, or :class:`Refusal` saying why not."""
    planner = _PLANNERS.get(toolchain)
    if planner is None:
        raise Refusal(_UNPLANNED[toolchain])
    workdir = shipped.workdir
    if workdir is None:
        raise Refusal("the working directory is set from a variable")
    if shipped.entry() is None and shipped.of_keyword("CMD", "ENTRYPOINT"):
        raise Refusal("the start command is a shell command line the rewrite cannot follow")
    inputs = Inputs(ctx, shipped, shipped.steps, workdir)
    plan = planner(inputs)
    builder = builder_name(inputs)
    lines = [
        *render_builder(inputs, plan, builder),
        "",
        *render_runtime(inputs, plan, builder),
    ]
    return Rewrite("\n".join(lines) + "\n", plan, builder)
