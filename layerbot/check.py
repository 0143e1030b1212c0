"""``layerbot check`` and ``layerbot rule``: the local shell around the analysis core.

Paths are strings handled with ``os.path``: ``pathlib`` (with ``urllib.parse`` and
``ipaddress`` under it) would cost every start of ``layerbot check`` 3 ms.
"""

from __future__ import annotations

import argparse
import os
import sys

from layerbot.analysis import formats
from layerbot.analysis.config import CONFIG_FILE, ConfigError, parse_config
from layerbot.analysis.discovery import DOCKERFILE, built_under, discover, file_kind, kind_in
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import AnalysisResult, Finding, ListedRepoView, RepoView
from layerbot.analysis.rules import DOCS_URL, all_rules


class UsageError(Exception):
    """A bad path or option: printed as one line, exit status 2."""


def repository_root(start: str) -> str:
    """The git work tree holding ``start`` (an absolute folder: the nearest one with ``.git``),
    else ``start``.

    Looked up on disk rather than by running git: one process per file must start fast.
    """
    folder = start
    while not os.path.exists(os.path.join(folder, ".git")):
        parent = os.path.dirname(folder)
        if parent == folder:
            return start
        folder = parent
    return folder


def _relative(path: str, root: str) -> str | None:
    """``path`` as a POSIX path relative to ``root`` (both absolute), ``None`` outside it."""
    if path.startswith(root + os.sep) and root != os.sep:  # the usual case, without relpath
        relative = path[len(root) + 1 :]
    else:
        relative = os.path.relpath(path, root)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return relative.replace(os.sep, "/")


