"""``Record``: value equality, hash and repr for the engine's small classes, from ``__slots__``.

The engine's records were dataclasses, and ``@dataclass`` writes and compiles each class's
methods when its module is imported (about 0.7 ms a frozen class, ``inspect`` and ``ast``
imported with it): ``layerbot check``, started once per file, paid that on every run. A record
spells out its ``__slots__`` and ``__init__`` (``Final`` attributes where it is immutable) and
inherits the comparison here, written once.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import ClassVar


class Record:
    """Equal when of the same class with equal slots; hashed and shown by those slots."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]]
    _values: ClassVar[Callable[[object], object]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # "__dict__" in the slots leaves room for cached properties; it is not a field.
        slots: tuple[str, ...] = cls.__slots__
        cls._fields = tuple(name for name in slots if name != "__dict__")
        cls._values = attrgetter(*cls._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        values = self.__class__._values
        return values(self) == values(other)

    def __hash__(self) -> int:
        return hash(self.__class__._values(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({shown})"
