"""Node: the build output folder and production-only dependencies on a slim Node image."""

from __future__ import annotations

import posixpath

from layerbot.analysis import ecosystems, project
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.runtime_stage.plan import Inputs, Plan, Refusal
from layerbot.analysis.shell import commands
from layerbot.analysis.shipped import resolve
from layerbot.analysis.toolchains import is_alpine, major_version_of

# Node ------------------------------------------------------------------------------------

_NODE_RUNNERS = {"npm", "yarn", "pnpm"}


def _entry_script(inputs: Inputs) -> str | None:
    """The file ``node`` starts: from the start command, or package.json's ``start`` script."""
    entry = inputs.entry
    if entry is None:
        return None
    argv = entry.argv
    if posixpath.basename(entry.program) in _NODE_RUNNERS and argv[1:] in (
        ("start",),
        ("run", "start"),
    ):
        package = inputs.ctx.json_object("package.json")
        if package is None:
            return None
        scripts = package.get("scripts")
        start = scripts.get("start") if isinstance(scripts, dict) else None
        found = commands(start) if isinstance(start, str) else []
        if len(found) != 1:
            return None
        argv = found[0].argv
    if posixpath.basename(argv[0]) != "node":
        return None
    files = [arg for arg in argv[1:] if not arg.startswith("-")]
    return files[0] if files else None


def plan_node(inputs: Inputs) -> Plan:
    ctx = inputs.ctx
    script = _entry_script(inputs)
    if script is None:
        raise Refusal("the start command does not run one file with `node`")
    if ecosystems.declares_node_workspaces(ctx):
        # the built workspace needs its own production dependencies, installed with every
        # workspace's package.json (pnpm docs, "pnpm deploy"; Yarn docs, "yarn workspaces
        # focus"; npm docs, "workspaces"): more than one lock file and one install
        raise Refusal(
            "the project is a monorepo of workspaces: copy the built workspace with its "
            "production dependencies (`pnpm deploy --filter <name> --prod <folder>`, `yarn "
            "workspaces focus --production <name>`, or npm's `--omit=dev --workspace <name>`)"
        )
    relative = posixpath.relpath(resolve(script, inputs.workdir), inputs.workdir)
    top = relative.split("/", 1)[0]
    if "/" not in relative or top in {"..", "src", "node_modules"}:
        raise Refusal(f"`{script}` is not inside a build output folder to copy")
    output = resolve(top, inputs.workdir)
    image = inputs.shipped.image
    version = major_version_of(image) or project.node_version(ctx) or "lts"
    variant = "alpine" if is_alpine(image) else "slim"
    manifests, install = _production_install(ctx, version)
    return Plan(
        runtime_image=f"node:{version}-{variant}",
        copies=((output, output),),
        artifact=f"the build output `{output}`",
        setup=(f"COPY {' '.join(manifests)} ./", f"RUN {install}"),
    )


def _production_install(ctx: DockerfileContext, node: str) -> tuple[list[str], str]:
    """The manifests to copy and the command that installs production dependencies only
    (npm before 7, shipped with Node 14 and older, spells ``--omit=dev`` ``--only=production``)."""
    if ctx.has("pnpm-lock.yaml"):
        return (
            ["package.json", "pnpm-lock.yaml"],
            "corepack enable && pnpm install --prod --frozen-lockfile && pnpm store prune",
        )
    if ctx.has("yarn.lock"):
        if ctx.has(".yarnrc.yml"):
            raise Refusal("Yarn 2+ needs its own production install (`yarn workspaces focus`)")
        return (
            ["package.json", "yarn.lock"],
            "yarn install --production --frozen-lockfile && yarn cache clean",
        )
    lock = next((n for n in ("package-lock.json", "npm-shrinkwrap.json") if ctx.has(n)), None)
    extra = [".npmrc"] if ctx.has(".npmrc") else []
    omit = "--only=production" if node.isdigit() and int(node) <= 14 else "--omit=dev"
    install = f"npm {'ci' if lock else 'install'} {omit} && npm cache clean --force"
    return ["package.json", *([lock] if lock else []), *extra], install
