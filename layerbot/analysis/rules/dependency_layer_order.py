"""Dependencies are installed after the whole build context was copied.

## What it does
Flags a dependency download or install (`go mod download`, a `go build` that fetches
modules, `npm ci`/`npm install`, `yarn`, `pnpm install`, `pip install -r`, `poetry install`,
`uv sync`, `pipenv install`, `mvn`, `gradle`, `cargo build`/`cargo fetch`, `bundle install`,
`composer install`, `dotnet restore`/`publish`) that runs after `COPY . .` (or `COPY . /app`,
`COPY ./ ./`, `ADD . …`) in the same stage, when no dependency step of that package manager
ran before the copy. A build command is flagged only when the context declares dependencies
(a Go module with a `go.sum`, a lock file or manifest for the others).

## Why it matters
Docker caches a `COPY` on the checksum of the files it copies, and once a step is invalidated
every later step of the stage runs again. After `COPY . .` any edit to any source file
invalidates the copy, so the dependency download below it runs on every build, although the
dependencies only change when the manifests do. Copying the manifest and lock files first,
installing, and only then copying the rest keeps the slow download in a layer that a
code-only change does not touch. In CI, with `--cache-from` or a registry cache, this is
the difference between reusing the dependency layer and downloading everything each time.

## Example
```dockerfile
FROM golang:1.22
WORKDIR /app
COPY . .
RUN go mod download
RUN go build -o /main .
```

## Use instead
```dockerfile
FROM golang:1.22
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /main .
```

When the download is part of a build command (`go build`, `npm install && npm run build`,
`mvn package`, `cargo build`, `dotnet publish`), the fix inserts the package manager's
dependency-only command (`go mod download`, `npm ci`, `mvn dependency:go-offline`,
`cargo fetch`, `dotnet restore`…) before `COPY . .` and keeps the original `RUN`, which then
finds the dependencies already there. Composer always gets
`composer install --no-scripts --no-autoloader` inserted, because its install runs scripts and
builds the autoloader from the sources. Cargo gets placeholder `src/main.rs`/`src/lib.rs`
files (a manifest without targets does not parse) that `COPY . .` then overwrites.

The fix is one contiguous edit from the `COPY . .` through the dependency `RUN`, so it can be
applied as a single merge-request suggestion. It copies only manifests that exist in the
build context and are not excluded by `.dockerignore`, into the same destination as the
original copy; with no manifest to copy there is a finding and no fix.

## Fix safety
The fix is **safe** when the dependency step reads nothing but the manifests and the build
ends with the same files: the manifests are copied again by `COPY . .`, so the final
filesystem is unchanged, and a moved `RUN` keeps its text, flags and set-up commands
(`export`, `corepack enable`, `pip install poetry`, `<tool> config`). `ENV`, `ARG`, `LABEL`
and `EXPOSE` between the copy and the install move above the manifest copy. The fix is
marked **review** when that cannot be promised:

- the moved install writes into the project (`node_modules`, uv's `.venv`, `obj`) and no
  `.dockerignore` keeps the host's copy of that folder out: `COPY . .` would now overwrite
  the freshly installed folder (the `dockerignore` rule proposes the file);
- the moved install may read sources that are not there yet: `package.json` has
  `preinstall`/`install`/`postinstall`/`prepare` scripts, the Gemfile uses `gemspec` or
  local `path:` gems, the Pipfile installs the project itself;
- a `USER`, `RUN`, `COPY` or `ADD` sits between the copy and the install (the inserted
  download runs before it, as root, without what it prepares);
- a multi-module Maven build (`dependency:go-offline` cannot resolve sibling modules before
  they are built).

There is no fix when the install runs in another folder than the one the sources were
copied to (a `cd` or `WORKDIR` into a sub-project: its manifests are not the ones at the
context root), and when `go.mod` has a `replace` pointing into the repository (the replaced
module's sources would be needed before the download).

## References
- Docker docs, "Build cache invalidation": `COPY`/`ADD` are invalidated by file checksums,
  and all later steps re-run.
- Docker docs, "Optimize cache usage in builds": "Order your layers", copying
  `package.json`/lock files before the sources.
- Docker docs, "Building best practices": leverage the build cache.
- Go docs, `go help mod download`; npm docs, `npm ci`; Maven Dependency Plugin,
  `dependency:go-offline`; .NET docs, "Containerize a .NET app" (restore before copying).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from layerbot.analysis import dockerfile, ecosystems, layer_cache
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction, Stage
from layerbot.analysis.ecosystems import DependencyStep, Ecosystem, StepKind
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import (
    Edit,
    Finding,
    Fix,
    FixAvailability,
    InputError,
    Safety,
    Severity,
)
from layerbot.analysis.shell import Command

NAME = "dependency-layer-order"
SEVERITY = Severity.MAJOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Copy the dependency manifests and install before the sources"

# Commands that may run beside the install in a RUN that moves before the sources arrive.
_NEUTRAL = frozenset({"export", "set", "echo", "true", ":", "printf", "umask"})
_OUTPUT_ONLY = frozenset({"echo", "printf", "true", ":"})
# Installing the package manager itself (``pip install poetry``, ``gem install bundler``).
_TOOL_INSTALLERS = frozenset({"pip", "pip3", "gem", "apk", "apt-get"})
# Instructions that may move above the manifest copy: they read no files.
_MOVABLE = frozenset({"ENV", "ARG", "LABEL", "EXPOSE"})
_LIFECYCLE_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
_COPY_FLAGS_KEPT = ("chown", "chmod", "link")


@dataclass(frozen=True)
class _Candidate:
    """A dependency step after a whole-context copy, and what the fix needs to know."""

    stage: Stage
    copy: Instruction
    run: Instruction
    step: DependencyStep


def _candidates(ctx: DockerfileContext) -> Iterator[_Candidate]:
    for stage in ctx.doc.stages:
        body = stage.body
        copy_index = next(
            (i for i, ins in enumerate(body) if layer_cache.is_whole_context_copy(ins)), None
        )
        if copy_index is None:
            continue
        prepared = _prepared_before(ctx, stage, body[:copy_index])
        for instruction in body[copy_index + 1 :]:
            for step in ecosystems.dependency_steps(instruction):
                if step.ecosystem.name in prepared:
                    continue
                prepared.add(step.ecosystem.name)
                if step.kind is StepKind.DOWNLOAD or _fetches_dependencies(ctx, step):
                    yield _Candidate(stage, body[copy_index], instruction, step)


def _prepared_before(ctx: DockerfileContext, stage: Stage, before: list[Instruction]) -> set[str]:
    """Ecosystems whose dependencies are in place before the whole-context copy: installed
    earlier in the stage or in a stage it is built ``FROM``, or copied in from another stage
    (``COPY --from=deps /app/node_modules ./node_modules``, ``/go/pkg/mod``)."""
    instructions = list(before)
    parent = ctx.doc.base_stage(stage)
    while parent is not None:
        instructions.extend(parent.body)
        parent = ctx.doc.base_stage(parent)
    prepared = {s.ecosystem.name for i in instructions for s in ecosystems.dependency_steps(i)}
    for instruction in instructions:
        if instruction.keyword == "COPY" and "from" in instruction.flags:
            destination = posixpath.normpath(instruction.copy_destination() or ".")
            prepared.update(e.name for e in ecosystems.ECOSYSTEMS if _holds(e, destination))
    return prepared


def _holds(ecosystem: Ecosystem, destination: str) -> bool:
    """Whether a copy to ``destination`` brings the ecosystem's installed dependencies."""
    folders = [*ecosystem.install_dirs, *ecosystem.cache_dirs]
    inside = destination != "/" and any(f.startswith(destination + "/") for f in folders)
    return inside or any(destination == f or destination.endswith("/" + f) for f in folders)


