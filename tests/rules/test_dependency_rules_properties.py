"""Properties of the dependency-layer-order and cache-mount fixes on generated Dockerfiles.

The Dockerfiles of the two rules' cases are varied by inserting instructions that interact with
the rules (more whole-context copies, installs in sub-folders, USER, WORKDIR, extra stages).
For every fix offered: the patched file parses, dependency-layer-order stays one contiguous
edit (one GitLab suggestion), and checking again raises that finding one time fewer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerbot.analysis import dockerfile
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import Finding, InputError, RepoView
from layerbot.analysis.rules import cache_mount, dependency_layer_order
from tests.rules.cases import cases_of

Check = Callable[[DockerfileContext], Iterable[Finding]]
SEEDS = [
    case.files
    for rule in ("dependency-layer-order", "cache-mount")
    for case in cases_of(rule)
    if "Dockerfile" in case.files
]
EXTRA = [
    "COPY . .",
    "COPY . /app",
    "ADD . /src",
    "RUN npm ci",
    "RUN cd sub && npm ci",
    "RUN go build .",
    "RUN pip install -r requirements.txt",
    "RUN mvn package",
    "RUN --mount=type=cache,target=/root/.npm npm install",
    "WORKDIR /x",
    "USER app",
    "ENV A=1",
    "FROM node:20 AS extra",
    "# a comment",
    "",
]


def findings(check: Check, text: str, repo: RepoView) -> list[Finding]:
    return list(check(DockerfileContext.for_file(dockerfile.parse(text), repo)))


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(SEEDS),
    inserts=st.lists(st.tuples(st.integers(1, 40), st.sampled_from(EXTRA)), max_size=3),
)
def test_fixes_parse_stay_contiguous_and_converge(
    seed: dict[str, str], inserts: list[tuple[int, str]]
) -> None:
    lines = seed["Dockerfile"].splitlines()
    for position, line in inserts:
        lines.insert(min(position, len(lines)), line)
    text = "\n".join(lines) + "\n"
    try:
        dockerfile.parse(text)
    except InputError:
        return
    repo = RepoView.from_files({**seed, "Dockerfile": text})
    for check in (dependency_layer_order.check, cache_mount.check):
        before = findings(check, text, repo)
        for finding in before:
            if finding.fix is None:
                continue
            if check is dependency_layer_order.check:
                assert len(finding.fix.edits) == 1
            patched = apply_fix(text, finding.fix)
            after = findings(check, patched, repo)
            same = [f for f in after if f.message == finding.message]
            assert len(same) < sum(1 for f in before if f.message == finding.message)
