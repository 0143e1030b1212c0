"""Which files layerbot analyses, by name."""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path

DOCKERFILE = "dockerfile"
GITLAB_CI = "gitlab-ci"

_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "vendor", "target"}


def file_kind(path: str) -> str | None:
    """``dockerfile``, ``gitlab-ci`` or ``None`` for a file we do not analyse."""
    name = posixpath.basename(path)
    lowered = name.lower()
    if lowered in {"dockerfile", "containerfile"}:
        return DOCKERFILE
    if lowered.startswith(("dockerfile.", "containerfile.")) or lowered.endswith(
        (".dockerfile", ".containerfile")
    ):
        return DOCKERFILE
    if name in {".gitlab-ci.yml", ".gitlab-ci.yaml"}:
        return GITLAB_CI
    return None


def discover(root: Path) -> Iterator[Path]:
    """Analysable files under ``root`` in a stable order, skipping dependency folders."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if file_kind(name) is not None:
                yield Path(directory, name)


def matches_any(path: str, patterns: list[str]) -> bool:
    """Glob match on the repository path; ``dir/**`` covers everything below ``dir``."""
    for pattern in patterns:
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.rstrip("/") + "/*"):
            return True
        if pattern.endswith("/**") and path.startswith(pattern[:-3].rstrip("/") + "/"):
            return True
    return False
