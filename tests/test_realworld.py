"""The real-world corpus (``tests/realworld``): each rule's recall and precision against labels
written by reading each case, and no finding that matters on expert-written images."""

from __future__ import annotations

import pytest

from bench.accuracy import ADVICE, GOAL, Case, Score, load_corpus, score

CASES = load_corpus()


def test_corpus_is_labelled() -> None:
    assert CASES, "tests/realworld holds no case"
    assert all(case.shape for case in CASES), "every case says which public shape it stands for"


@pytest.mark.parametrize("rule, result", sorted(score(CASES).items()))
def test_rule_meets_the_goal(rule: str, result: Score) -> None:
    assert rule != "invalid-file", f"valid files rejected: {result.cases}"
    if rule in ADVICE:
        return
    assert result.recall is None or result.recall >= GOAL, f"{rule} misses: {result.cases}"
    assert result.precision is None or result.precision >= GOAL, f"{rule} false: {result.cases}"


@pytest.mark.parametrize("case", [c for c in CASES if c.expert], ids=lambda c: c.name)
def test_expert_images_get_no_major_or_minor(case: Case) -> None:
    serious = [label for label in case.found() if label[2] in {"major", "minor"}]
    assert serious == []
