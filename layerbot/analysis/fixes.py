"""Turning fixes into text: applied edits, unified diffs and contiguous replacements.

A fix is a set of line edits. From it we derive the unified diff (``git apply`` / ``patch -p1``)
and, when the change is one contiguous run of whole lines, the range and new lines that the bot
turns into a GitLab suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from layerbot.analysis.model import Edit, Fix, InputError
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# Characters Python's splitlines() (and YAML) take as line breaks but Docker does not: a file
# holding one would be numbered two ways, and a fix could cut an instruction in two. One
# alternative per character, each opening with it: the search then skips to those characters.
_STRAY_BREAKS = re.compile("\r(?!\n)|\x0b|\x0c|\x1c|\x1d|\x1e|\x85|\u2028|\u2029")


def check_line_breaks(text: str) -> None:
    """Refuse text with line separators other than LF and CRLF (:class:`InputError`)."""
    stray = _STRAY_BREAKS.search(text)
    if stray:
        line = text.count("\n", 0, stray.start()) + 1
        raise InputError(
            f"line {line} holds a stray line-separator character (U+{ord(stray.group()):04X}) "
            "that tools disagree on; replace it with a newline or remove it",
            line,
        )


def split_lines(text: str) -> list[str]:
    """Lines without their terminators; a final newline does not make an extra empty line."""
    return text.splitlines()


@lru_cache(maxsize=16)
def source_lines(text: str) -> tuple[str, ...]:
    """A file's lines (as :func:`split_lines`), split once for all the findings that read them:
    a report on a file with 20,000 findings must not split it 20,000 times."""
    return tuple(text.splitlines())


def join_lines(lines: Iterable[str], trailing_newline: bool = True) -> str:
    """Lines back into text; no lines is an empty file, one empty line is ``"\\n"``."""
    lines = list(lines)
    body = "\n".join(lines)
    return body + "\n" if trailing_newline and lines else body


def overlaps(a: Edit, b: Edit) -> bool:
    """Whether two edits touch the same lines (two insertions at one spot also collide)."""
    a_lo, a_hi = a.start_line, max(a.end_line, a.start_line - 1)
    b_lo, b_hi = b.start_line, max(b.end_line, b.start_line - 1)
    if a.is_insertion and b.is_insertion:
        return a.start_line == b.start_line
    if a.is_insertion:
        return b_lo < a.start_line <= b_hi
    if b.is_insertion:
        return a_lo < b.start_line <= a_hi
    return a_lo <= b_hi and b_lo <= a_hi


def apply_edits(lines: list[str], edits: Iterable[Edit]) -> list[str]:
    """Apply non-overlapping edits; later lines first so earlier line numbers stay valid."""
    result = list(lines)
    for edit in sorted(edits, key=lambda e: (e.start_line, e.end_line), reverse=True):
        result[edit.start_line - 1 : max(edit.end_line, edit.start_line - 1)] = edit.new_lines
    return result


def apply_fix(text: str, fix: Fix) -> str:
    original = "" if fix.creates_file else text
    trailing = original.endswith("\n") or not original
    return join_lines(apply_edits(split_lines(original), fix.edits), trailing)


def unified_diff(path: str, before: str, after: str, *, new_file: bool = False) -> str:
    """A ``git apply``-able diff with ``a/`` and ``b/`` prefixes ('' when nothing changed)."""
    if before == after:
        return ""
    before_lines = before.splitlines(keepends=True)
    after_lines = after.splitlines(keepends=True)
    for lines in (before_lines, after_lines):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n\\ No newline at end of file\n"
    header_from = "/dev/null" if new_file else f"a/{path}"
    import difflib  # only runs that show diffs need it

    diff = difflib.unified_diff(
        before_lines, after_lines, fromfile=header_from, tofile=f"b/{path}", n=3
    )
    text = "".join(diff)
    if new_file:
        text = f"diff --git a/{path} b/{path}\nnew file mode 100644\n" + text
    else:
        text = f"diff --git a/{path} b/{path}\n" + text
    return text


CONTEXT_LINES = 3


def fix_diff(path: str, text: str, fix: Fix) -> str:
    """The fix as a unified diff; built from its edits, so its cost does not grow with the file."""
    target = fix.path or path
    if fix.creates_file:
        return unified_diff(target, "", apply_fix(text, fix), new_file=True)
    old = _lines_with_ends(text)
    ends_with_newline = text.endswith("\n") or not text  # as apply_fix writes it
    hunks = _hunks(old, sorted(fix.edits, key=lambda e: e.start_line), ends_with_newline)
    if not hunks:
        return ""
    return f"diff --git a/{target} b/{target}\n--- a/{target}\n+++ b/{target}\n" + "".join(hunks)


@lru_cache(maxsize=16)
def _lines_with_ends(text: str) -> tuple[str, ...]:
    """A file's lines, split once for all the fixes of its findings."""
    return tuple(text.splitlines(keepends=True))


