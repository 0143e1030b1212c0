"""The import layering of docs/architecture.md, read statically from the sources with ``ast``.

Every ``import`` counts, at module level or inside a function (a lazy import still makes the
two modules depend on each other). The rules:

- no import cycle among the project's modules (``layerbot``, ``bot``, ``workers``, ``bench``,
  ``tests``, ``docs``);
- ``layerbot.analysis`` (the engine) imports no other project module: only itself;
- ``bot`` and ``workers`` never import each other;
- ``layerbot`` imports neither ``bot`` nor ``workers``, except ``layerbot.cli``, the command line
  above both sides, which dispatches ``serve``, ``worker`` and ``review`` to them lazily inside
  the command's branch (so ``layerbot check`` never loads Flask or Celery); nothing in
  ``bot``, ``workers`` or the rest of ``layerbot`` imports ``layerbot.cli``.
"""

from __future__ import annotations

import ast
import graphlib
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("layerbot", "bot", "workers", "bench", "tests", "docs")
SKIPPED = {".venv", "__pycache__", "corpus", "fixtures", "realworld"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if SKIPPED.isdisjoint(path.relative_to(ROOT).parts):
                found[_module_name(path)] = path
    return found


SOURCES = _sources()


def _imported(name: str, path: Path) -> set[str]:
    """Project modules that ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in SOURCES else base)
    return {_known(target) for target in targets if _known(target)} - {name}


def _known(target: str) -> str:
    """The project module ``target`` names (its nearest known parent), or '' if not ours."""
    while target and target not in SOURCES:
        target = target.rpartition(".")[0]
    return target


GRAPH = {name: _imported(name, path) for name, path in SOURCES.items()}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _edges(source: str, target: str) -> list[tuple[str, str]]:
    return [
        (name, imported)
        for name, imports in sorted(GRAPH.items())
        if _inside(name, source)
        for imported in sorted(imports)
        if _inside(imported, target)
    ]


def test_the_graph_sees_the_lazy_imports_of_the_command_line() -> None:
    assert {"bot.serve", "workers.runner", "layerbot.check"} <= GRAPH["layerbot.cli"]
    assert "layerbot.analysis.engine" in GRAPH["layerbot.check"]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per knot of the graph (find one, drop one of its edges, look again), each
    written so that every module imports the next."""
    remaining = {name: set(imports) for name, imports in graph.items()}
    found = []
    while True:
        try:
            graphlib.TopologicalSorter(remaining).prepare()
        except graphlib.CycleError as error:
            cycle = list(error.args[1])
            found.append(cycle[::-1])
            remaining[cycle[1]].discard(cycle[0])
        else:
            return found


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    [cycle] = _cycles(graph)
    assert all(after in graph[before] for before, after in itertools.pairwise(cycle))
    assert sorted(set(cycle)) == ["a", "b", "c"]


def test_there_is_no_import_cycle() -> None:
    assert [" -> ".join(cycle) for cycle in _cycles(GRAPH)] == []


def test_the_engine_imports_only_itself() -> None:
    outside = [
        (name, imported)
        for name, imports in sorted(GRAPH.items())
        if _inside(name, "layerbot.analysis")
        for imported in sorted(imports)
        if not _inside(imported, "layerbot.analysis")
    ]
    assert outside == []


@pytest.mark.parametrize(("source", "target"), [("bot", "workers"), ("workers", "bot")])
def test_bot_and_workers_never_import_each_other(source: str, target: str) -> None:
    assert _edges(source, target) == []


@pytest.mark.parametrize("side", ["bot", "workers"])
def test_only_the_command_line_reaches_up_to_bot_and_workers(side: str) -> None:
    assert {name for name, _ in _edges("layerbot", side)} <= {"layerbot.cli"}


@pytest.mark.parametrize("package", ["layerbot", "bot", "workers"])
def test_nothing_below_the_command_line_imports_it(package: str) -> None:
    assert [edge for edge in _edges(package, "layerbot.cli") if edge[0] != "layerbot.cli"] == []
