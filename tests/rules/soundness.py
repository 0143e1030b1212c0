"""Proof that a fix is sound, shared by the case runner and the shape tests: its diff applies
with ``git apply --check`` to the repository it was made for, the patched Dockerfile parses,
and the rule has nothing more to say about it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from layerbot.analysis import dockerfile
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.fixes import apply_fix, fix_diff
from layerbot.analysis.model import Finding, RepoView

Check = Callable[[DockerfileContext], Iterable[Finding]]


def run_check(check: Check, files: dict[str, str], path: str = "Dockerfile") -> list[Finding]:
    """One rule's findings on ``files[path]``, the other files being its repository."""
    doc = dockerfile.parse(files[path], path)
    return list(check(DockerfileContext.for_file(doc, RepoView.from_files(files))))


def git_apply_check(root: Path, files: dict[str, str], diffs: Iterable[str]) -> None:
    """Each diff applies on its own (``git apply --check`` changes nothing) to ``files``."""
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for number, diff in enumerate(diffs):
        patch = root.parent / f"{root.name}-{number}.patch"
        patch.write_text(diff)
        result = subprocess.run(
            ["git", "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


def assert_fix_is_sound(
    tmp_path: Path, check: Check, files: dict[str, str], finding: Finding, path: str = "Dockerfile"
) -> dict[str, str]:
    """Apply ``finding``'s fix through its diff and return the patched files; fails unless the
    diff applies, the patched Dockerfile parses and ``check`` no longer reports the rule."""
    fix = finding.fix
    assert fix is not None
    target = fix.path or path
    diff = fix_diff(path, files[path], fix)
    assert diff.startswith(f"diff --git a/{target} b/{target}\n")
    git_apply_check(tmp_path / "repo", files, [diff])
    patched = dict(files)
    patched[target] = apply_fix("" if fix.creates_file else files[target], fix)
    dockerfile.parse(patched[path], path)
    again = [f for f in run_check(check, patched, path) if f.rule == finding.rule]
    assert again == [], [f.message for f in again]
    return patched
