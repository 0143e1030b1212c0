"""Accuracy on the real-world corpus: recall and precision of each rule against hand labels.

``tests/realworld/<case>/`` holds a small repository written for this project in a shape met in
public Dockerfiles and CI files, and ``labels.toml`` with what a reader expects of it::

    shape = "Go service: sources copied, then `go build` fetches the modules"
    expert = false          # true: official-image style, no major or minor finding allowed
    unjudged = []           # rules this case does not label (their findings are not scored)

    [expect.Dockerfile]     # one table per analysed file; an empty table expects nothing
    dependency-layer-order = "major"
    package-cache = ["minor", "minor"]

The labels are written by reading the files, never by running the tool. A finding counts as
found when its rule and severity match a label of the same file; every other finding of a judged
rule is a false one, every unmatched label a miss.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from layerbot.analysis.config import Config
from layerbot.analysis.discovery import DOCKERFILE, file_kind
from layerbot.analysis.engine import analyse_file
from layerbot.check import LocalRepoView

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "realworld"
SEVERITIES = ("info", "minor", "major", "critical")
ADVICE = frozenset({"merge-runs"})  # scored, not held to the goal
GOAL = 0.9

Label = tuple[str, str, str]  # (file, rule, severity)


@dataclass(frozen=True)
class Case:
    folder: Path
    shape: str
    expert: bool
    unjudged: frozenset[str]
    expected: Counter[Label]

    @property
    def name(self) -> str:
        return self.folder.name

    def files(self) -> list[str]:
        return sorted({label[0] for label in self.expected} | set(self._tables()))

    def _tables(self) -> dict[str, dict[str, object]]:
        data = tomllib.loads((self.folder / "labels.toml").read_text(encoding="utf-8"))
        tables: dict[str, dict[str, object]] = data.get("expect", {})
        return tables

    def found(self) -> Counter[Label]:
        """What the engine reports for the labelled files (judged rules only)."""
        repo = LocalRepoView(self.folder)
        found: Counter[Label] = Counter()
        for path in self.files():
            data = (self.folder / path).read_bytes()
            for finding in analyse_file(path, data, repo, Config()).findings:
                if finding.rule not in self.unjudged:
                    found[(path, finding.rule, finding.severity.value)] += 1
        return found


def load_case(folder: Path) -> Case:
    data = tomllib.loads((folder / "labels.toml").read_text(encoding="utf-8"))
    expected: Counter[Label] = Counter()
    for path, rules in data.get("expect", {}).items():
        if not (folder / path).is_file():
            raise ValueError(f"{folder.name}: labels name {path}, which is not in the case")
        for rule, severities in rules.items():
            for severity in [severities] if isinstance(severities, str) else severities:
                expected[(path, rule, severity)] += 1
    if not data.get("expect"):
        raise ValueError(f"{folder.name}: labels.toml has no [expect.<file>] table")
    return Case(
        folder=folder,
        shape=str(data.get("shape", "")),
        expert=bool(data.get("expert", False)),
        unjudged=frozenset(data.get("unjudged", [])),
        expected=expected,
    )


def load_corpus(root: Path = CORPUS) -> list[Case]:
    return [load_case(folder) for folder in sorted(root.iterdir()) if folder.is_dir()]


@dataclass
class Score:
    found: int = 0
    false: int = 0
    missed: int = 0
    cases: dict[str, list[str]] = field(default_factory=dict)

    @property
    def recall(self) -> float | None:
        total = self.found + self.missed
        return self.found / total if total else None

    @property
    def precision(self) -> float | None:
        total = self.found + self.false
        return self.found / total if total else None


def score(cases: list[Case]) -> dict[str, Score]:
    """Per rule: labels found, findings with no label (false), labels not found (missed)."""
    scores: dict[str, Score] = {}
    for case in cases:
        expected, found = case.expected, case.found()
        for label in expected | found:
            rule_score = scores.setdefault(label[1], Score())
            hits = min(expected[label], found[label])
            rule_score.found += hits
            extra, missing = found[label] - hits, expected[label] - hits
            rule_score.false += extra
            rule_score.missed += missing
            if extra or missing:
                what = f"{label[0]}: {label[2]} " + ("false" if extra else "missed")
                rule_score.cases.setdefault(case.name, []).append(what)
    return scores


def report(scores: dict[str, Score]) -> str:
    """A Markdown table: rule, labels, recall, precision, beside the goal."""

    def cell(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    rows = [
        "| rule | labelled | found | false | missed | recall | precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule, s in sorted(scores.items()):
        name = f"{rule} (advice)" if rule in ADVICE else rule
        rows.append(
            f"| {name} | {s.found + s.missed} | {s.found} | {s.false} | {s.missed} "
            f"| {cell(s.recall)} | {cell(s.precision)} |"
        )
    return "\n".join(rows)


# hadolint's checks that look for the same thing as one of our rules (hadolint's rule list:
# github.com/hadolint/hadolint#rules); the other rules have no hadolint counterpart.
HADOLINT_EQUIVALENTS = {
    "pin-base-image": {"DL3006", "DL3007"},
    "package-cache": {"DL3009", "DL3019", "DL3042", "DL3060"},
    "merge-runs": {"DL3059"},
}


def hadolint_recall(cases: list[Case], hadolint: str) -> dict[str, float | None]:
    """Share of our labels hadolint also reports, per rule it has an equivalent for (counted
    per file: a label is found when hadolint raises as many equivalent warnings there)."""
    found: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    for case in cases:
        for path in case.files():
            if file_kind(path) != DOCKERFILE:
                continue
            done = subprocess.run(
                [hadolint, "--no-fail", "-f", "json", str(case.folder / path)],
                capture_output=True,
                text=True,
                check=False,
            )
            codes = Counter(item["code"] for item in json.loads(done.stdout or "[]"))
            for rule, equivalents in HADOLINT_EQUIVALENTS.items():
                expected = (
                    case.expected[(path, rule, "minor")] + case.expected[(path, rule, "major")]
                )
                expected += case.expected[(path, rule, "info")]
                labelled[rule] += expected
                found[rule] += min(expected, sum(codes[code] for code in equivalents))
    return {rule: found[rule] / labelled[rule] if labelled[rule] else None for rule in labelled}


def run() -> dict[str, object]:
    """The bench section: our scores per rule, and hadolint's recall where it can see."""
    from bench.analysis import hadolint_command

    cases = load_corpus()
    scores = score(cases)
    hadolint = hadolint_command()
    return {
        "cases": len(cases),
        "expert_cases": sum(case.expert for case in cases),
        "rules": {
            rule: {
                "labelled": s.found + s.missed,
                "found": s.found,
                "false": s.false,
                "missed": s.missed,
                "recall": s.recall,
                "precision": s.precision,
                "advice": rule in ADVICE,
            }
            for rule, s in sorted(scores.items())
        },
        "hadolint_recall": hadolint_recall(cases, hadolint) if hadolint else {},
    }


if __name__ == "__main__":
    print(report(score(load_corpus())))
