"""GitLab-style file diffs between two repository trees.

GitLab's `diff` field is a unified diff without the `---`/`+++` header, three lines of context,
and `\\ No newline at end of file` markers. The same walk records which (old_line, new_line)
pairs the diff shows, because GitLab only accepts diff-note positions on those lines.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

Tree = dict[str, str | bytes]

# Gitlab::Git::Diff limits: above SIZE_LIMIT a file's diff is dropped (`too_large`), above
# COLLAPSE_LIMIT it is collapsed; in both cases the API answers an empty `diff`.
SIZE_LIMIT = 100 * 1024
COLLAPSE_LIMIT = 10 * 1024
CONTEXT_LINES = 3
NO_NEWLINE = "\\ No newline at end of file\n"


@dataclass(frozen=True)
class FileDiff:
    """One changed file of a merge request diff, with the lines a diff note may point at."""

    old_path: str
    new_path: str
    new_file: bool
    deleted_file: bool
    renamed_file: bool
    diff: str
    binary: bool
    # (old_line, new_line): context lines have both, added lines (None, n), removed (n, None).
    positions: frozenset[tuple[int | None, int | None]]

    @property
    def too_large(self) -> bool:
        return len(self.diff.encode()) > SIZE_LIMIT

    @property
    def collapsed(self) -> bool:
        return not self.too_large and len(self.diff.encode()) > COLLAPSE_LIMIT


def as_text(content: str | bytes) -> str | None:
    """The file's text, or None for binary content (not UTF-8 or containing NUL)."""
    if isinstance(content, str):
        return content
    if b"\0" in content:
        return None
    try:
        return content.decode()
    except UnicodeDecodeError:
        return None


def _range(start: int, stop: int) -> str:
    """Hunk range exactly as `diff -u` (and difflib) prints it."""
    beginning = start + 1
    length = stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def _line(prefix: str, text: str) -> str:
    if text.endswith("\n"):
        return prefix + text
    return prefix + text + "\n" + NO_NEWLINE


def hunks(old: str, new: str) -> tuple[str, frozenset[tuple[int | None, int | None]]]:
    """The unified diff body of `old` -> `new` and the (old_line, new_line) pairs it shows."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    out: list[str] = []
    positions: set[tuple[int | None, int | None]] = set()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                for offset in range(a2 - a1):
                    out.append(_line(" ", a[a1 + offset]))
                    positions.add((a1 + offset + 1, b1 + offset + 1))
                continue
            for index in range(a1, a2):
                out.append(_line("-", a[index]))
                positions.add((index + 1, None))
            for index in range(b1, b2):
                out.append(_line("+", b[index]))
                positions.add((None, index + 1))
    return "".join(out), frozenset(positions)


def file_diff(
    old_path: str, new_path: str, old: str | bytes | None, new: str | bytes | None
) -> FileDiff:
    """The diff of one file; `old`/`new` is None when the file is added/deleted."""
    old_text = "" if old is None else as_text(old)
    new_text = "" if new is None else as_text(new)
    renamed = old is not None and new is not None and old_path != new_path
    if old_text is None or new_text is None:
        body = f"Binary files a/{old_path} and b/{new_path} differ\n"
        return FileDiff(
            old_path, new_path, old is None, new is None, renamed, body, True, frozenset()
        )
    body, positions = hunks(old_text, new_text)
    return FileDiff(old_path, new_path, old is None, new is None, renamed, body, False, positions)


def tree_diff(before: Tree, after: Tree) -> list[FileDiff]:
    """Changed files between two trees, sorted by path; identical content moves are renames."""
    removed = {path: before[path] for path in before.keys() - after.keys()}
    added = {path: after[path] for path in after.keys() - before.keys()}
    diffs: list[FileDiff] = []
    for new_path in sorted(added):
        source = next((p for p in sorted(removed) if removed[p] == added[new_path]), None)
        if source is not None:
            del removed[source]
            diffs.append(file_diff(source, new_path, before[source], after[new_path]))
        else:
            diffs.append(file_diff(new_path, new_path, None, after[new_path]))
    for path in sorted(removed):
        diffs.append(file_diff(path, path, before[path], None))
    for path in sorted(before.keys() & after.keys()):
        if before[path] != after[path]:
            diffs.append(file_diff(path, path, before[path], after[path]))
    return sorted(diffs, key=lambda d: d.new_path)
