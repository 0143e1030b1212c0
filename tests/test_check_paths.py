"""``layerbot check`` reports a file by its real path in the repository, however it was named
on the command line (through a symlinked folder, with ``..``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layerbot.cli import main


def _tree(root: Path) -> None:
    (root / ".git").mkdir()
    (root / "real" / "api").mkdir(parents=True)
    (root / "real" / "api" / "Dockerfile").write_text("FROM node\nCOPY . .\n")
    (root / "linked").symlink_to(root / "real")


@pytest.mark.parametrize("named", ["linked/api/Dockerfile", "linked/../real/api/Dockerfile"])
def test_a_file_is_reported_at_its_real_path(
    named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "json", named]) == 1
    paths = {finding["path"] for finding in json.loads(capsys.readouterr().out)["findings"]}
    assert paths == {"real/api/Dockerfile"}
