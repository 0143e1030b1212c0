"""How the layer rules' fixes are shaped: suggestions, minimal edits, composition, limits."""

from __future__ import annotations

import pytest

from layerbot.analysis.config import Config
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import as_replacement
from layerbot.analysis.model import Finding, RepoView
from layerbot.analysis.rules import all_rules

LAYER_RULES = {"cleanup-in-same-layer", "package-cache", "update-with-install", "merge-runs"}
ONLY_LAYER_RULES = Config(disabled=frozenset(all_rules()) - LAYER_RULES)


def findings(text: str, rule: str) -> list[Finding]:
    repo = RepoView.from_files({"Dockerfile": text})
    return [f for f in analyse_file("Dockerfile", text, repo).findings if f.rule == rule]


def test_adjacent_cleanup_is_one_suggestion_covering_both_runs() -> None:
    text = "FROM alpine:3.20\nRUN apk add curl\nRUN rm -rf /var/cache/apk/*\n"
    (finding,) = findings(text, "cleanup-in-same-layer")
    assert finding.fix is not None
    replacement = as_replacement(text, finding.fix)
    assert replacement is not None
    assert (replacement.start_line, replacement.end_line) == (2, 3)
    assert replacement.lines == ("RUN apk add curl && rm -rf /var/cache/apk/*",)


def test_cleanup_across_other_instructions_is_two_edits_and_no_suggestion() -> None:
    text = (
        "FROM python:3.12-slim\nRUN pip install -r requirements.txt\nCOPY . .\n"
        "RUN rm -rf /root/.cache/pip\n"
    )
    (finding,) = findings(text, "cleanup-in-same-layer")
    assert finding.fix is not None
    assert [(e.start_line, e.end_line) for e in finding.fix.edits] == [(2, 2), (4, 4)]
    assert as_replacement(text, finding.fix) is None


def test_update_merged_into_the_adjacent_install_is_one_suggestion() -> None:
    text = "FROM debian:bookworm-slim\nRUN apt-get update\n\nRUN apt-get install -y git\n"
    (finding,) = findings(text, "update-with-install")
    assert finding.fix is not None
    replacement = as_replacement(text, finding.fix)
    assert replacement is not None
    assert (replacement.start_line, replacement.end_line) == (2, 4)
    assert replacement.lines == ("RUN apt-get update && apt-get install -y git",)


def test_package_cache_edits_only_the_line_that_changes() -> None:
    text = (
        "FROM python:3.12-slim\n"
        "RUN set -eux; \\\n"
        "    apt-get update; \\\n"
        "    pip install \\\n"
        "        flask\n"
    )
    (finding,) = findings(text, "package-cache")
    assert finding.fix is not None
    (edit,) = finding.fix.edits
    assert (edit.start_line, edit.end_line) == (4, 4)
    assert edit.new_lines == ("    pip install --no-cache-dir \\",)


@pytest.mark.parametrize(
    "run",
    [
        "RUN --mount=type=cache,target=/root/.cache pip install flask",
        "RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked pip install flask",
        "RUN PIP_NO_CACHE_DIR=1 pip install flask",
        "RUN pip install flask && pip cache purge",
    ],
)
def test_pip_cache_kept_out_of_the_layer_is_not_reported(run: str) -> None:
    assert findings(f"FROM python:3.12-slim\n{run}\n", "package-cache") == []


@pytest.mark.parametrize(
    "text",
    [
        "FROM python:3.12-slim\nRUN <<EOF\npip install flask\nEOF\n",
        "# escape=`\nFROM python:3.12-slim\nRUN pip install `\n    flask\n",
        "FROM python:3.12-slim\nRUN pip install flask & wait\n",
    ],
    ids=["heredoc", "backtick-escape", "background-job"],
)
def test_run_text_we_cannot_rewrite_safely_gets_a_finding_without_fix(text: str) -> None:
    (finding,) = findings(text, "package-cache")
    assert finding.fix is None


def test_update_is_not_prefixed_to_an_install_after_or() -> None:
    text = (
        "FROM debian:bookworm-slim\nRUN apt-get update\n"
        "RUN command -v git || apt-get install -y git\n"
    )
    (finding,) = findings(text, "update-with-install")
    assert finding.fix is None


def test_merge_runs_never_chains_after_a_run_that_changes_directory() -> None:
    text = "FROM debian:bookworm-slim\nRUN cd /opt && mkdir tools\nRUN mkdir cache\n"
    assert findings(text, "merge-runs") == []


MESSY = """\
FROM debian:bookworm-slim
RUN apt-get update
RUN apt-get install -y curl
RUN rm -rf /var/lib/apt/lists/*
RUN useradd app
COPY app.py /srv/
RUN pip install flask
RUN rm -rf /root/.cache/pip
"""

MESSY_FIXED = """\
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/* \\
    && useradd app
COPY app.py /srv/
RUN pip install flask && rm -rf /root/.cache/pip
"""


def test_the_four_rules_fixes_compose_through_fix_file() -> None:
    repo = RepoView.from_files({"Dockerfile": MESSY})
    outcome = fix_file("Dockerfile", MESSY, repo, ONLY_LAYER_RULES)
    assert outcome.text == MESSY_FIXED
    assert {f.rule for f in outcome.fixed} == LAYER_RULES - {"package-cache"}
    assert [f.rule for f in outcome.remaining if f.fix and f.fix.safety.value == "safe"] == []


def test_appending_after_a_final_semicolon_stays_valid_shell() -> None:
    text = (
        "FROM python:3.12-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends git;\n"
    )
    (finding,) = findings(text, "package-cache")
    assert finding.fix is not None
    assert finding.fix.edits[0].new_lines == (
        "RUN apt-get update && apt-get install -y --no-install-recommends git"
        " && rm -rf /var/lib/apt/lists/*",
    )


def test_run_ending_in_a_shell_comment_gets_no_appended_command() -> None:
    text = "FROM python:3.12-slim\nRUN yum install -y git # tools\n"
    (finding,) = findings(text, "package-cache")
    assert finding.fix is None
