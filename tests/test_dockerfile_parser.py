"""The Dockerfile parser keeps exact spans and the structure rules rely on."""

import pytest

from layerbot.analysis.dockerfile import DockerfileError, parse

SOURCE = """\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG BASE=alpine:3.20
FROM golang:${GO_VERSION} AS Builder
# install tools
RUN apt-get update && \\
    apt-get install -y gcc \\
    # an inner comment
    make
RUN <<EOT bash
  set -e
  go build -o /out/app .
EOT
COPY <<-EOF /etc/motd
\thello
\tEOF

FROM ${BASE}
COPY --from=builder /out/app /usr/local/bin/app
CMD ["app"]
"""


def test_spans_cover_continuations_comments_and_heredocs() -> None:
    doc = parse(SOURCE)
    spans = [(i.keyword, i.line, i.end_line) for i in doc.instructions]
    assert spans == [
        ("ARG", 2, 2),
        ("ARG", 3, 3),
        ("FROM", 4, 4),
        ("RUN", 6, 9),
        ("RUN", 10, 13),
        ("COPY", 14, 16),
        ("FROM", 18, 18),
        ("COPY", 19, 19),
        ("CMD", 20, 20),
    ]


def test_heredoc_bodies_belong_to_their_instruction() -> None:
    doc = parse(SOURCE)
    run = doc.stages[0].of("RUN")[1]
    assert run.heredocs[0].name == "EOT"
    assert "go build -o /out/app ." in run.script
    copy = doc.stages[0].of("COPY")[0]
    assert copy.heredocs[0].body == "\thello"


def test_directives_global_args_and_stages() -> None:
    doc = parse(SOURCE)
    assert doc.directives == {"syntax": "docker/dockerfile:1"}
    assert [a.arguments for a in doc.global_args] == ["GO_VERSION=1.22", "BASE=alpine:3.20"]
    assert [s.name for s in doc.stages] == ["Builder", None]
    assert str(doc.resolved_base(doc.stages[0])) == "golang:1.22"
    assert str(doc.resolved_base(doc.stages[1])) == "alpine:3.20"
    assert doc.comments[5] == "install tools"
    assert 8 not in doc.comments  # inside the RUN, not a comment of its own


def test_copy_from_reference_keeps_the_builder_stage_in_use() -> None:
    doc = parse(SOURCE)
    assert doc.stage_named("builder") is doc.stages[0]  # stage names are case-insensitive
    assert doc.used_stages() == {0, 1}
    copy = doc.final_stage.of("COPY")[0]
    assert copy.flags == {"from": "builder"}
    assert copy.copy_sources() == ["/out/app"]
    assert copy.copy_destination() == "/usr/local/bin/app"


def test_unused_stage_is_not_in_the_final_image() -> None:
    doc = parse("FROM node:20 AS test\nRUN npm test\nFROM nginx:1.27 AS web\nFROM web\n")
    assert doc.used_stages() == {1, 2}
    assert doc.base_stage(doc.stages[2]) is doc.stages[1]


def test_backtick_escape_directive_joins_lines() -> None:
    doc = parse(
        "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        "RUN dir `\n    c:\\\nCMD dir\n"
    )
    assert doc.directives == {"escape": "`"}
    run = doc.final_stage.of("RUN")[0]
    assert (run.line, run.end_line) == (3, 4)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "no FROM instruction", 1),
        ("RUN echo hi\n", "RUN on line 1 comes before the first FROM", 1),
        ("FROM alpine\nRUN <<EOF\necho\n", "heredoc <<EOF opened on line 2 is never closed", 2),
        ("FROM alpine\nFETCH x\n", "unknown instruction FETCH on line 2", 2),
        ("FROM\n", "FROM on line 1 names no image", 1),
        ("FROM alpine\x00\n", "NUL bytes", 1),
    ],
)
def test_what_docker_rejects_is_an_error_with_a_line(text: str, message: str, line: int) -> None:
    with pytest.raises(DockerfileError) as raised:
        parse(text)
    assert message in str(raised.value)
    assert raised.value.line == line


