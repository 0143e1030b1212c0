"""``layerbot check`` and ``layerbot rule``: the local shell around the analysis core.

Paths are strings handled with ``os.path``: ``pathlib`` (with ``urllib.parse`` and
``ipaddress`` under it) would cost every start of ``layerbot check`` 3 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Iterator

from layerbot.analysis import formats
from layerbot.analysis.config import CONFIG_FILE, Config, ConfigError, parse_config
from layerbot.analysis.discovery import (
    DOCKERFILE,
    GITLAB_CI,
    built_under,
    discover,
    file_kind,
    kind_in,
)
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import AnalysisResult, Finding, ListedRepoView, Note, RepoView
from layerbot.analysis.rules import DOCS_URL, all_rules, rules_for
from layerbot.pipeline_cache import give_pipeline_facts


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
        with fewer_collections():
            return _check(args)
    except (UsageError, ConfigError) as error:
        print(f"layerbot: error: {error}", file=sys.stderr)
        return 2


# CPython collects its youngest generation every 700 new container objects, and each older
# collection walks everything that survived (Python docs, ``gc.set_threshold``). A check keeps
# the parsed files, the pipeline and its jobs alive to the end and makes little cyclic garbage,
# so at the default thresholds the collector's share grows with the file: a 3,000-job pipeline
# took 0.78 s against 0.59 s at these. mypy's build sets the same thresholds for the same reason.
COLLECTOR_THRESHOLDS = (200_000, 30, 30)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with :data:`COLLECTOR_THRESHOLDS`, then put the process's back (the bot's
    worker keeps CPython's own: it runs for days, and memory matters more there)."""
    before = gc.get_threshold()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


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
    if not args.no_cache and any(file_kind(target) != GITLAB_CI for target, _ in targets):
        # Facts a Dockerfile's check needs; a CI file's own check loads its pipeline anyway.
        give_pipeline_facts(repo, root)
    targets += _built_by_ci(args.paths, root, repo, targets, resolve)
    config = parse_config(repo.read(CONFIG_FILE))
    jobs: list[tuple[str, bytes]] = []
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
        jobs.append((relative, data))
    result = AnalysisResult()
    sources: dict[str, str] = {}
    reports = check_files(jobs, repo, config, workers=_workers(len(jobs)))
    for (relative, data), (findings, notes) in zip(jobs, reports, strict=True):
        sources[relative] = data.decode("utf-8", "replace")
        result.files += 1
        result.findings.extend(findings)
        result.notes.extend(notes)
    costs: list[str] = []
    if args.build_log:
        result.findings, costs = _measure(args.build_log, result.findings, sources, repo)
    print(_render(args, result, sources))
    if costs and args.format == "text":
        print("\n".join(costs))
    return 1 if result.findings else 0


Report = tuple[list[Finding], list[Note]]
# Files a worker process must get before forking one pays: a fork of the checking process
# costs about a millisecond, checking a file about two.
FILES_PER_WORKER = 32


def _workers(files: int) -> int:
    """Processes for a run over ``files``: one per core, each with enough files to pay for its
    fork, and the checking process alone where there is no ``fork``."""
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(_cores(), files // FILES_PER_WORKER))


def check_files(
    jobs: list[tuple[str, bytes]], repo: RepoView, config: Config, workers: int = 1
) -> list[Report]:
    """Each file's findings and notes, in the order given, checked by ``workers`` processes:
    this one and forked children (the analysis is pure, and a child starts with the rules
    imported and the repository's answers so far). A child that fails or sends nothing has
    its share checked here instead, so the report never depends on them."""
    if workers < 2:
        return [_report(job, repo, config) for job in jobs]
    for kind in {kind_in(repo, path) for path, _ in jobs} - {None}:
        rules_for(kind)  # imported once here, not once in each child
    shares = [list(range(first, len(jobs), workers)) for first in range(workers)]
    children = [_fork_share([jobs[i] for i in share], repo, config) for share in shares[1:]]
    reports: list[Report | None] = [None] * len(jobs)
    for index in shares[0]:
        reports[index] = _report(jobs[index], repo, config)
    for share, child in zip(shares[1:], children, strict=True):
        sent = collect(*child)
        if sent is None or len(sent) != len(share):
            sent = [_report(jobs[index], repo, config) for index in share]
        for index, report in zip(share, sent, strict=True):
            reports[index] = report
    return [report for report in reports if report is not None]


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _report(job: tuple[str, bytes], repo: RepoView, config: Config) -> Report:
    report = analyse_file(job[0], job[1], repo, config)
    return report.findings, report.notes


def _fork_share(share: list[tuple[str, bytes]], repo: RepoView, config: Config) -> tuple[int, int]:
    """A child process checking ``share`` and sending its reports, pickled, down a pipe."""
    import pickle

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code, nor runs its exit hooks
        os.close(read)
        status = 1
        try:
            reports = [_report(job, repo, config) for job in share]
            with os.fdopen(write, "wb") as pipe:
                pipe.write(pickle.dumps(reports, protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


def collect(pid: int, read: int) -> list[Report] | None:
    """What the child sent once it is done; ``None`` when it failed."""
    import pickle

    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    reports: list[Report] = pickle.loads(data)
    return reports


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
