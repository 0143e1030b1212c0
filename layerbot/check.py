"""``layerbot check`` and ``layerbot rule``: the local shell around the analysis core."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from layerbot.analysis import formats
from layerbot.analysis.config import CONFIG_FILE, ConfigError, parse_config
from layerbot.analysis.discovery import DOCKERFILE, built_under, discover, file_kind, kind_in
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import AnalysisResult, Finding, ListedRepoView, RepoView
from layerbot.analysis.rules import DOCS_URL, all_rules


class UsageError(Exception):
    """A bad path or option: printed as one line, exit status 2."""


def repository_root(start: Path) -> Path:
    """The git work tree holding ``start`` (the nearest folder with ``.git``), else ``start``.

    Looked up on disk rather than by running git: one process per file must start fast.
    """
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


class LocalRepoView(ListedRepoView):
    """The working tree under ``root``, asked folder by folder: no walk of the whole tree.

    ``layerbot check`` runs once per file in pre-commit and CI jobs, so listing a repository
    (with its virtualenvs and node_modules) up front would cost more than the analysis; and a
    run over a monorepo asks about the same folders again and again, so each folder is listed
    once.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(self._scan, self._read_file)
        self._root = str(root)

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


def _targets(paths: list[str]) -> list[Path]:
    targets: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            targets.extend(discover(path))
        elif path.is_file():
            targets.append(path)
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
    paths: list[str], root: Path, repo: RepoView, known: list[tuple[Path, Path]]
) -> list[tuple[Path, Path]]:
    """Files under the folders asked for that the CI configuration builds as Dockerfiles
    under names of their own (each with its resolved path, like ``known``)."""
    seen = {resolved for _, resolved in known}
    found = []
    for raw in paths:
        folder = Path(raw)
        if not folder.is_dir():
            continue
        folder = folder.resolve()
        if not folder.is_relative_to(root):
            continue
        for path in built_under(repo, folder.relative_to(root).as_posix()):
            resolved = (root / path).resolve()
            if resolved not in seen:
                found.append((root / path, resolved))
    return found


def _check(args: argparse.Namespace) -> int:
    # Each target resolved once: a run over a monorepo passes hundreds of paths.
    targets = [(target, target.resolve()) for target in _targets(args.paths)]
    folders = [str(resolved.parent) for _, resolved in targets]
    anchor = Path(os.path.commonpath(folders)) if folders else Path.cwd()
    root = Path(args.root).resolve() if args.root else repository_root(anchor.resolve())
    repo = LocalRepoView(root)
    targets += _built_by_ci(args.paths, root, repo, targets)
    config = parse_config(repo.read(CONFIG_FILE))
    result = AnalysisResult()
    sources: dict[str, str] = {}
    for target, resolved in targets:
        try:
            relative = resolved.relative_to(root).as_posix()
        except ValueError:
            raise UsageError(f"{target}: outside the repository root {root}") from None
        if kind_in(repo, relative) is None:
            raise UsageError(f"{target}: not a Dockerfile or .gitlab-ci.yml")
        try:
            data = target.read_bytes()
        except OSError as error:
            raise UsageError(f"{target}: {error.strerror}") from None
        if args.fix:
            data = _fix_in_place(target, relative, data, repo, config, args.unsafe)
        report = analyse_file(relative, data, repo, config)
        sources[relative] = data.decode("utf-8", "replace")
        result.files += 1
        result.findings.extend(report.findings)
        result.notes.extend(report.notes)
    costs: list[str] = []
    if args.build_log:
        result.findings, costs = _measure(Path(args.build_log), result.findings, sources, repo)
    print(_render(args, result, sources))
    if costs and args.format == "text":
        print("\n".join(costs))
    return 1 if result.findings else 0


def _measure(
    log_path: Path, findings: list[Finding], sources: dict[str, str], repo: RepoView
) -> tuple[list[Finding], list[str]]:
    """Findings with what their steps cost in the saved build log, and one line per Dockerfile
    the log built (nothing for a Dockerfile the log does not match)."""
    from layerbot.analysis.build_logs import parse_build_log
    from layerbot.analysis.dockerfile import DockerfileError, parse
    from layerbot.analysis.measured import Measurement, match_runs, summary_line, with_costs

    try:
        runs = parse_build_log(log_path.read_text(encoding="utf-8", errors="replace"))
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
        measured = Measurement(f"the build log `{log_path.name}`", match_runs(doc, runs))
        if not measured.timings:
            continue
        findings = with_costs(doc, findings, measured)
        fixed = fix_file(path, text, repo, unsafe=True).text
        line = summary_line(doc, fixed, measured)
        if line:
            lines.append(f"measured: {line}")
    return findings, lines


def _fix_in_place(
    target: Path, relative: str, data: bytes, repo: RepoView, config: object, unsafe: bool
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
        target.write_text(outcome.text, encoding="utf-8")
    root = target.resolve().parents[len(Path(relative).parts) - 1]
    for finding in report.findings:
        fix = finding.fix
        if fix and fix.creates_file and fix.path and (unsafe or fix.safety.value == "safe"):
            companion = root / fix.path
            if not companion.exists():
                companion.write_text(apply_fix("", fix), encoding="utf-8")
    return outcome.text.encode("utf-8")


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
