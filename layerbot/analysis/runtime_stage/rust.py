"""Rust: the `cargo build --release` binary on the Debian release it was built against."""

from __future__ import annotations

import posixpath

from layerbot.analysis import project
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.runtime_stage.plan import (
    Inputs,
    Plan,
    Refusal,
    added_build,
    choose_binary,
    program_arguments,
    run_options,
    runs_toolchain,
)
from layerbot.analysis.shipped import Step, resolve
from layerbot.analysis.toolchains import (
    ALPINE,
    DEFAULT_DEBIAN_SUITE,
    debian_suite,
    is_alpine,
    major_version_of,
)

# Rust ------------------------------------------------------------------------------------


def _cargo_binary_name(step: Step, ctx: DockerfileContext) -> str:
    named = step.command.option("--bin") or step.command.option("-p", "--package")
    if named:
        return named
    manifest = ctx.toml_table("Cargo.toml")
    bins = manifest.get("bin")
    if isinstance(bins, list) and bins and isinstance(bins[0], dict) and "name" in bins[0]:
        return str(bins[0]["name"])
    package = manifest.get("package")
    if isinstance(package, dict) and "name" in package:
        return str(package["name"])
    raise Refusal("Cargo.toml names no package, so the binary's name is unknown")


_OPENSSL_PACKAGES = {"bookworm": "libssl3", "bullseye": "libssl1.1", "trixie": "libssl3t64"}


def _cargo_run_as_build(inputs: Inputs) -> tuple[Step, tuple[str, ...]] | None:
    """For a start command ``cargo run [--bin X] [-- ARGS]``: the release build, and ARGS."""
    entry = inputs.entry
    if entry is None or not runs_toolchain(entry, {"cargo"}, {"run"}):
        return None
    options = run_options(
        entry.argv, {"--release", "-r", "--locked", "--frozen", "--offline"}, {"--bin", "-p"}
    )
    selection = [part for name, value in options.items() for part in (name, value)]
    build = added_build(inputs, "cargo", "build", "--release", *selection)
    return build, program_arguments(entry.argv)


def plan_rust(inputs: Inputs) -> Plan:
    ctx = inputs.ctx
    outputs = []
    steps = inputs.steps
    building = any(s.command.program == "cargo" and s.command.subcommand == "build" for s in steps)
    added = None if building else _cargo_run_as_build(inputs)
    if added is not None:
        steps = [*steps, added[0]]
    for step in steps:
        if step.command.program != "cargo" or step.command.subcommand != "build":
            continue
        if not step.command.has("--release", "-r"):
            raise Refusal("`cargo build` builds a debug binary; add `--release` first")
        if step.cwd is None or step.command.option("--manifest-path"):
            raise Refusal("the `cargo build` runs in a directory the Dockerfile does not fix")
        target_dir = step.command.option("--target-dir") or "target"
        triple = step.command.option("--target")
        release = posixpath.join(target_dir, triple, "release") if triple else target_dir
        if not triple:
            release = posixpath.join(release, "release")
        outputs.append(resolve(posixpath.join(release, _cargo_binary_name(step, ctx)), step.cwd))
    if any("CARGO_TARGET_DIR" in i.assignments for i in inputs.shipped.of_keyword("ENV", "ARG")):
        raise Refusal("CARGO_TARGET_DIR moves the build output")
    binary, command = choose_binary(inputs, outputs, "`cargo build --release`", {"cargo"}, {"run"})
    if added is not None:
        command = (binary, *added[1])
    image = inputs.shipped.image
    builder_image = None
    if is_alpine(image):
        runtime = ALPINE
        suite = None
    else:
        suite = debian_suite(image)
        if suite is None:
            # Pin the builder's Debian release so the binary finds the same glibc at runtime.
            if len(inputs.shipped.chain) > 1:
                raise Refusal("the build image's Debian release is not named in its tag")
            suite = DEFAULT_DEBIAN_SUITE
            tag = image.tag if major_version_of(image) else project.rust_version(ctx)
            builder_image = f"{image.name}:{tag}-{suite}" if tag else f"{image.name}:{suite}"
        runtime = f"debian:{suite}-slim"
    packages = ["ca-certificates"]
    if suite and 'name = "openssl-sys"' in (ctx.read("Cargo.lock") or ""):
        packages.append(_OPENSSL_PACKAGES.get(suite, "libssl3"))
    return Plan(
        runtime_image=runtime,
        copies=((binary, binary),),
        artifact=f"the release binary `{binary}`",
        command=command,
        packages=tuple(packages),
        builder_tail=("RUN " + added[0].command.text,) if added else (),
        builder_image=builder_image,
    )
