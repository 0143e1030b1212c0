"""Reading a ``.gitlab-ci.yml`` into one configuration: its YAML document, the ``include:``
files merged in (GitLab's deep merge), and ``!reference`` tags replaced by what they name.

Only ``local:`` includes are read from the repository, and ``project:`` ones through an
optional resolver (the seam for the bot's GitLab API); remote, template and component includes
are reported as notes and never fetched. Every step is bounded (files, depth, copied values), so
a hostile file cannot blow the analysis up.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterator

from layerbot.analysis.ci_yaml import (
    CiYamlError,
    Mapping,
    Origin,
    Reference,
    Sequence,
    load_documents,
)
from layerbot.analysis.model import InputError, Note, RepoView

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_INCLUDES = 150
MAX_INCLUDE_DEPTH = 20
MAX_REFERENCE_DEPTH = 10
MAX_REFERENCE_NODES = 100_000

ProjectResolver = Callable[[str, str | None, str], str | None]
"""``(project, ref, file) -> text``: how the bot may read ``include: project:`` files later."""


def config_document(text: str, path: str) -> Mapping:
    documents = [d for d in load_documents(text, path) if d is not None]
    if len(documents) == 2 and isinstance(documents[0], Mapping) and "spec" in documents[0]:
        documents = documents[1:]  # a component's `spec:` header, then the configuration
    if not documents:
        raise CiYamlError("the configuration is empty (GitLab needs at least one job)")
    if len(documents) > 1:
        raise CiYamlError("more than one YAML document", line_of(documents[1], 1))
    config = documents[0]
    if not isinstance(config, Mapping):
        raise CiYamlError("the configuration must be a mapping of jobs and keywords")
    return config


def line_of(value: Any, default: int) -> int:
    origin = getattr(value, "origin", None)
    return origin.line if isinstance(origin, Origin) else default


def deep_merge(base: Mapping, override: Mapping) -> Mapping:
    """GitLab's merge for ``extends:`` and ``include:``: mappings merge, the rest is replaced."""
    merged = Mapping(override.origin)
    for source in (base, override):
        for key, value in source.items():
            current = merged.get(key)
            if isinstance(current, Mapping) and isinstance(value, Mapping):
                merged[key] = deep_merge(current, value)
            else:
                merged[key] = value
            merged.key_origins[key] = source.key_origins.get(key, source.origin)
    return merged