def test_an_instruction_says_what_it_runs_in_either_form() -> None:
    doc = parse(
        "FROM alpine:3.20\n"
        'RUN ["sh", "-c", "apk add gcc && make"]\n'
        'RUN ["make", "all"]\n'
        "RUN CC=gcc make && (cd docs && make html) & wait\n"
        'CMD ["/usr/bin/tini", "--", "app"]\n'
    )
    runs = doc.final_stage.of("RUN")
    assert [c.argv for c in runs[0].commands] == [("apk", "add", "gcc"), ("make",)]
    assert [c.argv for c in runs[1].commands] == [("make", "all")]
    assert [c.argv for c in runs[2].commands] == [
        ("make",),
        ("cd", "docs"),
        ("make", "html"),
        ("wait",),
    ]
    assert [c.program for c in doc.final_stage.of("CMD")[0].commands] == ["tini"]


def test_mounts_are_read_once_with_buildkit_spellings() -> None:
    doc = parse(
        "FROM golang:1.22 AS deps\nFROM golang:1.22\n"
        "RUN --mount=type=cache,dst=/root/.cache/go-build "
        '--mount=type=bind,src=go.sum,target="/src/go.sum",ro '
        "--mount=from=deps,source=/go/pkg,target=/go/pkg go build ./...\n"
    )
    [run] = doc.final_stage.of("RUN")
    assert run.mounts == (
        {"type": "cache", "target": "/root/.cache/go-build"},
        {"type": "bind", "source": "go.sum", "target": "/src/go.sum", "ro": ""},
        {"from": "deps", "source": "/go/pkg", "target": "/go/pkg"},
    )
    assert doc.used_stages() == {0, 1}  # the mount's from= keeps the deps stage


def test_env_and_arg_assignments_in_both_forms() -> None:
    doc = parse(
        'FROM alpine:3.20\nENV PATH /opt/bin:$PATH\nENV A=1 B="two words"\nARG C=3\nARG D\n'
    )
    assert [i.assignments for i in doc.final_stage.body] == [
        {"PATH": "/opt/bin:$PATH"},
        {"A": "1", "B": "two words"},
        {"C": "3"},
        {},
    ]


def test_only_heredocs_a_shell_runs_are_read_as_shell() -> None:
    doc = parse(
        "FROM python:3.12-slim\n"
        "RUN <<EOF\npip install flask\nEOF\n"
        "RUN bash -e <<EOF\npip install gunicorn\nEOF\n"
        "RUN python3 <<EOF\nprint('pip install nothing')\nEOF\n"
        "RUN cat <<EOF > /etc/pip.conf\n[global]\nEOF\n"
    )
    programs = [[c.program for c in run.commands] for run in doc.final_stage.of("RUN")]
    assert programs == [["pip"], ["bash", "pip"], ["python3"], ["cat"]]


def test_variables_expand_with_the_values_set_before_the_line() -> None:
    doc = parse(
        "ARG ROOT=/srv\n"
        "FROM python:3.12 AS base\n"
        "ENV HOME=/home/app APP=$HOME/web\n"
        "FROM base\n"
        "ARG ROOT\n"
        "ARG TAG\n"
        "ENV DATA=${ROOT}/data\n"
        "WORKDIR $APP\n",
        "Dockerfile",
    )
    stage = doc.stages[1]
    assert doc.expanded(stage, "$APP/requirements.txt", 8) == "/home/app/web/requirements.txt"
    assert doc.expanded(stage, "${DATA}", 8) == "/srv/data"
    assert doc.expanded(stage, "${DATA}", 7) == "${DATA}"  # set on line 7, for what follows
    assert doc.expanded(stage, "$TAG-${TAG:-latest}", 8) == "$TAG-latest"
    assert doc.expanded(doc.stages[0], "$ROOT", 3) == "$ROOT"  # not redeclared in that stage
