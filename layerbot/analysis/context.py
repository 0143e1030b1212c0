"""What a Dockerfile rule is handed: the parsed file, the repository and its build context."""

from __future__ import annotations

import functools
import json
import posixpath
import re
from collections.abc import Iterator

from layerbot.analysis.dockerfile import Dockerfile, Instruction
from layerbot.analysis.model import Finding, Fix, RepoView, Severity


class DockerfileContext:
    """``context_dir`` is the build context: the one a CI job passes, else the Dockerfile's
    folder or the folder above it that holds what the Dockerfile copies."""

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
            context_dir = _inferred_context(doc, repo)
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

    def json_object(self, name: str) -> dict[str, object] | None:
        """The JSON object a manifest holds (package.json, composer.json): ``{}`` when the
        file is missing, ``None`` when it is not a JSON object. Parsed once per text, so
        the rules asking about one package.json share it: never change what it returns."""
        return _json_object(self.read(name) or "{}")

    def toml_table(self, name: str) -> dict[str, object]:
        """The TOML table a manifest holds (pyproject.toml, Cargo.toml): ``{}`` when the file
        is missing or is not TOML. Parsed once per text, like :meth:`json_object`: never
        change what it returns."""
        return _toml_table(self.read(name) or "")

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


@functools.lru_cache(maxsize=256)
def _toml_table(text: str) -> dict[str, object]:
    import tomllib  # Python and Rust projects only: off the start-up path of `layerbot check`

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


@functools.lru_cache(maxsize=256)
def _json_object(text: str) -> dict[str, object] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# A source that is no plain file name: a variable, a glob or a URL.
_NOT_A_PLAIN_PATH = re.compile(r"[$*?\[]|://")


def _plain_sources(doc: Dockerfile) -> Iterator[str]:
    """The files the Dockerfile copies from the context by a plain name."""
    for instruction in doc.instructions:
        if instruction.keyword not in ("COPY", "ADD") or "from" in instruction.flags:
            continue
        for source in instruction.copy_sources():
            if source.startswith("-") or source.endswith("/") or _NOT_A_PLAIN_PATH.search(source):
                continue
            name = posixpath.normpath(source)
            if name not in (".", "..") and not name.startswith("../"):
                yield name


def _inferred_context(doc: Dockerfile, repo: RepoView) -> str:
    """The Dockerfile's folder, or the nearest folder above it that holds the files the
    Dockerfile copies by name when its own folder holds none of them: a `docker/Dockerfile`
    that copies `package.json` is built with the repository root as context (`docker build -f
    docker/Dockerfile .`), and the root's `.dockerignore` and manifests are the ones that count.
    Only files are asked about (a folder cannot be told from a missing file in every view)."""
    folder = posixpath.dirname(doc.path)
    if folder in ("", "."):
        return folder
    named = []
    for name in _plain_sources(doc):
        if repo.exists(posixpath.join(folder, name)):
            return folder  # the usual case: asked no further
        named.append(name)
    parent = folder
    while named and parent not in ("", "."):
        parent = posixpath.dirname(parent)
        if any(repo.exists(posixpath.join(parent, name) if parent else name) for name in named):
            return parent
    return folder
