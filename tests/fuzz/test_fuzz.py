"""The engine survives 100,000 mutated Dockerfiles and CI files without raising.

``LAYERBOT_FUZZ_RUNS`` changes the count (the default is the hardening promise).
"""

import os

import pytest

from tests.fuzz import fuzzer


def test_kept_corpus_analyses_without_raising() -> None:
    kept = list(fuzzer.seeds())
    assert len(kept) >= 5
    marks = {fuzzer.fingerprint(path, data)[0] for path, data in kept}
    for path, data in kept:
        fuzzer.fix_everything(path, data)
    assert len(marks) > 1


@pytest.mark.slow
def test_mutated_inputs_never_escape_the_engine() -> None:
    runs = int(os.environ.get("LAYERBOT_FUZZ_RUNS", "100000"))
    campaign = fuzzer.run(runs, seed=int(os.environ.get("LAYERBOT_FUZZ_SEED", "0")))
    assert campaign.runs == runs
    # Mutations keep some files valid, and the fix loop ran on a share of those.
    assert campaign.valid > runs // 10
    assert campaign.fixes >= campaign.valid // fuzzer.FIX_SAMPLE
    # Mutations reach more than one behaviour of the engine (valid files, each kind of error).
    assert len(campaign.fingerprints) >= 5
