"""The ``layerbot`` command: ``check``, ``rule``, ``review``, ``serve``, ``worker``, ``version``.

Imports are lazy on purpose: ``layerbot check`` must start fast and never import Flask or
Celery, since CI jobs and pre-commit run it once per file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it (``COLUMNS`` first)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _Formatter(argparse.HelpFormatter):
    """argparse's own, given the width: left to itself it imports ``shutil`` (and bz2 and lzma
    with it) to measure the terminal, for every argument declared, on every start."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)


def _check(commands: _SubParsers) -> None:
    check = commands.add_parser(
        "check", formatter_class=_Formatter, help="analyse files or directories and report findings"
    )
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    check.add_argument("--format", choices=["text", "json", "gitlab", "sarif"], default="text")
    check.add_argument("--diff", action="store_true", help="show each fix as a unified diff")
    check.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    check.add_argument("--unsafe", action="store_true", help="with --fix, also apply review fixes")
    check.add_argument("--root", default=None, help="repository root (default: git top or cwd)")
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="work out the CI configuration's facts afresh and keep none "
        "(cache folder: $LAYERBOT_CACHE_DIR, else $XDG_CACHE_HOME/layerbot)",
    )
    check.add_argument(
        "--build-log",
        default=None,
        metavar="FILE",
        help="a saved CI job log of a build: say what each finding's steps cost in it",
    )


def _rule(commands: _SubParsers) -> None:
    rule = commands.add_parser(
        "rule", formatter_class=_Formatter, help="print a rule's documentation"
    )
    rule.add_argument("name", nargs="?")
    rule.add_argument("--all", action="store_true", help="list every rule")


def _serve(commands: _SubParsers) -> None:
    serve = commands.add_parser(
        "serve",
        formatter_class=_Formatter,
        help="run the web side (and a worker without REDIS_URL)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)


def _worker(commands: _SubParsers) -> None:
    worker = commands.add_parser(
        "worker", formatter_class=_Formatter, help="run the Celery worker that reviews MRs"
    )
    worker.add_argument("--concurrency", type=int, default=None, metavar="N")


def _review(commands: _SubParsers) -> None:
    review = commands.add_parser(
        "review",
        formatter_class=_Formatter,
        help="review one MR now (no queue); no arguments: the CI pipeline's MR",
    )
    review.add_argument("project", nargs="?", type=int, metavar="PROJECT")
    review.add_argument("mr_iid", nargs="?", type=int, metavar="MR_IID")


def _version(commands: _SubParsers) -> None:
    commands.add_parser("version", formatter_class=_Formatter, help="print the version")


# Each command's sub-parser, in the order ``layerbot --help`` lists them.
_COMMANDS = {
    "check": _check,
    "rule": _rule,
    "serve": _serve,
    "worker": _worker,
    "review": _review,
    "version": _version,
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone (what ``main`` builds when one is
    named): argparse translates each help text as it is declared, and the other sub-parsers
    would cost ``layerbot check``, started once per file, a millisecond. The sub-parser reads
    and reports alone exactly as within the whole."""
    parser = argparse.ArgumentParser(
        prog="layerbot",
        description="Review Dockerfiles and GitLab CI configs for faster, smaller builds.",
        formatter_class=_Formatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add in _COMMANDS.items():
        if command in (None, name):
            add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        # The reader went away (`layerbot check . | head`): stop quietly, as a shell tool does,
        # and keep the interpreter's final flush from failing the same way (Python docs,
        # "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command a pipe stopped


def _run(argv: Sequence[str]) -> int:
    named = argv[0] if argv and argv[0] in _COMMANDS else None
    parser = build_parser(named)
    args = parser.parse_args(argv)
    if args.command == "version":
        from layerbot import version

        print(f"layerbot {version()}")
        return 0
    if args.command == "check":
        import atexit
        import gc

        from layerbot.check import run_check

        # What a check keeps (parses, answers, caches) is freed with the process. Frozen at
        # exit, it is spared the interpreter's last full collection, ~10 ms after 400 files.
        atexit.register(gc.freeze)
        # A check makes next to no cyclic garbage (a few hundred objects over 400 files):
        # collections while it runs would only walk what it keeps, ~5 ms over 400 files.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return run_check(args)
        finally:
            if collecting:
                gc.enable()
    if args.command == "rule":
        from layerbot.check import run_rule

        return run_rule(args)
    if args.command == "serve":
        from bot.serve import run_serve

        return run_serve(args.host, args.port)
    if args.command == "worker":
        from workers.runner import run_worker

        return run_worker(args.concurrency)
    if args.command == "review":
        from workers.runner import run_review_once

        return run_review_once(args.project, args.mr_iid)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
