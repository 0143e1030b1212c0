"""The static layer-cache model: which steps a code or manifest change re-runs."""

from __future__ import annotations

import pytest

from layerbot.analysis import dockerfile
from layerbot.analysis.layer_cache import (
    Change,
    SourceKind,
    impact_sentence,
    is_whole_context_copy,
    source_kind,
    steps_rerun,
)

NAIVE_GO = """\
FROM golang:1.22
WORKDIR /app
COPY . .
RUN go mod download
RUN go build -o main .
EXPOSE 8080
CMD ["./main"]
"""

MANIFEST_FIRST_GO = """\
FROM golang:1.22
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o main .
EXPOSE 8080
CMD ["./main"]
"""


def rerun_lines(text: str, stage: int = 0, change: str = "code") -> list[int]:
    result = steps_rerun(dockerfile.parse(text), stage, change)
    return [step.line for step in result.rerun]


def test_whole_context_copy_reruns_everything_after_it_on_a_code_change() -> None:
    result = steps_rerun(dockerfile.parse(NAIVE_GO), 0)
    assert [s.keyword for s in result.steps] == ["FROM", "WORKDIR", "COPY", "RUN", "RUN"]
    assert [s.line for s in result.rerun] == [3, 4, 5]
    assert (result.count, result.total) == (3, 5)


def test_manifest_copy_keeps_the_download_cached_on_a_code_change() -> None:
    assert rerun_lines(MANIFEST_FIRST_GO) == [5, 6]


def test_manifest_change_reruns_from_the_manifest_copy() -> None:
    assert rerun_lines(MANIFEST_FIRST_GO, change="manifest") == [3, 4, 5, 6]


def test_metadata_instructions_are_not_steps() -> None:
    text = 'FROM alpine:3.20\nENV A=1\nLABEL x=y\nCOPY . .\nUSER app\nCMD ["sh"]\n'
    result = steps_rerun(dockerfile.parse(text), 0)
    assert [s.keyword for s in result.steps] == ["FROM", "COPY"]
    assert [s.line for s in result.rerun] == [4]


def test_nothing_from_the_context_means_nothing_reruns() -> None:
    text = "FROM alpine:3.20\nRUN apk add --no-cache curl\nCOPY --from=busybox:1 /bin/sh /sh\n"
    assert rerun_lines(text) == []


def test_copy_from_a_stage_that_reran_reruns_and_from_an_image_does_not() -> None:
    text = (
        "FROM golang:1.22 AS builder\nCOPY go.mod ./\nRUN go mod download\nCOPY . .\n"
        "RUN go build -o /app .\n"
        "FROM alpine:3.20\nRUN apk add --no-cache ca-certificates\n"
        "COPY --from=builder /app /app\nCOPY --from=alpine:3.20 /etc/os-release /x\n"
    )
    assert rerun_lines(text, stage=0) == [4, 5]
    assert rerun_lines(text, stage=1) == [8, 9]


def test_stage_built_from_a_stage_that_reran_reruns_entirely() -> None:
    text = "FROM node:20 AS deps\nCOPY . .\nRUN npm ci\nFROM deps AS build\nRUN npm run build\n"
    assert rerun_lines(text, stage=1) == [4, 5]


def test_stage_from_an_unchanged_stage_stays_cached() -> None:
    text = "FROM node:20 AS deps\nCOPY package.json ./\nRUN npm ci\nFROM deps\nRUN echo hi\n"
    assert rerun_lines(text, stage=1) == []
    assert rerun_lines(text, stage=1, change="manifest") == [4, 5]


def test_bind_mount_of_the_context_is_an_input_of_the_run() -> None:
    whole = "FROM golang:1.22\nRUN --mount=type=bind,target=. go build -o /main .\n"
    manifests = (
        "FROM golang:1.22\n"
        "RUN --mount=type=bind,source=go.mod,target=go.mod --mount=type=cache,target=/go "
        "go mod download\n"
    )
    assert rerun_lines(whole) == [2]
    assert rerun_lines(manifests) == []
    assert rerun_lines(manifests, change="manifest") == [2]


def test_heredoc_and_remote_sources_are_not_context() -> None:
    text = (
        "# syntax=docker/dockerfile:1\nFROM alpine:3.20\n"
        "COPY <<EOF /etc/motd\nhello\nEOF\n"
        "ADD https://example.com/tool.tar.gz /opt/\n"
    )
    assert rerun_lines(text) == []


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (".", SourceKind.WHOLE_CONTEXT),
        ("./", SourceKind.WHOLE_CONTEXT),
        ("*", SourceKind.WHOLE_CONTEXT),
        ("go.mod", SourceKind.MANIFEST),
        ("package*.json", SourceKind.MANIFEST),
        ("*.csproj", SourceKind.MANIFEST),
        ("src/Api/Api.csproj", SourceKind.MANIFEST),
        ("requirements/base.txt", SourceKind.MANIFEST),
        ("gradle", SourceKind.MANIFEST),
        (".mvn/", SourceKind.MANIFEST),
        ("*.json", SourceKind.CODE),
        ("src", SourceKind.CODE),
        ("main.go", SourceKind.CODE),
    ],
)
def test_source_kind(source: str, kind: SourceKind) -> None:
    assert source_kind(source) is kind


@pytest.mark.parametrize(
    ("instruction", "whole"),
    [
        ("COPY . .", True),
        ("COPY . /app", True),
        ("COPY ./ ./", True),
        ("ADD . /src", True),
        ("COPY --chown=app:app . .", True),
        ("COPY --from=builder . .", False),
        ("COPY src ./src", False),
        ("COPY package.json .", False),
    ],
)
def test_is_whole_context_copy(instruction: str, whole: bool) -> None:
    doc = dockerfile.parse(f"FROM alpine:3.20\n{instruction}\n")
    assert is_whole_context_copy(doc.stages[0].instructions[1]) is whole


def test_impact_sentence_states_counts_and_the_cached_download() -> None:
    sentence = impact_sentence(
        steps_rerun(dockerfile.parse(NAIVE_GO), 0, Change.CODE),
        steps_rerun(dockerfile.parse(MANIFEST_FIRST_GO), 0, Change.CODE),
        slow_step="go mod download",
        cached_step="go mod download",
    )
    assert sentence == (
        "a code-only change re-runs 3 of 5 build steps, including `go mod download`; "
        "after the fix 2 of 6, with `go mod download` cached"
    )


def test_impact_sentence_names_only_what_the_model_computed() -> None:
    before = steps_rerun(dockerfile.parse(MANIFEST_FIRST_GO), 0, Change.MANIFEST)
    after = steps_rerun(dockerfile.parse(NAIVE_GO), 0, Change.MANIFEST)
    sentence = impact_sentence(
        before, after, slow_step="go build", cached_step="go mod download", change="manifest"
    )
    assert sentence == (
        "a dependency-manifest change re-runs 4 of 6 build steps, including `go build`; "
        "after the fix 3 of 5"
    )
    cached_before = steps_rerun(dockerfile.parse(MANIFEST_FIRST_GO), 0)
    assert "including" not in impact_sentence(cached_before, cached_before, slow_step="go mod")
