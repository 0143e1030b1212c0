"""``layerbot check`` resolves the paths it is given as ``Path.resolve`` does (symlinks,
``..``), looking each folder up once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from layerbot.check import _resolver
from layerbot.cli import main


def _tree(root: Path) -> None:
    (root / ".git").mkdir()
    (root / "real" / "api").mkdir(parents=True)
    (root / "real" / "api" / "Dockerfile").write_text("FROM node\nCOPY . .\n")
    (root / "real" / "api" / "Dockerfile.linked").symlink_to("Dockerfile")
    (root / "linked").symlink_to(root / "real")
    (root / "loop").symlink_to("loop")


def test_resolves_like_path_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path / "real")
    resolve = _resolver()
    for raw in (
        "api/Dockerfile",
        "api/Dockerfile.linked",
        "../linked/api/Dockerfile",
        "../linked/api/../api/Dockerfile.linked",
        str(tmp_path / "linked" / ".." / "real" / "api"),
        "missing/Dockerfile",
        "/",
    ):
        assert resolve(Path(raw)) == Path(raw).resolve(), raw
    assert resolve(tmp_path / "loop") == Path(os.path.realpath(tmp_path / "loop"))


def test_a_file_given_through_a_symlinked_folder_is_reported_at_its_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "json", "linked/api/Dockerfile"]) == 1
    paths = {finding["path"] for finding in json.loads(capsys.readouterr().out)["findings"]}
    assert paths == {"real/api/Dockerfile"}
