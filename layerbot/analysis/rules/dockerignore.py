"""The whole build context is copied and there is no `.dockerignore`.

## What it does
Flags the first `COPY . .` (or `COPY . /app`, `ADD . …`) of a Dockerfile when its build context
has no ignore file: neither `.dockerignore` at the root of the context nor
`<Dockerfile-name>.dockerignore` next to the Dockerfile (BuildKit uses the latter first).

The build context is the one a CI job passes (`docker build -f docker/Dockerfile .`). Without
one it is the Dockerfile's folder, unless that folder holds none of the files the Dockerfile
copies by name and a folder above it does: a `docker/Dockerfile` that copies `package.json`
from the repository root is built with the root as context, and the root's `.dockerignore`
is the one that counts.

## Why it matters
Without an ignore file, everything in the context directory is sent to the builder and copied
into the image: `.git` (which changes with every commit, so the copy and every step after it
re-run even when no source changed), the host's `node_modules`, virtualenvs and build outputs
(which may overwrite what the image installed, for another platform), and local `.env` files
with credentials. The context upload itself grows with every one of them.

## Example
```dockerfile
FROM node:20
WORKDIR /app
COPY . .
RUN npm ci && npm run build
```
with no `.dockerignore` beside it.

## Use instead
A `.dockerignore` in the build context, e.g. for Node:
```text
.git
.env
.env.*
!.env.example
**/node_modules
npm-debug.log*
coverage
dist
```

## Fix safety
The fix creates the `.dockerignore` file, fitted to the ecosystems found in the context (Go,
Node, Python, Java, Rust, Ruby, PHP, .NET): version control, editor folders, `.env` files,
dependency folders and build outputs. It is marked **review**: it changes what enters the
image. Entries that would drop something the Dockerfile copies by name (`COPY dist ./dist`) or
uses (`.git` for a `git` command after the copy) are left out, as are output folders
(`build`, `dist`, `bin`) that hold files in the repository.

## References
- Docker docs, "Build context: .dockerignore files" (syntax, `**`, `!` exceptions, and the
  `<Dockerfile>.dockerignore` file that takes precedence); the `.dockerignore` file is read
  from the root of the build context.
- Docker docs, "docker buildx build: --file": the Dockerfile may live anywhere, and `COPY`
  sources are paths inside the context (`docker build -f dockerfiles/Dockerfile.debug .`).
- Docker docs, "Building best practices: Exclude with .dockerignore".
- Docker docs, "Build cache invalidation": `COPY` is invalidated when any copied file changes.
"""

from __future__ import annotations

from collections.abc import Iterator

from layerbot.analysis import ecosystems, layer_cache, runs
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dockerfile import Instruction
from layerbot.analysis.ecosystems import Ecosystem
from layerbot.analysis.model import Edit, Finding, Fix, FixAvailability, Safety, Severity

NAME = "dockerignore"
SEVERITY = Severity.MINOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.ALWAYS
FIX_TITLE = "Create a `.dockerignore` fitted to the project"


def _ecosystems(ctx: DockerfileContext) -> list[Ecosystem]:
    """Ecosystems found in the context or used by the Dockerfile, in table order."""
    used = {s.ecosystem for i in ctx.doc.instructions for s in ecosystems.dependency_steps(i)}
    found = set(ecosystems.detect(ctx)) | used
    return [e for e in ecosystems.ECOSYSTEMS if e in found]


def _named_sources(ctx: DockerfileContext) -> list[str]:
    """Context paths the Dockerfile copies by name (they must stay in the context)."""
    names = []
    for instruction in ctx.doc.instructions:
        if instruction.keyword not in {"COPY", "ADD"} or "from" in instruction.flags:
            continue
        for source in instruction.copy_sources():
            kind = layer_cache.source_kind(source)
            if kind is not layer_cache.SourceKind.WHOLE_CONTEXT and "://" not in source:
                names.append(source.strip("/").removeprefix("./"))
    return names


def _uses_git(ctx: DockerfileContext) -> bool:
    return any(
        command.program == "git"
        for instruction in ctx.doc.instructions
        if instruction.keyword == "RUN"
        for command in runs.run_commands(instruction)
    )


def ignore_entries(ctx: DockerfileContext, found: list[Ecosystem]) -> list[str]:
    """The .dockerignore lines proposed for a build context with these ecosystems."""
    kept = _named_sources(ctx)
    entries = []
    for entry in ecosystems.dockerignore_entries(ctx, found):
        if entry == ".git" and _uses_git(ctx):
            continue
        if not entry.startswith("!") and any(ecosystems.is_ignored([entry], k) for k in kept):
            continue
        entries.append(entry)
    return entries


def _impact(ctx: DockerfileContext, copy: Instruction) -> str:
    reruns = layer_cache.steps_rerun(ctx.doc, copy.stage)
    git = " (`.git` changes with every commit)" if ctx.context_dir in ("", ".") else ""
    return (
        f"without it, a change to any file in the context{git} re-runs {reruns.count} of "
        f"{reruns.total} build steps of this stage, from this copy on"
    )


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    if ecosystems.dockerignore_path(ctx) is not None:
        return
    copy = next((i for i in ctx.doc.instructions if layer_cache.is_whole_context_copy(i)), None)
    if copy is None:
        return
    path = ctx.context_file(".dockerignore")
    found = _ecosystems(ctx)
    entries = ignore_entries(ctx, found)
    message = (
        f"`{' '.join(copy.original.split())}` copies the whole build context and there is no "
        f"`{path}`: version control data, local dependency folders, build outputs and `.env` "
        "files go into the context upload, into the image and into this layer's cache key."
    )
    labels = ", ".join(e.label for e in found) or "this context"
    fix = Fix(
        description=f"Create `{path}` for {labels}",
        safety=Safety.REVIEW,
        edits=(Edit(1, 0, tuple(entries)),),
        path=path,
        creates_file=True,
    )
    yield ctx.finding(NAME, SEVERITY, copy, message, impact=_impact(ctx, copy), fix=fix)
