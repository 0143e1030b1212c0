"""Shared checks for rule fixtures: load a fixture folder, and prove a fix is sound.

A fixture folder is a build context: a ``Dockerfile`` plus the repository files the rule may
look at; ``expected.fixed`` (when present) is the Dockerfile after the fix. A sound fix's diff
applies with ``git apply --check`` in a scratch repository holding the fixture, the patched
Dockerfile parses, and checking it again does not raise the fixed finding.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from layerbot.analysis import dockerfile
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.fixes import apply_fix, fix_diff
from layerbot.analysis.model import Finding, RepoView

EXPECTED = "expected.fixed"
DOCKERFILE = "Dockerfile"

Check = Callable[[DockerfileContext], Iterable[Finding]]


def load_fixture(directory: Path) -> dict[str, str]:
    """Every file of the fixture folder except the expected output, by relative path."""
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != EXPECTED
    }


def run_check(check: Check, files: dict[str, str], path: str = DOCKERFILE) -> list[Finding]:
    doc = dockerfile.parse(files[path], path)
    return list(check(DockerfileContext.for_file(doc, RepoView.from_files(files))))


def git_apply_check(root: Path, files: dict[str, str], diff: str) -> None:
    """``git apply --check`` of ``diff`` against ``files`` committed in a fresh repository."""
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    patch = root.parent / f"{root.name}.patch"
    patch.write_text(diff)
    result = subprocess.run(
        ["git", "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def assert_fix_is_sound(
    tmp_path: Path, check: Check, files: dict[str, str], finding: Finding, path: str = DOCKERFILE
) -> dict[str, str]:
    """Apply ``finding``'s fix through its diff and return the patched files.

    Fails unless the diff applies, the patched Dockerfile parses, and ``check`` on the
    patched files reports the rule no more (fixtures hold one finding per rule).
    """
    fix = finding.fix
    assert fix is not None
    target = fix.path or path
    diff = fix_diff(path, files[path], fix)
    assert diff.startswith(f"diff --git a/{target} b/{target}\n")
    git_apply_check(tmp_path / "repo", files, diff)
    patched = dict(files)
    patched[target] = apply_fix("" if fix.creates_file else files[target], fix)
    dockerfile.parse(patched[path], path)
    again = [f for f in run_check(check, patched, path) if f.rule == finding.rule]
    assert again == [], [f.message for f in again]
    return patched