def _fetches_dependencies(ctx: DockerfileContext, step: DependencyStep) -> bool:
    """Whether a build command downloads anything: only when the project declares
    dependencies (a Go module without go.sum has none to fetch)."""
    if step.ecosystem is ecosystems.GO:
        return ctx.has("go.sum")
    return any(ecosystems.matching(ctx, marker) for marker in step.ecosystem.markers)


# --- building the fix -------------------------------------------------------------------------


def _destination_dir(destination: str, folder: str) -> str:
    """Where files of context folder ``folder`` land, given the whole-context destination."""
    base = "./" if destination in (".", "./") else destination.rstrip("/") + "/"
    return f"{base}{folder}/" if folder else base


def _copy_flags(copy: Instruction) -> str:
    kept = [
        f"--{name}={value}" if value else f"--{name}"
        for name, value in copy.flags.items()
        if name in _COPY_FLAGS_KEPT
    ]
    return "".join(f"{flag} " for flag in kept)


def _manifest_copies(copy: Instruction, manifests: list[str]) -> list[str]:
    """COPY lines for the manifests, one per destination folder, in manifest order."""
    destination = copy.copy_destination() or "."
    batches: dict[str, list[str]] = {}
    for manifest in manifests:
        folder = manifest.rstrip("/") if manifest.endswith("/") else posixpath.dirname(manifest)
        batches.setdefault(_destination_dir(destination, folder), []).append(manifest)
    flags = _copy_flags(copy)
    return [
        f"COPY {flags}{' '.join(shlex.quote(m) for m in sources)} {target}"
        for target, sources in batches.items()
    ]


