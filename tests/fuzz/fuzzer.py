"""A small deterministic mutational fuzzer for the analysis engine.

It mutates the seed corpus (Dockerfiles and CI files) with byte- and token-level edits aimed at
the parsers' edges (continuations, heredocs, quotes, YAML anchors and tags) and runs the whole
engine, fixes included, on each input. Behaviour is fingerprinted (which rules fired, which
error class) as a cheap stand-in for coverage: inputs with a new fingerprint join the corpus,
and ``python -m tests.fuzz.fuzzer --save`` keeps them in ``tests/fuzz/corpus``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.model import RepoView

CORPUS = Path(__file__).with_name("corpus")
FIX_SAMPLE = 10

TOKENS = [
    b"\\\n",
    b"`\n",
    b"<<EOF\n",
    b"<<-EOF\n",
    b"\nEOF\n",
    b"COPY . .\n",
    b"FROM ",
    b" AS ",
    b"RUN ",
    b"&&",
    b"||",
    b";",
    b"|",
    b"'",
    b'"',
    b"${",
    b"}",
    b"$(",
    b"[",
    b"]",
    b"\x00",
    b"\xff",
    b"\r\n",
    b"\t",
    b"# escape=`\n",
    b"# syntax=docker/dockerfile:1\n",
    b"--from=",
    b"--mount=type=cache,target=/root/.cache ",
    b"apt-get install -y ",
    b"apk add ",
    b"pip install ",
    b"npm ci",
    b"go mod download",
    b"rm -rf /var/lib/apt/lists/*",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!reference [.x, script]",
    b"include:\n  - local: x.yml\n",
    b"extends: .base\n",
    b"script:\n  - docker build -t $IMAGE .\n",
    b"  - ",
    b": ",
    b"{",
    b"\n",
]
REPO = RepoView.from_files(
    {
        "go.mod": "module m\n\ngo 1.22\n",
        "go.sum": "",
        "package.json": '{"engines": {"node": ">=20"}}',
        "package-lock.json": "{}",
        "requirements.txt": "flask\n",
        "x.yml": "include:\n  - local: .gitlab-ci.yml\n",
        "Dockerfile": "FROM golang:1.22\n",
    }
)


def mutate(data: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    """One to four random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randint(0, len(out)) if out else 0
        if choice < 0.35:
            out[position:position] = rng.choice(TOKENS)
        elif choice < 0.5 and out:
            end = min(len(out), position + rng.randint(1, 16))
            del out[position:end]
        elif choice < 0.65 and out:
            index = min(position, len(out) - 1)
            out[index] = rng.randrange(256)
        elif choice < 0.8 and donors:
            donor = rng.choice(donors)
            start = rng.randint(0, len(donor))
            out[position:position] = donor[start : start + rng.randint(1, 80)]
        elif out:
            lines = bytes(out).split(b"\n")
            line = rng.randrange(len(lines))
            lines.insert(line, lines[line] * rng.randint(1, 3))
            out = bytearray(b"\n".join(lines))
    return bytes(out)


def _error_kind(message: str) -> str:
    """The error without the file's own words: its first few words, digits dropped."""
    detail = message.split("could not be analysed: ", 1)[-1]
    return " ".join(w if w.isalpha() and w.islower() else "X" for w in detail.split()[:6])


def fingerprint(path: str, data: bytes) -> tuple[str, bool]:
    """Which rules fired and which error the engine gave, and whether the file was valid."""
    report = analyse_file(path, data, REPO)
    signature = sorted({finding.rule for finding in report.findings})
    errors = [_error_kind(f.message) for f in report.findings if f.rule == "invalid-file"]
    mark = hashlib.sha1(repr((path, signature, errors[:1])).encode()).hexdigest()
    return mark, not errors


def fix_everything(path: str, data: bytes) -> None:
    """The ``--fix --unsafe`` loop must not raise either."""
    fix_file(path, data.decode("utf-8", "replace"), REPO, unsafe=True)


def seeds() -> Iterator[tuple[str, bytes]]:
    for path in sorted(CORPUS.iterdir()):
        kind = ".gitlab-ci.yml" if path.name.startswith("ci-") else "Dockerfile"
        yield kind, path.read_bytes()


@dataclass
class Campaign:
    runs: int = 0
    valid: int = 0
    fixes: int = 0
    fingerprints: set[str] = field(default_factory=set)
    new_inputs: list[tuple[str, bytes]] = field(default_factory=list)


def run(runs: int, seed: int = 0) -> Campaign:
    """Run ``runs`` mutated inputs; any exception escaping the engine propagates (a bug)."""
    rng = random.Random(seed)
    pool = list(seeds())
    donors = [data for _, data in pool]
    campaign = Campaign()
    for path, data in pool:
        campaign.fingerprints.add(fingerprint(path, data)[0])
    for index in range(runs):
        path, parent = rng.choice(pool)
        child = mutate(parent, rng, donors)
        try:
            mark, valid = fingerprint(path, child)
            campaign.valid += valid
            # The fix loop re-analyses several times: run it on every new behaviour and on a
            # steady sample, so 100,000 inputs stay a bounded run.
            if valid and (mark not in campaign.fingerprints or index % FIX_SAMPLE == 0):
                fix_everything(path, child)
                campaign.fixes += 1
        except Exception as error:
            raise AssertionError(f"engine raised {error!r} on {path}: {child[:200]!r}") from error
        campaign.runs += 1
        if mark not in campaign.fingerprints:
            campaign.fingerprints.add(mark)
            campaign.new_inputs.append((path, child))
            if len(child) < 4096:
                pool.append((path, child))
    return campaign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="keep new inputs in the corpus")
    args = parser.parse_args()
    campaign = run(args.runs, args.seed)
    print(
        f"{campaign.runs} inputs, {campaign.fixes} fix passes, "
        f"{len(campaign.fingerprints)} behaviours, "
        f"{len(campaign.new_inputs)} new"
    )
    if args.save:
        for path, data in campaign.new_inputs:
            prefix = "ci-" if path.endswith(".yml") else "df-"
            name = prefix + hashlib.sha1(data).hexdigest()[:12]
            (CORPUS / name).write_bytes(data)


if __name__ == "__main__":
    main()