class Includes:
    """Merges ``include:`` files into one configuration, bounded in count and depth."""

    def __init__(
        self,
        repo: RepoView,
        notes: list[Note],
        root_path: str,
        resolve_project: ProjectResolver | None,
    ) -> None:
        self.repo = repo
        self.notes = notes
        self.root_path = root_path
        self.resolve_project = resolve_project
        self.count = 0
        self.unread = 0
        # What the configuration was made of: each local file read (``None``: not there) and
        # each folder listed for a wildcard, so a shell can tell when it changes.
        self.reads: dict[str, str | None] = {}
        self.listings: dict[str, list[str]] = {}

    def note(self, message: str) -> None:
        """An included file not read (remote, not found...), said in the report."""
        self.unread += 1
        self.notes.append(Note(self.root_path, message))

    def expand(self, config: Mapping, path: str, stack: tuple[str, ...], root_line: int) -> Mapping:
        entries = config.get("include")
        if entries is None:
            return config
        own = Mapping(config.origin)
        for key, value in config.items():
            if key != "include":
                own[key] = value
                own.key_origins[key] = config.key_origins[key]
        merged = Mapping(config.origin)
        for entry in entries if isinstance(entries, list) else [entries]:
            line = line_of(entry, config.key_origins["include"].line)
            where = line if path == self.root_path else root_line
            for included_path, text in self._sources(entry, path, where):
                if included_path in stack:
                    cycle = " -> ".join((*stack, included_path))
                    raise CiYamlError(f"include cycle: {cycle}", where)
                if len(stack) > MAX_INCLUDE_DEPTH:
                    raise CiYamlError(f"includes nested over {MAX_INCLUDE_DEPTH} levels", where)
                self.count += 1
                if self.count > MAX_INCLUDES:
                    raise CiYamlError(f"more than {MAX_INCLUDES} included files", where)
                try:
                    included = config_document(text, included_path)
                except InputError as error:
                    raise CiYamlError(
                        f"included file {included_path} line {error.line}: {error}", where
                    ) from None
                nested = self.expand(included, included_path, (*stack, included_path), where)
                merged = deep_merge(merged, nested)
        return deep_merge(merged, own)

    def _sources(self, entry: Any, path: str, line: int) -> Iterator[tuple[str, str]]:
        """``(path, text)`` of the files one include entry brings in that we can read."""
        if isinstance(entry, str):
            entry = {"remote" if re.match(r"[a-z]+://", entry) else "local": entry}
        if not isinstance(entry, dict):
            raise CiYamlError("an include entry must be a path or a mapping", line)
        if "local" in entry:
            yield from self._local(str(entry["local"]), line)
        elif "project" in entry:
            yield from self._project(entry, line)
        else:
            kind = next((k for k in ("remote", "template", "component") if k in entry), None)
            if kind is None:
                raise CiYamlError("an include entry needs local, remote, project, ...", line)
            self.note(
                f"line {line}: include {kind}: {entry[kind]} was not analysed "
                "(layerbot never fetches configuration from outside the repository)"
            )

    def _local(self, pattern: str, line: int) -> Iterator[tuple[str, str]]:
        name = posixpath.normpath(pattern.lstrip("/"))
        directory = posixpath.dirname(name)
        if any(ch in directory for ch in "*?["):
            self.note(f"line {line}: include local: {pattern} (a folder wildcard) not analysed")
            return
        if any(ch in name for ch in "*?["):
            listed = self.listings[directory] = self.repo.in_dir(directory)
            matches = [
                p for p in listed if fnmatch.fnmatch(p, name) and p.endswith((".yml", ".yaml"))
            ]
        else:
            matches = [name]
        for match in matches:
            text = self.reads[match] = self.repo.read(match)
            if text is None:
                self.note(f"line {line}: include local: {match} was not found; not analysed")
                continue
            yield match, text

    def _project(self, entry: dict[str, Any], line: int) -> Iterator[tuple[str, str]]:
        project = str(entry["project"])
        ref = str(entry["ref"]) if entry.get("ref") is not None else None
        files = entry.get("file", [])
        for file in files if isinstance(files, list) else [files]:
            text = self.resolve_project(project, ref, str(file)) if self.resolve_project else None
            if text is None:
                self.note(f"line {line}: include project: {project} file {file} was not analysed")
                continue
            yield f"{project}:{str(file).lstrip('/')}", text


class References:
    """Replaces ``!reference [job, key, ...]`` with the value it names (nested up to 10 deep)."""

    def __init__(self, config: Mapping, notes: list[Note], path: str) -> None:
        self.config = config
        self.notes = notes
        self.path = path
        self.budget = MAX_REFERENCE_NODES

    def resolve(self, value: Any, depth: int) -> Any:
        if depth:  # a value copied in by a !reference
            self.budget -= 1
            if self.budget < 0:
                raise CiYamlError(
                    f"!reference copies more than {MAX_REFERENCE_NODES:,} values",
                    line_of(value, 1),
                )
        if isinstance(value, Reference):
            return self._lookup(value, depth)
        if isinstance(value, Mapping):
            resolved = Mapping(value.origin)
            for key, item in value.items():
                resolved[key] = self.resolve(item, depth)
                resolved.key_origins[key] = value.key_origins.get(key, value.origin)
            return resolved
        if isinstance(value, Sequence):
            return Sequence(value.origin, [self.resolve(item, depth) for item in value])
        return value

    def _lookup(self, reference: Reference, depth: int) -> Any:
        if depth >= MAX_REFERENCE_DEPTH:
            raise CiYamlError(
                f"!reference nested over {MAX_REFERENCE_DEPTH} levels", reference.origin.line
            )
        target: Any = self.config
        for name in reference.path:
            target = target.get(name) if isinstance(target, dict) else None
        if target is None:
            self.notes.append(
                Note(
                    self.path,
                    f"line {reference.origin.line}: !reference {list(reference.path)} "
                    "names nothing defined here; analysed without it",
                )
            )
            return None
        return self.resolve(target, depth + 1)