def _run_flags(run: Instruction) -> str:
    """The RUN's flags minus bind mounts of the context (they would read the sources)."""
    kept = [f"--{name}={value}" if value else f"--{name}" for name, value in run.flags.items()]
    kept = [flag for flag in kept if not flag.startswith("--mount=")]
    for mount in run.flag_values("mount"):
        options = ecosystems.mount_options(mount)
        if options.get("type", "bind") != "bind" or options.get("from"):
            kept.append(f"--mount={mount}")
    return "".join(f"{flag} " for flag in kept)


def _is_setup(command: Command, step: DependencyStep) -> bool:
    """Commands that prepare the install without reading the sources: ``export``, enabling
    corepack, installing the package manager itself, or configuring it."""
    if command.program in _NEUTRAL or command.program == "corepack":
        return True
    if command.program in _TOOL_INSTALLERS:
        return ecosystems.classify(command) is None
    if command.program in {"npm", "yarn", "pnpm"} and command.has_flag("-g", "--global"):
        return True
    return command.program == step.command.program and command.subcommand == "config"


def _leading_commands(run: Instruction, step: DependencyStep) -> list[str]:
    """Set-up commands before the dependency command, which it may rely on."""
    leading = []
    for command in ecosystems.run_commands(run):
        if command == step.command:
            break
        if _is_setup(command, step) and command.program not in _OUTPUT_ONLY:
            leading.append(command.text)
    return leading


def _working_dir_change(run: Instruction, step: DependencyStep) -> str | None:
    for command in ecosystems.run_commands(run):
        if command == step.command:
            return None
        if command.program in {"cd", "pushd"}:
            return command.argv[1] if len(command.argv) > 1 else "~"
    return None


def _moves_whole(run: Instruction, step: DependencyStep) -> bool:
    """Whether the RUN is only dependency downloads and harmless setup, so it can move."""
    if not step.ecosystem.moves_safely or step.kind is not StepKind.DOWNLOAD:
        return False
    for command in ecosystems.run_commands(run):
        found = ecosystems.classify(command)
        if found is not None and found.kind is StepKind.DOWNLOAD:
            continue
        if not _is_setup(command, step):
            return False
    return True


def _inserted_run(ctx: DockerfileContext, candidate: _Candidate, change_dir: str | None) -> str:
    """The dependency-only RUN placed before the sources, with the original's set-up."""
    step = candidate.step
    keeps_text = step.kind is StepKind.DOWNLOAD and step.ecosystem.moves_safely
    command = (
        step.command.text if keeps_text else ecosystems.canonical_command(ctx, step.ecosystem, step)
    )
    parts = _leading_commands(candidate.run, step)
    if change_dir is not None:
        parts.append(f"cd {shlex.quote(change_dir)}")
    return f"RUN {_run_flags(candidate.run)}" + " && ".join([*parts, command])


