"""Bad CI files give one clear finding or note for that file only, in bounded time and memory.

The bounds: files over 2 MB are refused before parsing; anchors may expand to at most
MAX_EXPANDED_NODES values (counted without expanding them); includes at most MAX_INCLUDES
files, MAX_INCLUDE_DEPTH deep; nothing outside the repository is ever fetched.
"""

from __future__ import annotations

from layerbot.analysis.ci_config import MAX_INCLUDE_DEPTH, MAX_INCLUDES
from layerbot.analysis.engine import INVALID_FILE, analyse, analyse_file
from layerbot.analysis.model import RepoView

CI = ".gitlab-ci.yml"
GOOD_DOCKERFILE = "FROM golang:latest\nRUN go build .\n"
NAIVE_JOB = (
    "build:\n"
    "  image: docker:24.0.5\n"
    "  script:\n"
    "    - docker build -t $CI_REGISTRY_IMAGE:latest .\n"
    "    - docker push $CI_REGISTRY_IMAGE:latest\n"
)


def only_finding(text: str | bytes, files: dict[str, str] | None = None) -> str:
    report = analyse_file(CI, text, RepoView.from_files({CI: "", **(files or {})}))
    assert [f.rule for f in report.findings] == [INVALID_FILE]
    return report.findings[0].message


def test_invalid_yaml_is_one_invalid_file_finding_with_its_line() -> None:
    report = analyse_file(CI, "build:\n  script: [a\n  image: b\n", RepoView.from_files({}))
    assert [(f.rule, f.path) for f in report.findings] == [(INVALID_FILE, CI)]
    assert report.findings[0].line >= 2
    assert "not valid YAML" in report.findings[0].message


def test_billion_laughs_is_refused_within_the_expansion_bound() -> None:
    """Ten levels of ten aliases (10**10 strings if expanded) are refused after counting
    each of the ~100 distinct nodes once."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 11):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 10) + "]")
    assert "alias bomb" in only_finding("\n".join(lines) + "\n")


def test_a_10_mb_file_is_refused_before_parsing_within_the_2_mb_bound() -> None:
    big = ("# padding\n" * 1_100_000).encode()
    assert len(big) > 10_000_000
    assert "limit" in only_finding(big)


def test_an_include_cycle_is_one_finding_on_the_include_line() -> None:
    files = {"ci/a.yml": "include: ci/b.yml\n", "ci/b.yml": "include: ci/a.yml\n"}
    message = only_finding("include:\n  - local: ci/a.yml\n", files)
    assert "include cycle: .gitlab-ci.yml -> ci/a.yml -> ci/b.yml -> ci/a.yml" in message


def test_a_long_include_chain_stops_at_the_depth_bound() -> None:
    files = {f"ci/{n}.yml": f"include: ci/{n + 1}.yml\n" for n in range(MAX_INCLUDE_DEPTH + 5)}
    assert "nested over" in only_finding("include: ci/0.yml\n", files)
    assert MAX_INCLUDES >= MAX_INCLUDE_DEPTH


def test_a_remote_include_is_a_note_and_the_rest_is_still_analysed() -> None:
    text = "include:\n  - remote: https://example.invalid/ci.yml\n" + NAIVE_JOB
    report = analyse_file(CI, text, RepoView.from_files({CI: text}))
    assert [note.message for note in report.notes] == [
        "line 2: include remote: https://example.invalid/ci.yml was not analysed "
        "(layerbot never fetches configuration from outside the repository)"
    ]
    assert [f.rule for f in report.findings] == ["ci-cache-from"]


def test_a_bad_ci_file_never_aborts_the_other_files() -> None:
    files = {
        CI: "a: &a [*a]\n",
        "Dockerfile": GOOD_DOCKERFILE,
        "services/api/.gitlab-ci.yml": NAIVE_JOB,
    }
    result = analyse(files, RepoView.from_files(files))
    by_path = {(f.path, f.rule) for f in result.findings}
    assert (CI, INVALID_FILE) in by_path
    assert ("services/api/.gitlab-ci.yml", "ci-cache-from") in by_path
    assert any(path == "Dockerfile" for path, _ in by_path)
    assert result.files == 3


def test_a_binary_file_is_refused() -> None:
    assert "binary" in only_finding(b"\x00\x01build:")


def test_a_top_level_list_is_refused() -> None:
    assert "mapping" in only_finding("- a\n- b\n")


def test_an_extends_fan_out_is_resolved_once_per_job_not_once_per_path() -> None:
    """Ten levels each extending the level below ten times would be 10**10 merges without
    memoising; each hidden job is resolved once."""
    lines = [".l0:\n  image: docker:24.0.5\n  script: [docker build -t x .]\n"]
    for level in range(1, 10):
        parents = ", ".join([f".l{level - 1}"] * 10)
        lines.append(f".l{level}:\n  extends: [{parents}]\n")
    lines.append("build:\n  extends: .l9\n")
    report = analyse_file(CI, "".join(lines), RepoView.from_files({}))
    assert [f.rule for f in report.findings] == ["ci-cache-from"]


def test_a_reference_fan_out_is_refused_within_the_expansion_bound() -> None:
    """Ten levels of ten `!reference`s to the level below would be a script of 10**10 lines."""
    lines = [".r0:\n  script: [echo hi]\n"]
    for level in range(1, 11):
        refs = ", ".join([f"!reference [.r{level - 1}, script]"] * 10)
        lines.append(f".r{level}:\n  script: [{refs}]\n")
    lines.append("build:\n  script: [!reference [.r10, script]]\n")
    assert "!reference" in only_finding("".join(lines))
