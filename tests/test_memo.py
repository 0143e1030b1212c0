"""The engine's lock-free ``cached_property`` behaves as the standard one."""

from __future__ import annotations

from dataclasses import dataclass

from layerbot.analysis.memo import cached_property
from layerbot.analysis.shell import Command


@dataclass(frozen=True)
class _Counted:
    calls = 0  # a class attribute, not a field
    value: int

    @cached_property
    def doubled(self) -> int:
        """Twice the value."""
        _Counted.calls += 1
        return self.value * 2


def test_computed_once_per_instance_even_on_a_frozen_dataclass() -> None:
    _Counted.calls = 0
    first, second = _Counted(2), _Counted(3)
    assert (first.doubled, first.doubled, second.doubled) == (4, 4, 6)
    assert _Counted.calls == 2
    assert first == _Counted(2)  # the cached value is not a field


def test_read_on_the_class_gives_the_descriptor_and_its_doc() -> None:
    assert _Counted.doubled.__doc__ == "Twice the value."


def test_engine_objects_use_it() -> None:
    command = Command(("/usr/bin/apt-get", "update"), "/usr/bin/apt-get update")
    assert command.program == "apt-get"
    assert vars(command)["program"] == "apt-get"