def _hazards(
    ctx: DockerfileContext, candidate: _Candidate, moved: bool, between: list[Instruction]
) -> list[str]:
    """Reasons the reordered build might not end with the same image."""
    reasons = []
    ecosystem = candidate.step.ecosystem
    if any(i.keyword == "USER" for i in between):
        reasons.append("a USER set between the copy and the install would not apply to it")
    earlier_steps = sorted({i.keyword for i in between if i.keyword in {"RUN", "COPY", "ADD"}})
    if earlier_steps:
        reasons.append(
            f"{', '.join(earlier_steps)} between the copy and the install may prepare it"
        )
    if moved:
        patterns = ecosystems.ignore_patterns(ctx)
        unignored = [d for d in ecosystem.install_dirs if not ecosystems.is_ignored(patterns, d)]
        if unignored:
            reasons.append(
                f"without a .dockerignore entry for {', '.join(unignored)}, `COPY . .` would "
                "overwrite what the install wrote with the host's copy"
            )
        reasons.extend(_install_reads_sources(ctx, ecosystem))
    if ecosystem is ecosystems.MAVEN and "<module>" in (ctx.read("pom.xml") or ""):
        reasons.append(
            "`dependency:go-offline` cannot resolve sibling modules before they are built"
        )
    return reasons


def _install_reads_sources(ctx: DockerfileContext, ecosystem: Ecosystem) -> list[str]:
    if ecosystem in (ecosystems.NPM, ecosystems.YARN, ecosystems.PNPM):
        try:
            package = json.loads(ctx.read("package.json") or "{}")
        except ValueError:
            return ["package.json could not be read"]
        scripts = package.get("scripts") if isinstance(package, dict) else None
        hooks = [s for s in _LIFECYCLE_SCRIPTS if isinstance(scripts, dict) and s in scripts]
        if hooks:
            return [f"package.json runs `{'`, `'.join(hooks)}` on install, which may need sources"]
    if ecosystem is ecosystems.BUNDLER:
        gemfile = ctx.read("Gemfile") or ""
        if re.search(r"^\s*gemspec\b|\bpath:", gemfile, re.MULTILINE):
            return ["the Gemfile loads a gemspec or local gems, which may read sources"]
    if ecosystem is ecosystems.PIPENV and re.search(r'path\s*=\s*"\."', ctx.read("Pipfile") or ""):
        return ["the Pipfile installs the project itself"]
    return []


def _local_go_replace(ctx: DockerfileContext) -> bool:
    return re.search(r"=>\s*\.{1,2}/", ctx.read("go.mod") or "") is not None


def _workdir_before(stage: Stage, line: int) -> str:
    """The working directory an instruction at ``line`` runs in (``/`` by default)."""
    current = "/"
    for instruction in stage.body:
        if instruction.line >= line:
            break
        if instruction.keyword == "WORKDIR":
            current = posixpath.join(current, instruction.arguments.strip())
    return posixpath.normpath(current)


def _comment_block_above(ctx: DockerfileContext, line: int, floor: int) -> range:
    """Comment lines directly above ``line`` (down to ``floor``), which belong to it."""
    start = line
    while start - 1 > floor and ctx.doc.line_text(start - 1).lstrip().startswith("#"):
        start -= 1
    return range(start, line)


