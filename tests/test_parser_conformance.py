"""Every Dockerfile shape BuildKit's parser tests exercise, in our own small files
(``tests/parser_conformance/``): what BuildKit builds is analysed, what it refuses is reported."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from layerbot.analysis.dockerfile import DockerfileError, parse
from layerbot.analysis.engine import INVALID_FILE, analyse_file
from layerbot.analysis.model import RepoView

CASES = Path(__file__).parent / "parser_conformance"
NAMES = sorted(path.name for path in CASES.iterdir() if path.is_dir())


def _case(name: str) -> tuple[str, dict[str, Any]]:
    folder = CASES / name
    text = (folder / "Dockerfile").read_bytes().decode("utf-8")
    return text, tomllib.loads((folder / "expected.toml").read_text())


def _invalid_findings(text: str) -> list[tuple[int, str]]:
    report = analyse_file("Dockerfile", text, RepoView.from_files({"Dockerfile": text}))
    return [(f.line, f.message) for f in report.findings if f.rule == INVALID_FILE]


def test_there_are_valid_and_invalid_cases() -> None:
    verdicts = [_case(name)[1]["valid"] for name in NAMES]
    assert verdicts.count(True) >= 50 and verdicts.count(False) >= 25


@pytest.mark.parametrize("name", NAMES)
def test_case(name: str) -> None:
    text, expected = _case(name)
    if not expected["valid"]:
        with pytest.raises(DockerfileError) as raised:
            parse(text)
        assert expected["reason"] in str(raised.value)
        assert raised.value.line == expected["line"]
        assert [line for line, _ in _invalid_findings(text)] == [expected["line"]]
        return
    assert _invalid_findings(text) == []
    doc = parse(text)
    if "instructions" in expected:
        spans = [[i.keyword, i.line, i.end_line] for i in doc.instructions]
        assert spans == expected["instructions"]
    if "heredocs" in expected:
        heredocs = [[i.line, h.name, h.body] for i in doc.instructions for h in i.heredocs]
        assert heredocs == expected["heredocs"]
    for line, value in expected.get("values", []):
        [instruction] = [i for i in doc.instructions if i.line == line]
        assert instruction.value == value
