"""The engine: suppression, configuration, invalid files and the fix loop."""

import pytest

from layerbot.analysis.config import Config, ConfigError, parse_config
from layerbot.analysis.engine import INVALID_FILE, analyse, analyse_file, fix_file
from layerbot.analysis.model import RepoView, Severity

REPO = RepoView.from_files(
    {"go.mod": "module m\n\ngo 1.22\n", "svc/go.mod": "module s\n\ngo 1.21\n"}
)
LATEST = "FROM golang:latest\nWORKDIR /app\n"


def rules_of(text: str, config: Config | None = None, path: str = "Dockerfile") -> list[str]:
    return [f.rule for f in analyse_file(path, text, REPO, config).findings]


def test_finding_is_reported_without_suppression() -> None:
    assert "pin-base-image" in rules_of(LATEST)


def test_inline_ignore_above_the_instruction() -> None:
    text = "# layerbot ignore=pin-base-image, merge-runs\n" + LATEST
    assert "pin-base-image" not in rules_of(text)


def test_inline_ignore_for_another_rule_does_not_silence() -> None:
    assert "pin-base-image" in rules_of("# layerbot ignore=merge-runs\n" + LATEST)


def test_inline_ignore_covers_only_the_next_instruction() -> None:
    text = "# layerbot ignore=pin-base-image\nFROM golang:latest AS a\nFROM golang:latest\n"
    findings = [
        f for f in analyse_file("Dockerfile", text, REPO).findings if f.rule == "pin-base-image"
    ]
    assert [f.line for f in findings] == [3]


@pytest.mark.parametrize(
    "comment", ["# layerbot ignore-file=pin-base-image", "# layerbot ignore-file"]
)
def test_file_wide_ignore(comment: str) -> None:
    assert "pin-base-image" not in rules_of(LATEST + comment + "\n")


def test_config_disables_and_changes_severity() -> None:
    config = parse_config("severity:\n  pin-base-image: critical\n")
    [pin] = [
        f
        for f in analyse_file("Dockerfile", LATEST, REPO, config).findings
        if f.rule == "pin-base-image"
    ]
    assert pin.severity is Severity.CRITICAL
    assert "pin-base-image" not in rules_of(LATEST, parse_config("disable: [pin-base-image]\n"))


def test_config_excludes_paths() -> None:
    config = parse_config("exclude: ['vendor/**']\n")
    assert rules_of(LATEST, config, path="vendor/x/Dockerfile") == []
    assert "pin-base-image" in rules_of(LATEST, config, path="svc/Dockerfile")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("disable: merge-runs: x\n", "not valid YAML"),
        ("- a\n", "must be a mapping"),
        ("severity: {pin-base-image: huge}\n", "must be one of info, minor, major, critical"),
        ("colour: red\n", "unknown key(s) colour"),
        ("disable: [1, 2]\n", "'disable' must be a list of strings"),
    ],
)
def test_bad_config_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(text)


def test_a_broken_file_is_a_finding_for_that_file_and_others_go_on() -> None:
    result = analyse(
        {"a/Dockerfile": b"\xff\xfe", "svc/Dockerfile": LATEST, "README.md": "x"}, REPO
    )
    assert result.files == 2
    broken = [f for f in result.findings if f.path == "a/Dockerfile"]
    assert [f.rule for f in broken] == [INVALID_FILE]
    assert "not UTF-8" in broken[0].message
    assert any(f.path == "svc/Dockerfile" and f.rule == "pin-base-image" for f in result.findings)


def test_build_context_decides_which_go_mod_pins_the_image() -> None:
    root = fix_file("svc/Dockerfile", LATEST, REPO, unsafe=True, context_dir="").text
    own = fix_file("svc/Dockerfile", LATEST, REPO, unsafe=True).text
    assert root.startswith("FROM golang:1.22\n")
    assert own.startswith("FROM golang:1.21\n")


def test_review_fixes_need_unsafe() -> None:
    outcome = fix_file("Dockerfile", LATEST, REPO)
    assert "pin-base-image" not in [f.rule for f in outcome.fixed]
    assert outcome.text.startswith("FROM golang:latest")
    unsafe = fix_file("Dockerfile", LATEST, REPO, unsafe=True)
    assert "pin-base-image" in [f.rule for f in unsafe.fixed]
    assert "pin-base-image" not in [f.rule for f in unsafe.remaining]


@pytest.mark.parametrize(("char", "line"), [("\x0b", 2), ("\r", 2), ("\u2028", 2), ("\x85", 2)])
def test_stray_line_separators_are_refused_not_misnumbered(char: str, line: int) -> None:
    text = f"FROM alpine:3.20\nRUN echo a{char}b\nCMD x\n"
    [finding] = analyse_file("Dockerfile", text, REPO).findings
    assert finding.rule == INVALID_FILE
    assert finding.line == line
    assert f"U+{ord(char):04X}" in finding.message


def test_windows_line_endings_are_fine() -> None:
    assert "pin-base-image" in rules_of(LATEST.replace("\n", "\r\n"))
