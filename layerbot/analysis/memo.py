"""Answers worked out once per parse, though several rules ask for them.

Every layer rule asks which commands a RUN runs; the package-cache, cleanup and merge rules
all ask which deletions in a stage come late and which index updates run apart from their
install. :func:`per_parse` keeps each answer on the parse object it is about (an
``Instruction``, a ``Stage`` or a ``Dockerfile``), so the answer lives and dies with that parse
and no other file ever sees it; unlike a bounded cache, it never evicts and re-reads on a file
with thousands of RUNs. :class:`cached_property` is the same idea for one attribute.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

# ``typing`` only for the type checker: importing it costs ``layerbot check`` 2 ms at start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Concatenate, ParamSpec, TypeVar

    Owner = TypeVar("Owner")
    Item = TypeVar("Item")
    Arguments = ParamSpec("Arguments")


def per_parse(
    function: Callable[Concatenate[Owner, Arguments], list[Item]],
) -> Callable[Concatenate[Owner, Arguments], list[Item]]:
    """``function(owner, *others)`` computed once per ``owner`` and identity of the ``others``
    (parts of the same parse, such as one of its stages); each caller gets a list of its own."""

    @functools.wraps(function)
    def cached(owner: Owner, /, *args: Arguments.args, **kwargs: Arguments.kwargs) -> list[Item]:
        assert not kwargs, "per_parse functions take positional arguments only"
        memo: dict[object, tuple[tuple[object, ...], list[Item]]]
        memo = vars(owner).setdefault("_per_parse", {})
        key = (function, *map(id, args))
        found = memo.get(key)
        if found is None:
            # The arguments are kept with the answer, so that no other object takes their ids.
            found = memo[key] = (args, function(owner, *args, **kwargs))
        return list(found[1])

    return cached


if TYPE_CHECKING:
    from functools import cached_property as cached_property
else:

    class cached_property:
        """``functools.cached_property`` without its lock.

        On Python 3.11 the standard one takes a lock on every first access (3.12 dropped it),
        which costs more than most of the attributes it caches here: every instruction's
        flags and commands, every command's program. The value lands in the instance's
        ``__dict__``, so later reads never reach this descriptor; two threads reading a fresh
        object at once may both compute it, which is harmless for these pure answers.
        """

        def __init__(self, function):
            self.function = function
            self.name = function.__name__
            self.__doc__ = function.__doc__

        def __set_name__(self, owner, name):
            self.name = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = instance.__dict__[self.name] = self.function(instance)
            return value
