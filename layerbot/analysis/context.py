"""What a Dockerfile rule is handed: the parsed file, the repository and its build context."""

from __future__ import annotations

import posixpath

from layerbot.analysis.dockerfile import Dockerfile, Instruction
from layerbot.analysis.model import Finding, Fix, RepoView, Severity


class DockerfileContext:
    """``context_dir`` is the build context, the Dockerfile's folder unless a CI job says so."""

    __slots__ = ("context_dir", "doc", "repo")

    def __init__(self, doc: Dockerfile, repo: RepoView, context_dir: str) -> None:
        self.doc = doc
        self.repo = repo
        self.context_dir = context_dir

    @classmethod
    def for_file(
        cls, doc: Dockerfile, repo: RepoView, context_dir: str | None = None
    ) -> DockerfileContext:
        if context_dir is None:
            context_dir = posixpath.dirname(doc.path)
        return cls(doc, repo, context_dir)

    @property
    def path(self) -> str:
        return self.doc.path

    def context_file(self, name: str) -> str:
        """Repository path of ``name`` inside the build context."""
        if self.context_dir in ("", "."):
            return posixpath.normpath(name)
        return posixpath.normpath(posixpath.join(self.context_dir, name))

    def has(self, name: str) -> bool:
        return self.repo.exists(self.context_file(name))

    def read(self, name: str) -> str | None:
        return self.repo.read(self.context_file(name))

    def finding(
        self,
        rule: str,
        severity: Severity,
        instruction: Instruction,
        message: str,
        *,
        impact: str | None = None,
        fix: Fix | None = None,
        end: Instruction | None = None,
    ) -> Finding:
        """A finding spanning ``instruction`` (through ``end`` when given)."""
        return Finding(
            rule=rule,
            severity=severity,
            path=self.doc.path,
            line=instruction.line,
            end_line=(end or instruction).end_line,
            message=message,
            impact=impact,
            fix=fix,
        )