def _fix(ctx: DockerfileContext, candidate: _Candidate, manifests: list[str]) -> Fix | None:
    copy, run, step = candidate.copy, candidate.run, candidate.step
    workdir = _workdir_before(candidate.stage, copy.line)
    install_dir = posixpath.normpath(posixpath.join(workdir, copy.copy_destination() or "."))
    run_dir = _workdir_before(candidate.stage, run.line)
    changed = _working_dir_change(run, step)
    if changed is not None:
        run_dir = posixpath.normpath(posixpath.join(run_dir, changed))
    if run_dir != install_dir:
        return None  # the install runs elsewhere than where the manifests would land
    between = [i for i in candidate.stage.body if copy.line < i.line < run.line]
    movable = {n for i in between if i.keyword in _MOVABLE for n in range(i.line, i.end_line + 1)}
    staying = [i for i in between if i.keyword not in _MOVABLE]
    moved = _moves_whole(run, step) and not staying
    lines = ctx.doc.lines
    head = [*(lines[n - 1] for n in sorted(movable)), *_manifest_copies(copy, manifests)]
    if moved:
        comments = _comment_block_above(ctx, run.line, copy.end_line)
        rest = [n for n in range(copy.end_line + 1, run.line) if n not in movable]
        new_lines = [
            *head,
            *(lines[n - 1] for n in comments),
            *lines[run.line - 1 : run.end_line],
            *lines[copy.line - 1 : copy.end_line],
            *(lines[n - 1] for n in rest if n not in comments),
        ]
        description = "Copy the dependency manifests first and install before copying the sources"
    else:
        kept = [n for n in range(copy.line, run.end_line + 1) if n not in movable]
        change_dir = install_dir if install_dir != workdir else None
        new_lines = [
            *head,
            _inserted_run(ctx, candidate, change_dir),
            *(lines[n - 1] for n in kept),
        ]
        description = "Copy the dependency manifests and download dependencies before the sources"
    hazards = _hazards(ctx, candidate, moved, staying)
    if hazards:
        description += " (review: " + "; ".join(hazards) + ")"
    return Fix(
        description=description,
        safety=Safety.REVIEW if hazards else Safety.SAFE,
        edits=(Edit(copy.line, run.end_line, tuple(new_lines)),),
    )


def _impact(
    ctx: DockerfileContext, candidate: _Candidate, fix: Fix | None, cached: str | None
) -> tuple[str, Fix | None]:
    """The impact sentence from the cache model before and after the fix, and the fix, or
    ``None`` when the fixed file would not parse (a fix never offers a broken Dockerfile)."""
    before = layer_cache.steps_rerun(ctx.doc, candidate.stage)
    after = None
    if fix is not None:
        try:
            after_doc = dockerfile.parse(apply_fix(ctx.doc.text, fix), ctx.doc.path)
            after = layer_cache.steps_rerun(after_doc, candidate.stage.index)
        except InputError:
            fix = None
    sentence = layer_cache.impact_sentence(
        before, after, slow_step=candidate.step.command.text, cached_step=cached
    )
    return sentence, fix


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    patterns = ecosystems.ignore_patterns(ctx)
    for candidate in _candidates(ctx):
        ecosystem = candidate.step.ecosystem
        manifests = [
            m
            for m in ecosystems.existing_manifests(ctx, ecosystem, candidate.step)
            if not ecosystems.is_ignored(patterns, m)
        ]
        fix = None
        if manifests and not (ecosystem is ecosystems.GO and _local_go_replace(ctx)):
            fix = _fix(ctx, candidate, manifests)
        copy_text = " ".join(candidate.copy.original.split())
        step_text = candidate.step.command.text
        wanted = ", ".join(f"`{m}`" for m in manifests) or f"the {ecosystem.label} manifests"
        message = (
            f"`{step_text}` runs after `{copy_text}` copied the whole build context, so any "
            f"source change invalidates the layer and {ecosystem.label} dependencies are "
            f"downloaded again on every build; copy {wanted} first and install before "
            "copying the rest."
        )
        cached = _cached_step(ctx, candidate) if fix else None
        impact, fix = _impact(ctx, candidate, fix, cached)
        yield ctx.finding(
            NAME, SEVERITY, candidate.copy, message, impact=impact, fix=fix, end=candidate.run
        )


def _cached_step(ctx: DockerfileContext, candidate: _Candidate) -> str:
    """The dependency command the fixed file runs before the sources (for the impact)."""
    step = candidate.step
    if step.kind is StepKind.DOWNLOAD and step.ecosystem.moves_safely:
        return step.command.text
    return ecosystems.canonical_command(ctx, step.ecosystem, step).split(" && ")[-1]
