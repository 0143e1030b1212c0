"""Rule documentation from the rule docstrings: ``python -m layerbot.docs [--check] [DIR]``.

The docstring is the single source: ``layerbot rule NAME`` prints :func:`rule_markdown`,
``docs/rules/NAME.md`` holds exactly the same text, and the README's rule list (between its
``rules`` markers) has one line per rule linking that page; this module regenerates both.
``--check`` exits 1 when either has drifted from the docstrings.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from layerbot.analysis.model import FixAvailability
from layerbot.analysis.rules import Rule, all_rules

DEFAULT_DIR = Path("docs/rules")
README = Path("README.md")
REQUIRED_SECTIONS = (
    "What it does",
    "Why it matters",
    "Example",
    "Use instead",
    "Fix safety",
    "References",
)
_TARGETS = {"dockerfile": "Dockerfiles", "gitlab-ci": "`.gitlab-ci.yml`"}


def module_name(rule_name: str) -> str:
    return rule_name.replace("-", "_")


def fix_line(rule: Rule) -> str:
    """Whether the rule's findings come with a fix, and what the fix does."""
    if rule.fix_availability is FixAvailability.NEVER:
        return "Fix: never available."
    return f"Fix: {rule.fix_availability.value} available ({rule.fix_title})."


def rule_markdown(rule: Rule) -> str:
    """The rule's page: its name, severity, target and fix, then the docstring as written."""
    source = f"layerbot/analysis/rules/{module_name(rule.name)}.py"
    return (
        f"# {rule.name}\n\n"
        f"<!-- Generated from the docstring of {source} by `python -m layerbot.docs`. -->\n\n"
        f"Default severity: **{rule.severity.value}**. "
        f"Checks {_TARGETS.get(rule.target, rule.target)}. {fix_line(rule)}\n\n"
        f"{inspect.cleandoc(rule.doc)}\n"
    )


def rule_listing(rules: Iterable[Rule]) -> str:
    """One line per rule: name, default severity, target and summary (``layerbot rule --all``)."""
    return "\n".join(
        f"{rule.name:26} {rule.severity.value:8} {rule.target:10} {rule.summary}" for rule in rules
    )


def readme_rule_list(rules: Iterable[Rule], directory: str = "docs/rules") -> str:
    """The README's rule list: one line per rule, linking its page."""
    return "\n".join(
        f"- [`{rule.name}`]({directory}/{rule.name}.md) ({rule.severity.value}): {rule.summary}"
        for rule in rules
    )


def replace_between(text: str, marker: str, content: str) -> str:
    """``text`` with what lies between ``<!-- marker:start -->`` and ``<!-- marker:end -->``
    replaced by ``content``; the markers must be there, once each."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"expected one {start} ... {end} block")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


def missing_sections(rule: Rule) -> list[str]:
    """The required ``## Section`` headings the rule's docstring lacks, in the expected order."""
    headings = [
        line[3:].strip()
        for line in inspect.cleandoc(rule.doc).splitlines()
        if line.startswith("## ")
    ]
    return [section for section in REQUIRED_SECTIONS if section not in headings]


def expected_pages(rules: Iterable[Rule]) -> dict[str, str]:
    """File name to content for every registered rule."""
    return {f"{rule.name}.md": rule_markdown(rule) for rule in rules}


def drift(directory: Path, rules: Iterable[Rule]) -> list[str]:
    """What differs between ``directory`` and the docstrings, one line per page."""
    expected = expected_pages(rules)
    present = {path.name for path in directory.glob("*.md")} if directory.is_dir() else set()
    problems = [f"{name}: missing" for name in sorted(expected.keys() - present)]
    problems += [f"{name}: no such rule (stale page)" for name in sorted(present - expected.keys())]
    problems += [
        f"{name}: differs from the docstring"
        for name in sorted(expected.keys() & present)
        if (directory / name).read_text(encoding="utf-8") != expected[name]
    ]
    return problems


def write_pages(directory: Path, rules: Iterable[Rule]) -> list[Path]:
    """Write every rule's page and delete pages of rules that no longer exist."""
    expected = expected_pages(rules)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.md"):
        if stale.name not in expected:
            stale.unlink()
    written = []
    for name, content in expected.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layerbot.docs", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="report drift, write nothing")
    parser.add_argument("--readme", type=Path, default=README, help="README to update")
    args = parser.parse_args(argv)
    rules = list(all_rules().values())
    readme = args.readme.read_text(encoding="utf-8") if args.readme.is_file() else ""
    listed = replace_between(readme, "rules", readme_rule_list(rules)) if readme else ""
    if args.check:
        problems = [f"{args.directory}/{problem}" for problem in drift(args.directory, rules)]
        if listed != readme:
            problems.append(f"{args.readme}: the rule list differs from the registered rules")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path in write_pages(args.directory, rules):
        print(f"wrote {path}")
    if listed != readme:
        args.readme.write_text(listed, encoding="utf-8")
        print(f"wrote {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