class _Resolver:
    """``os.path.realpath`` with each folder resolved once: ``realpath`` looks up every folder
    on the way to every file, and a run over a repository passes hundreds of files in few
    places."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if os.pardir in path.split(os.sep):  # ``link/..`` leaves where the link points
            return os.path.realpath(path)
        return self._resolved(os.path.abspath(path))

    def _resolved(self, path: str) -> str:
        found = self._known.get(path)
        if found is None:
            parent, name = os.path.split(path)
            if not name:
                found = path
            elif os.path.islink(path):
                found = os.path.realpath(path)
            else:
                found = os.path.join(self._resolved(parent), name)
            self._known[path] = found
        return found


class LocalRepoView(ListedRepoView):
    """The working tree under ``root``, asked folder by folder: no walk of the whole tree.

    ``layerbot check`` runs once per file in pre-commit and CI jobs, so listing a repository
    (with its virtualenvs and node_modules) up front would cost more than the analysis; and a
    run over a monorepo asks about the same folders again and again, so each folder is listed
    once.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(self._scan, self._read_file)
        self._root = os.fspath(root)

    def _scan(self, directory: str) -> dict[str, bool]:
        try:
            with os.scandir(os.path.join(self._root, directory)) as listing:
                return {entry.name: entry.is_file() for entry in listing}
        except OSError:
            return {}

    def _read_file(self, relative: str) -> str | None:
        target = os.path.join(self._root, relative)
        try:
            if os.path.getsize(target) > self.MAX_READ_BYTES:
                return None
            with open(target, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return None


def _targets(paths: list[str]) -> list[str]:
    targets: list[str] = []
    for raw in paths:
        if os.path.isdir(raw):
            targets.extend(discover(raw))
        elif os.path.isfile(raw):
            targets.append(raw)
        else:
            raise UsageError(f"{raw}: no such file or directory")
    return targets


def run_check(args: argparse.Namespace) -> int:
    try:
        return _check(args)
    except (UsageError, ConfigError) as error:
        print(f"layerbot: error: {error}", file=sys.stderr)
        return 2


def _built_by_ci(
    paths: list[str],
    root: str,
    repo: RepoView,
    known: list[tuple[str, str]],
    resolve: _Resolver,
) -> list[tuple[str, str]]:
    """Files under the folders asked for that the CI configuration builds as Dockerfiles
    under names of their own (each with its resolved path, like ``known``)."""
    seen = {resolved for _, resolved in known}
    found = []
    for raw in paths:
        if not os.path.isdir(raw):
            continue
        folder = _relative(resolve(raw), root)
        if folder is None:
            continue
        for path in built_under(repo, folder):
            target = os.path.join(root, path)
            resolved = resolve(target)
            if resolved not in seen:
                found.append((target, resolved))
    return found


def _check(args: argparse.Namespace) -> int:
    # Each target resolved once: a run over a monorepo passes hundreds of paths.
    resolve = _Resolver()
    targets = [(target, resolve(target)) for target in _targets(args.paths)]
    folders = [os.path.dirname(resolved) for _, resolved in targets]
    anchor = os.path.commonpath(folders) if folders else os.getcwd()
    root = os.path.realpath(args.root) if args.root else repository_root(resolve(anchor))
    repo = LocalRepoView(root)
    targets += _built_by_ci(args.paths, root, repo, targets, resolve)
    config = parse_config(repo.read(CONFIG_FILE))
    result = AnalysisResult()
    sources: dict[str, str] = {}
    for target, resolved in targets:
        relative = _relative(resolved, root)
        if relative is None:
            raise UsageError(f"{target}: outside the repository root {root}")
        if kind_in(repo, relative) is None:
            raise UsageError(f"{target}: not a Dockerfile or .gitlab-ci.yml")
        try:
            with open(target, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise UsageError(f"{target}: {error.strerror}") from None
        if args.fix:
            data = _fix_in_place(target, root, relative, data, repo, config, args.unsafe)
        report = analyse_file(relative, data, repo, config)
        sources[relative] = data.decode("utf-8", "replace")
        result.files += 1
        result.findings.extend(report.findings)
        result.notes.extend(report.notes)
    costs: list[str] = []
    if args.build_log:
        result.findings, costs = _measure(args.build_log, result.findings, sources, repo)
    print(_render(args, result, sources))
    if costs and args.format == "text":
        print("\n".join(costs))
    return 1 if result.findings else 0


def _measure(
    log_path: str, findings: list[Finding], sources: dict[str, str], repo: RepoView
) -> tuple[list[Finding], list[str]]:
    """Findings with what their steps cost in the saved build log, and one line per Dockerfile
    the log built (nothing for a Dockerfile the log does not match)."""
    from layerbot.analysis.build_logs import parse_build_log
    from layerbot.analysis.dockerfile import DockerfileError, parse
    from layerbot.analysis.measured import Measurement, match_runs, summary_line, with_costs

    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            runs = parse_build_log(handle.read())
    except OSError as error:
        raise UsageError(f"{log_path}: {error.strerror}") from None
    lines = []
    for path, text in sources.items():
        if file_kind(path) != DOCKERFILE:
            continue
        try:
            doc = parse(text, path)
        except DockerfileError:
            continue
        name = os.path.basename(log_path)
        measured = Measurement(f"the build log `{name}`", match_runs(doc, runs))
        if not measured.timings:
            continue
        findings = with_costs(doc, findings, measured)
        fixed = fix_file(path, text, repo, unsafe=True).text
        line = summary_line(doc, fixed, measured)
        if line:
            lines.append(f"measured: {line}")
    return findings, lines


def _fix_in_place(
    target: str,
    root: str,
    relative: str,
    data: bytes,
    repo: RepoView,
    config: object,
    unsafe: bool,
) -> bytes:
    from layerbot.analysis.config import Config

    assert isinstance(config, Config)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    report = analyse_file(relative, text, repo, config)
    outcome = fix_file(relative, text, repo, config, unsafe=unsafe)
    if outcome.text != text:
        _write(target, outcome.text)
    for finding in report.findings:
        fix = finding.fix
        if fix and fix.creates_file and fix.path and (unsafe or fix.safety.value == "safe"):
            companion = os.path.join(root, fix.path)
            if not os.path.exists(companion):
                _write(companion, apply_fix("", fix))
    return outcome.text.encode("utf-8")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def use_color() -> bool:
    """ANSI colours only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _render(args: argparse.Namespace, result: AnalysisResult, sources: dict[str, str]) -> str:
    if args.format == "json":
        return formats.render_json(result, sources)
    if args.format == "gitlab":
        return formats.render_gitlab(result, sources)
    if args.format == "sarif":
        from layerbot import version
        from layerbot.settings import Settings

        docs_url = Settings.from_env().rule_docs_url or DOCS_URL
        return formats.render_sarif(result, sources, version=version(), docs_url=docs_url)
    return formats.render_text(result, sources, show_diff=args.diff, color=use_color())


def run_rule(args: argparse.Namespace) -> int:
    from layerbot.docs import rule_listing, rule_markdown

    rules = all_rules()
    if args.all or not args.name:
        print(rule_listing(rules.values()))
        return 0
    chosen = rules.get(args.name)
    if chosen is None:
        print(f"layerbot: error: unknown rule {args.name}", file=sys.stderr)
        return 2
    print(rule_markdown(chosen), end="")
    return 0
