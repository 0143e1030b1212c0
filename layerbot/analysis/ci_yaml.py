"""Safe YAML for GitLab CI files, keeping where every value came from.

We compose the YAML into nodes with a :class:`yaml.SafeLoader` subclass and build the values
ourselves, so that:

- only the standard YAML tags and GitLab's ``!reference [job, key]`` are accepted; any other tag
  is an :class:`CiYamlError` naming its line;
- anchors, aliases and ``<<:`` merge keys are expanded, but only after the expanded size of the
  document has been counted over the node graph (shared nodes counted once per use, in time
  proportional to the number of distinct nodes), so a "billion laughs" bomb is refused at once;
- strings, mappings and lists carry an :class:`Origin` (file, first and last line, column, and
  scalar style), which is what lets rules point at a job's key and patch a script line in place.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from layerbot.analysis.model import InputError
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

MAX_EXPANDED_NODES = 1_000_000
MAX_DEPTH = 100

REFERENCE_TAG = "!reference"
_STANDARD_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_ACCEPTED_TAGS = frozenset(
    _STANDARD_TAG + name
    for name in ("str", "int", "float", "bool", "null", "timestamp", "binary", "seq", "map")
)


class CiYamlError(InputError):
    """The CI file is not YAML we accept; ``line`` points at the cause."""


class Origin(Record):
    """Where a value was written: 1-based lines, 0-based column, scalar style (``|``, ``>``...)."""

    __slots__ = ("column", "end_line", "line", "path", "style")

    def __init__(
        self, path: str, line: int, end_line: int, column: int = 0, style: str | None = None
    ) -> None:
        self.path: Final = path
        self.line: Final = line
        self.end_line: Final = end_line
        self.column: Final = column
        self.style: Final = style


class Text(str):
    """A string scalar that remembers its :class:`Origin`."""

    origin: Origin

    def __new__(cls, value: str, origin: Origin) -> Text:
        text = super().__new__(cls, value)
        text.origin = origin
        return text


# ``"Any"`` quoted in the bases: ``typing`` is imported for the type checker only (a check's
# start does without its 2 ms).
class Mapping(dict[str, "Any"]):
    """A mapping with its own origin and the origin of each key."""

    def __init__(self, origin: Origin) -> None:
        super().__init__()
        self.origin = origin
        self.key_origins: dict[str, Origin] = {}


class Sequence(list["Any"]):
    def __init__(self, origin: Origin, items: list[Any] | None = None) -> None:
        super().__init__(items or [])
        self.origin = origin


class Reference(Record):
    """GitLab's ``!reference [job, key, ...]``, resolved later against the whole configuration."""

    __slots__ = ("origin", "path")

    def __init__(self, path: tuple[str, ...], origin: Origin) -> None:
        self.path: Final = path
        self.origin: Final = origin


class CiLoader(yaml.SafeLoader):
    """SafeLoader that only composes; :func:`load_documents` builds the values."""


_COMPOSER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = CiLoader
if getattr(yaml, "__with_libyaml__", False):
    # libyaml composes the same nodes (with the same marks) about ten times faster.
    class _FastCiLoader(yaml.CSafeLoader):
        """CiLoader on libyaml's parser."""

    _COMPOSER = _FastCiLoader


def _origin(path: str, node: Node) -> Origin:
    style = node.style if isinstance(node, ScalarNode) else None
    end = node.end_mark.line + 1
    # A block scalar's end mark sits on the line after its last content line.
    if node.end_mark.column == 0 and end > node.start_mark.line + 1:
        end -= 1
    return Origin(path, node.start_mark.line + 1, end, node.start_mark.column, style)


def _expanded_size(node: Node, sizes: dict[int, int], active: set[int], depth: int) -> int:
    """How many nodes ``node`` becomes once every alias is copied out (memoised per node)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise CiYamlError("an anchor refers to itself", node.start_mark.line + 1)
    if depth > MAX_DEPTH:
        raise CiYamlError(f"nested more than {MAX_DEPTH} levels deep", node.start_mark.line + 1)
    active.add(key)
    total = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            total += _expanded_size(child, sizes, active, depth + 1)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            total += _expanded_size(key_node, sizes, active, depth + 1)
            total += _expanded_size(value_node, sizes, active, depth + 1)
    active.discard(key)
    if total > MAX_EXPANDED_NODES:
        raise CiYamlError(
            f"anchors and aliases expand to more than {MAX_EXPANDED_NODES:,} values "
            "(an alias bomb?)",
            node.start_mark.line + 1,
        )
    sizes[key] = total
    return total


class _Builder:
    """Turns composed nodes into :class:`Text` / :class:`Mapping` / :class:`Sequence` values."""

    def __init__(self, path: str, loader: yaml.SafeLoader | yaml.CSafeLoader) -> None:
        self.path = path
        self.loader = loader

    def build(self, node: Node) -> Any:
        tag = node.tag or ""
        if tag == REFERENCE_TAG:
            return self._reference(node)
        if tag not in _ACCEPTED_TAGS:
            raise CiYamlError(
                f"the tag {tag} is not supported (only GitLab's !reference is)",
                node.start_mark.line + 1,
            )
        if isinstance(node, MappingNode):
            return self._mapping(node)
        if isinstance(node, SequenceNode):
            return Sequence(_origin(self.path, node), [self.build(item) for item in node.value])
        assert isinstance(node, ScalarNode)
        if tag == _STANDARD_TAG + "str":
            return Text(node.value, _origin(self.path, node))
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            raise CiYamlError(f"bad {tag[len(_STANDARD_TAG) :]} value", _line(error)) from None

    def _reference(self, node: Node) -> Reference:
        origin = _origin(self.path, node)
        items = node.value if isinstance(node, SequenceNode) else None
        if not items or not all(isinstance(item, ScalarNode) for item in items):
            raise CiYamlError("!reference needs a list of names, like [.job, script]", origin.line)
        return Reference(tuple(str(item.value) for item in items), origin)

    def _mapping(self, node: MappingNode) -> Mapping:
        result = Mapping(_origin(self.path, node))
        merged: list[Mapping] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self.build(key_node)
            if isinstance(key, list | dict | Reference):
                raise CiYamlError(
                    "a mapping key must be a plain value", key_node.start_mark.line + 1
                )
            name = _key_text(key)
            result[name] = self.build(value_node)
            result.key_origins[name] = _origin(self.path, key_node)
        for source in merged:  # explicit keys win, then earlier merge sources
            for name, value in source.items():
                if name not in result:
                    result[name] = value
                    result.key_origins[name] = source.key_origins.get(name, source.origin)
        return result

    def _merge_sources(self, node: Node) -> list[Mapping]:
        values = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for value in values:
            built = self.build(value)
            if not isinstance(built, Mapping):
                raise CiYamlError("<< must merge a mapping", value.start_mark.line + 1)
            sources.append(built)
        return sources


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _line(error: yaml.YAMLError) -> int:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def load_documents(text: str, path: str) -> list[Any]:
    """Every YAML document in ``text`` as values with origins (``None`` for an empty one)."""
    loader = _COMPOSER(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                documents.append(None)
                continue
            _expanded_size(node, {}, set(), 0)
            documents.append(_Builder(path, loader).build(node))
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CiYamlError(f"not valid YAML: {problem}", _line(error)) from None
    except RecursionError:
        raise CiYamlError(f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return documents
