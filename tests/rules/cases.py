"""Rule test cases: ``tests/rules/<rule-name>/<case>/``, read by ``test_rules.py``.

A case folder is a small repository: the file the rule checks (``Dockerfile`` for a Dockerfile
rule, ``.gitlab-ci.yml`` for a CI rule, or ``file = "..."``) and the files the rule reads
beside it, plus two hand-written expectations (format in ``tests/rules/README.md``):

- ``expected.toml``: every finding of the folder's rule (or of ``rules = [...]``) on the file;
- ``expected.fixed``: when one of those findings has a fix, the checked file after every fix
  of those rules (``--unsafe``, no other rule), or, for a fix that writes another file
  (``fix_path``), that file; a case may instead state parts of the fixed file
  (``fixed_has``/``fixed_lacks``, multi-stage's ``[rewrite]``). Never there without a fix.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from layerbot.analysis.config import Config
from layerbot.analysis.engine import analyse_file, fix_file
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import Finding, RepoView
from layerbot.analysis.rules import all_rules

HERE = Path(__file__).resolve().parent
EXPECTED_FINDINGS = "expected.toml"
EXPECTED_FIXED = "expected.fixed"
_NOT_INPUT = {EXPECTED_FINDINGS, EXPECTED_FIXED}
_FILE_OF_TARGET = {"dockerfile": "Dockerfile", "gitlab-ci": ".gitlab-ci.yml"}


@dataclass(frozen=True)
class Case:
    folder: Path

    @property
    def rule(self) -> str:
        return self.folder.parent.name

    @property
    def name(self) -> str:
        return f"{self.rule}/{self.folder.name}"

    @cached_property
    def expected(self) -> dict[str, Any]:
        return tomllib.loads((self.folder / EXPECTED_FINDINGS).read_text())

    @property
    def expected_findings(self) -> list[dict[str, Any]]:
        findings: list[dict[str, Any]] = self.expected["findings"]
        return findings

    @property
    def rules(self) -> frozenset[str]:
        """The rules whose findings the case states (all of them, for each of those rules)."""
        return frozenset(self.expected.get("rules", [self.rule]))

    @property
    def path(self) -> str:
        """The checked file, relative to the case folder."""
        default = _FILE_OF_TARGET[all_rules()[self.rule].target]
        return str(self.expected.get("file", default))

    @property
    def context_dir(self) -> str | None:
        """The build context (``context = "..."``); by default the checked file's folder."""
        context: str | None = self.expected.get("context")
        return context

    @cached_property
    def files(self) -> dict[str, str]:
        """The case's repository: every file but the expectations, by relative path."""
        return {
            path.relative_to(self.folder).as_posix(): path.read_text()
            for path in sorted(self.folder.rglob("*"))
            if path.is_file() and path.name not in _NOT_INPUT
        }

    @property
    def text(self) -> str:
        return self.files[self.path]

    @property
    def repo(self) -> RepoView:
        return RepoView.from_files(self.files)

    def findings(self, text: str | None = None) -> list[Finding]:
        """The findings of the case's rules on the checked file (or on ``text`` in its place)."""
        if text is None:
            return list(self._findings)
        repo = RepoView.from_files({**self.files, self.path: text})
        report = analyse_file(self.path, text, repo, context_dir=self.context_dir)
        return [f for f in report.findings if f.rule in self.rules]

    @cached_property
    def _findings(self) -> tuple[Finding, ...]:
        """Analysed once: the runner asks for them in several tests."""
        report = analyse_file(self.path, self.text, self.repo, context_dir=self.context_dir)
        return tuple(f for f in report.findings if f.rule in self.rules)

    @property
    def only_its_rules(self) -> Config:
        return Config(disabled=frozenset(all_rules()) - self.rules)

    def fixed(self) -> dict[str, str]:
        """Every file the case's fixes write: the checked file, and files fixes create."""
        outcome = fix_file(
            self.path,
            self.text,
            self.repo,
            self.only_its_rules,
            unsafe=True,
            context_dir=self.context_dir,
        )
        written = {self.path: outcome.text} if outcome.text != self.text else {}
        for finding in self.findings():
            fix = finding.fix
            if fix is not None and fix.path not in (None, self.path):
                written[fix.path] = apply_fix(self.files.get(fix.path, ""), fix)
        return written

    @property
    def states_fix_by_parts(self) -> bool:
        """Whether expected.toml states what the fix writes in parts (``fixed_has``,
        ``fixed_lacks``, multi-stage's ``[rewrite]``) instead of a whole ``expected.fixed``."""
        parts = {"fixed_has", "fixed_lacks"}
        stated = any(parts & set(finding) for finding in self.expected_findings)
        return stated or "rewrite" in self.expected

    @property
    def expected_fixed(self) -> Path:
        return self.folder / EXPECTED_FIXED


def all_cases() -> list[Case]:
    return [
        Case(folder)
        for rule_folder in sorted(HERE.iterdir())
        if rule_folder.is_dir() and rule_folder.name in all_rules()
        for folder in sorted(rule_folder.iterdir())
        if (folder / EXPECTED_FINDINGS).exists()
    ]


def cases_of(rule: str) -> list[Case]:
    return [case for case in all_cases() if case.rule == rule]
