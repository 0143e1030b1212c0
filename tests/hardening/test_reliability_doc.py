"""``docs/reliability.md`` shows the recorded figures and names tests that exist."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.hardening.figures import DOC, RESULTS, ROOT, TEMPLATE, render


@pytest.mark.skipif(
    os.environ.get("LAYERBOT_RECORD_FIGURES") == "1",
    reason="figures are being recorded in this run; render the page after it",
)
def test_the_page_is_rendered_from_the_recorded_figures() -> None:
    results = json.loads(RESULTS.read_text())
    assert DOC.read_text() == render(results, TEMPLATE.read_text()), (
        "docs/reliability.md is stale: run `python -m tests.hardening.figures`"
    )
    assert "{{figures:" not in DOC.read_text()
    for figures in results.values():
        assert figures.get("duplicates", 0) == 0 and figures.get("losses", 0) == 0


def test_every_test_the_page_names_exists() -> None:
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)", DOC.read_text())
    assert len(named) >= 8
    for path, name in named:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.MULTILINE), (path, name)