def _line(marker: str, line: str) -> str:
    return (
        marker + line if line.endswith("\n") else f"{marker}{line}\n\\ No newline at end of file\n"
    )


def _hunks(old: tuple[str, ...], edits: list[Edit], ends_with_newline: bool) -> list[str]:
    """Hunks with three lines of context; edits closer than that share one hunk."""
    groups: list[list[Edit]] = []
    for edit in edits:
        start = edit.start_line - 1
        if groups and start - _old_end(groups[-1][-1]) <= 2 * CONTEXT_LINES:
            groups[-1].append(edit)
        else:
            groups.append([edit])
    hunks, shift = [], 0
    for group in groups:
        first = max(0, group[0].start_line - 1 - CONTEXT_LINES)
        last = min(len(old), _old_end(group[-1]) + CONTEXT_LINES)
        new, cursor = [], first
        for edit in group:
            new += [*old[cursor : edit.start_line - 1], *(line + "\n" for line in edit.new_lines)]
            cursor = _old_end(edit)
        new += old[cursor:last]
        new = [line if line.endswith("\n") else line + "\n" for line in new]
        if last == len(old) and not ends_with_newline and new:
            new[-1] = new[-1].removesuffix("\n")  # the file's last line still has no newline
        hunk = _hunk(old[first:last], new, first, shift)
        if hunk:
            hunks.append(hunk)
            shift += len(new) - (last - first)
    return hunks


def _hunk(old: Sequence[str], new: list[str], first: int, shift: int) -> str:
    """One hunk: the common lines at both ends are context, the middle is replaced."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    if head == len(old) == len(new):
        return ""
    body = [_line(" ", line) for line in old[:head]]
    body += _changed(old[head : len(old) - tail], new[head : len(new) - tail])
    body += [_line(" ", line) for line in old[len(old) - tail :]]
    old_start = first + 1 if old else first
    new_start = first + shift + 1 if new else first + shift
    return f"@@ -{old_start},{len(old)} +{new_start},{len(new)} @@\n" + "".join(body)


# Above this many line pairs, the changed middle of a hunk is shown as a plain replacement.
_MATCHED_PAIRS = 40_000


def _changed(old: Sequence[str], new: Sequence[str]) -> list[str]:
    """The middle of a hunk, the lines both sides keep (a longest common subsequence) shown as
    context between the removed and the added ones: two edits of one hunk, or an edit that
    rewrites a block but keeps some of its lines, do not show those lines as changed."""
    if not old or not new or len(old) * len(new) > _MATCHED_PAIRS:
        return [_line("-", line) for line in old] + [_line("+", line) for line in new]
    # kept[i][j]: how many lines old[i:] and new[j:] have in common, in order.
    kept = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(len(old) - 1, -1, -1):
        for j in range(len(new) - 1, -1, -1):
            same = old[i] == new[j]
            kept[i][j] = kept[i + 1][j + 1] + 1 if same else max(kept[i + 1][j], kept[i][j + 1])
    body: list[str] = []
    removed: list[str] = []
    added: list[str] = []
    i = j = 0
    while i < len(old) or j < len(new):
        if i < len(old) and j < len(new) and old[i] == new[j]:
            body += removed + added + [_line(" ", old[i])]
            removed, added = [], []
            i, j = i + 1, j + 1
        elif j < len(new) and (i == len(old) or kept[i][j + 1] >= kept[i + 1][j]):
            added.append(_line("+", new[j]))
            j += 1
        else:
            removed.append(_line("-", old[i]))
            i += 1
    return body + removed + added


def _old_end(edit: Edit) -> int:
    """0-based index just past the old lines ``edit`` replaces."""
    return max(edit.end_line, edit.start_line - 1)


class Replacement(Record):
    """Whole lines ``start_line..end_line`` of the original become ``lines``."""

    __slots__ = ("end_line", "lines", "start_line")

    def __init__(self, start_line: int, end_line: int, lines: tuple[str, ...]) -> None:
        self.start_line: Final = start_line
        self.end_line: Final = end_line
        self.lines: Final = lines


def as_replacement(text: str, fix: Fix) -> Replacement | None:
    """The fix as one contiguous replacement of existing lines, or ``None``.

    A pure insertion is widened to the line after it (or before, at the end of the file), so
    every replacement covers at least one existing line, as a GitLab suggestion must.
    """
    if fix.creates_file or (fix.path is not None and not fix.edits) or len(fix.edits) != 1:
        return None
    edit = fix.edits[0]
    lines = source_lines(text)
    if not edit.is_insertion:
        return Replacement(edit.start_line, edit.end_line, edit.new_lines)
    if edit.start_line <= len(lines):
        anchor = lines[edit.start_line - 1]
        return Replacement(edit.start_line, edit.start_line, (*edit.new_lines, anchor))
    if lines:
        return Replacement(len(lines), len(lines), (lines[-1], *edit.new_lines))
    return None
