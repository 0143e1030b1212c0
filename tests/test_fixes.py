"""Edits, diffs and suggestions: what a fix turns into must apply with git and patch."""

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerbot.analysis.fixes import apply_edits, apply_fix, as_replacement, fix_diff, overlaps
from layerbot.analysis.model import Edit, Fix, Safety

TEXT = 'FROM alpine:3.20\nRUN apk update\nRUN apk add curl\nCMD ["sh"]\n'


def fix(*edits: Edit, **kwargs: object) -> Fix:
    return Fix("test", Safety.SAFE, edits, **kwargs)  # type: ignore[arg-type]


def git_apply(tmp_path: Path, name: str, before: str | None, diff: str) -> str:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if before is not None:
        target.write_text(before)
    (tmp_path / "fix.diff").write_text(diff)
    subprocess.run(["git", "-C", str(tmp_path), "apply", "--check", "fix.diff"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "apply", "fix.diff"], check=True)
    return target.read_text()


def test_edits_apply_bottom_up_so_line_numbers_stay_valid() -> None:
    lines = TEXT.splitlines()
    result = apply_edits(
        lines, [Edit(2, 3, ("RUN apk add --no-cache curl",)), Edit(1, 0, ("# x",))]
    )
    assert result == ["# x", "FROM alpine:3.20", "RUN apk add --no-cache curl", 'CMD ["sh"]']


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (Edit(2, 3, ()), Edit(3, 4, ()), True),
        (Edit(2, 3, ()), Edit(4, 4, ()), False),
        (Edit(2, 1, ("x",)), Edit(2, 1, ("y",)), True),
        (Edit(2, 1, ("x",)), Edit(2, 3, ()), False),
        (Edit(3, 2, ("x",)), Edit(2, 3, ()), True),
    ],
)
def test_overlap(a: Edit, b: Edit, expected: bool) -> None:
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


def test_diff_applies_with_git_and_patch(tmp_path: Path) -> None:
    change = fix(Edit(2, 3, ("RUN apk add --no-cache curl",)))
    diff = fix_diff("svc/Dockerfile", TEXT, change)
    assert diff.startswith("diff --git a/svc/Dockerfile b/svc/Dockerfile\n--- a/svc/Dockerfile\n")
    assert git_apply(tmp_path / "git", "svc/Dockerfile", TEXT, diff) == apply_fix(TEXT, change)
    if shutil.which("patch"):
        target = tmp_path / "p" / "svc" / "Dockerfile"
        target.parent.mkdir(parents=True)
        target.write_text(TEXT)
        subprocess.run(
            ["patch", "-s", "-p1"], input=diff, text=True, cwd=tmp_path / "p", check=True
        )
        assert target.read_text() == apply_fix(TEXT, change)


def test_diff_of_a_file_without_final_newline_applies(tmp_path: Path) -> None:
    before = TEXT.rstrip("\n")
    change = fix(Edit(4, 4, ('CMD ["/bin/sh"]',)))
    diff = fix_diff("Dockerfile", before, change)
    assert "\\ No newline at end of file" in diff
    assert git_apply(tmp_path, "Dockerfile", before, diff) == before.replace(
        '["sh"]', '["/bin/sh"]'
    )


def test_a_line_an_edit_keeps_is_context_in_the_diff(tmp_path: Path) -> None:
    text = 'FROM alpine:3.20\nRUN apk update\nWORKDIR /app\nRUN apk add curl\nCMD ["sh"]\n'
    # Lines 2-4 rewritten with line 3 kept as it was; line 5 changed by a second edit.
    change = fix(
        Edit(2, 4, ("RUN apk update && apk add curl", "WORKDIR /app", "RUN adduser -D app")),
        Edit(5, 5, ('CMD ["sh", "-l"]',)),
    )
    diff = fix_diff("Dockerfile", text, change)
    body = diff.split("@@\n", 1)[1].splitlines()
    assert body == [
        " FROM alpine:3.20",
        "-RUN apk update",
        "+RUN apk update && apk add curl",
        " WORKDIR /app",
        "-RUN apk add curl",
        '-CMD ["sh"]',
        "+RUN adduser -D app",
        '+CMD ["sh", "-l"]',
    ]
    assert git_apply(tmp_path, "Dockerfile", text, diff) == apply_fix(text, change)


def test_new_companion_file_diff_creates_it(tmp_path: Path) -> None:
    change = fix(Edit(1, 0, (".git", "node_modules")), path=".dockerignore", creates_file=True)
    diff = fix_diff("Dockerfile", TEXT, change)
    assert "new file mode 100644" in diff and "--- /dev/null" in diff
    assert git_apply(tmp_path, ".dockerignore", None, diff) == ".git\nnode_modules\n"
    assert as_replacement(TEXT, change) is None


def test_replacement_of_whole_lines() -> None:
    replacement = as_replacement(TEXT, fix(Edit(2, 3, ("RUN apk add --no-cache curl",))))
    assert replacement is not None
    assert (replacement.start_line, replacement.end_line) == (2, 3)
    assert replacement.lines == ("RUN apk add --no-cache curl",)


def test_insertion_widens_to_the_following_line_for_a_suggestion() -> None:
    replacement = as_replacement(TEXT, fix(Edit(2, 1, ("WORKDIR /app",))))
    assert replacement is not None
    assert (replacement.start_line, replacement.end_line) == (2, 2)
    assert replacement.lines == ("WORKDIR /app", "RUN apk update")


def test_insertion_at_the_end_widens_to_the_last_line() -> None:
    replacement = as_replacement(TEXT, fix(Edit(5, 4, ("USER 1000",))))
    assert replacement is not None
    assert (replacement.start_line, replacement.end_line) == (4, 4)
    assert replacement.lines == ('CMD ["sh"]', "USER 1000")


def test_two_separate_edits_are_no_single_suggestion() -> None:
    assert as_replacement(TEXT, fix(Edit(1, 1, ("FROM alpine:3.21",)), Edit(4, 4, ()))) is None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.sampled_from(["RUN a", "RUN b", "", "# c", "COPY . ."]), min_size=1, max_size=30
    ),
    final_newline=st.booleans(),
    data=st.data(),
)
def test_diffs_built_from_edits_apply_with_git(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[str],
    final_newline: bool,
    data: st.DataObject,
) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    count = len(text.splitlines())
    edits: list[Edit] = []
    cursor = 1
    while cursor <= count + 1 and len(edits) < 3:
        start = data.draw(st.integers(cursor, count + 1))
        end = data.draw(st.integers(start - 1, count))
        # "RUN a" and "" are lines the file may have too: the diff shows kept ones as context
        kinds = st.sampled_from(["RUN x", "ENV y=1", "RUN a", ""])
        new = tuple(data.draw(st.lists(kinds, max_size=3)))
        edits.append(Edit(start, end, new))
        cursor = max(start, end) + 2
    change = fix(*edits)
    expected = apply_fix(text, change)
    diff = fix_diff("Dockerfile", text, change)
    if expected == text:
        assert diff == ""
        return
    assert git_apply(tmp_path_factory.mktemp("repo"), "Dockerfile", text, diff) == expected
