"""The files the fixes produce, exactly as ``layerbot check --fix [--unsafe]`` writes them.

The summary's patch and the ``apply`` command both come from here, so what the bot commits is
what the CLI would have written in a checkout, and what the summary shows. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from layerbot.analysis.config import Config
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix, unified_diff
from layerbot.analysis.model import Finding, RepoView, Safety


@dataclass(frozen=True)
class FixedFile:
    path: str
    before: str
    after: str
    new_file: bool
    fixed: tuple[Finding, ...]


def fixed_files(
    sources: Mapping[str, str], repo: RepoView, config: Config, *, unsafe: bool
) -> list[FixedFile]:
    """Every file that changes when the fixes are applied, companions (``.dockerignore``)
    included; a companion is created only when the repository does not have it yet."""
    changed: list[FixedFile] = []
    created: set[str] = set()
    for path in sorted(sources):
        text = sources[path]
        report = analyse_file(path, text, repo, config)
        outcome = fix_file(path, text, repo, config, unsafe=unsafe)
        if outcome.text != text:
            changed.append(FixedFile(path, text, outcome.text, False, tuple(outcome.fixed)))
        for finding in report.findings:
            fix = finding.fix
            if not (fix and fix.creates_file and fix.path):
                continue
            if fix.path in created or repo.exists(fix.path):
                continue
            if unsafe or fix.safety is Safety.SAFE:
                created.add(fix.path)
                changed.append(FixedFile(fix.path, "", apply_fix("", fix), True, (finding,)))
    return changed


def unified_patch(files: list[FixedFile]) -> str:
    """One ``git apply``-able patch of all ``files``."""
    return "".join(
        unified_diff(item.path, item.before, item.after, new_file=item.new_file) for item in files
    )
