"""Owner-aware rows: an instance's own parts counted under the instance's type.

Ordered by shallow bytes, a diff ranks an application class below its own
parts: ``dict`` (each instance's ``__dict__``), ``method`` (the bound methods
registered as listeners), ``function`` (closures over the instance). guppy
calls the first "dict of X". :func:`owned_parts` finds, for the instances of
each class in a census's groups, the parts only they hold:

- its ``__dict__`` (or a dict attribute), when referenced by that instance alone
  (on 3.13 a ``__dict__`` whose values are still inline is not a gc referent of
  its instance, and stays in the ``dict`` row);
- bound methods whose ``__self__`` is the instance;
- closures whose first cell holding an instance of a class holds this one.

A census then moves those parts' bytes from their own types' rows to the
owner's row. Counts and ids (``+``/``-``) stay where they are, so the seed's
``details`` shape is kept and no per-object filtering is needed (under
tracemalloc every filtered id would be a traced allocation).

Cost: the referents of the instances of classes with a ``__dict__`` are listed
a chunk at a time in C; methods and closures are looked at through C-level
attribute getters. No reference is kept once it returns, except in the result.
"""

from __future__ import annotations

import gc
import sys
import types
from collections import defaultdict
from operator import attrgetter
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = ["OwnedParts", "owned_parts"]

_CHUNK = 4096
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes defined in Python
# Read through ``type`` itself so that a metaclass cannot intercept them.
_FLAGS = type.__dict__["__flags__"]
_DICTOFFSET = type.__dict__["__dictoffset__"]


@attrs.frozen(eq=False)
class OwnedParts:
    """Parts owned by instances, per owner type.

    Attributes:
        parts: Per owner type's ``id()``, the part objects (dicts, methods, closures).
        claimed: The ids of every part, to leave out of their own types' rows.
    """

    parts: dict[int, list[object]] = attrs.field(repr=False)
    claimed: set[int] = attrs.field(repr=False)

    def moved_bytes(
        self, size_of: Callable[[type, list[object]], int]
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Bytes to add to each owner type's row, and to take off each part type's row.

        Both keyed by the type's ``id()``; each part is sized once, by ``size_of``.
        """
        gained: dict[int, int] = {}
        lost: defaultdict[int, int] = defaultdict(int)
        for owner, parts in self.parts.items():
            by_type: defaultdict[int, list[object]] = defaultdict(list)
            for part in parts:
                by_type[id(type(part))].append(part)
            total = 0
            for part_type, group in by_type.items():
                size = size_of(type(group[0]), group)
                lost[part_type] += size
                total += size
            gained[owner] = total
        return gained, dict(lost)


def owned_parts(groups: Iterable[list[object]]) -> OwnedParts:
    """Find the parts each instance in ``groups`` owns.

    Args:
        groups: Objects grouped by exact type, as a census groups them (the
            lists are the census's own: a tracked ``__dict__`` is in one of them).

    Returns:
        The parts per owner type and their ids.
    """
    # Keyed by the type's id: an application class may be unhashable (its metaclass).
    by_type = {id(type(objects[0])): objects for objects in groups if objects}
    owners = {ident for ident, objects in by_type.items() if _is_owner(type(objects[0]))}
    parts: defaultdict[int, list[object]] = defaultdict(list)
    claimed: set[int] = set()
    for ident in owners:
        instances = by_type[ident]
        if _DICTOFFSET.__get__(type(instances[0]), type):
            for part in _own_dicts(instances):
                if id(part) not in claimed:
                    claimed.add(id(part))
                    parts[ident].append(part)
    for part, owner in _bound_methods(by_type.get(id(types.MethodType), []), owners):
        claimed.add(id(part))
        parts[owner].append(part)
    for part, owner in _closures(by_type.get(id(types.FunctionType), []), owners):
        claimed.add(id(part))
        parts[owner].append(part)
    return OwnedParts(parts=dict(parts), claimed=claimed)


def _is_owner(tp: type) -> bool:
    flags: int = _FLAGS.__get__(tp, type)
    return bool(flags & _HEAPTYPE) and not issubclass(tp, (type, types.ModuleType))


def _own_dicts(instances: list[object]) -> list[object]:
    """The dicts the instances refer to that nothing else holds: each one's ``__dict__``.

    An attribute whose value is a dict held by that instance alone passes too:
    it is the instance's as much as its ``__dict__`` is.
    """
    ours = _our_references()
    found: list[object] = []
    for start in range(0, len(instances), _CHUNK):
        dicts = [
            ref for ref in gc.get_referents(*instances[start : start + _CHUNK]) if type(ref) is dict
        ]
        # Held by the owner, plus the census's group list when gc-tracked.
        found.extend(
            dicts[index]
            for index in range(len(dicts))
            if _references(dicts, index) - ours - gc.is_tracked(dicts[index]) == 1
        )
    return found


def _references(dicts: Sequence[object], index: int) -> int:
    return sys.getrefcount(dicts[index])


def _our_references() -> int:
    """What :func:`_references` reads for a dict beyond its real holders, measured.

    Measured rather than assumed: how the interpreter counts references on its
    own stack changes between versions.
    """
    probe = {"held by": None}  # held once, by this local
    return _references([probe], 0) - 1


def _bound_methods(methods: list[object], owners: set[int]) -> list[tuple[object, int]]:
    selves = list(map(attrgetter("__self__"), methods))
    return [
        (method, id(type(owner)))
        for method, owner in zip(methods, selves, strict=True)
        if id(type(owner)) in owners
    ]


def _closures(functions: list[object], owners: set[int]) -> list[tuple[object, int]]:
    found = []
    for function, cells in zip(functions, map(attrgetter("__closure__"), functions), strict=True):
        if not cells:
            continue
        for cell in cells:
            try:
                held = cell.cell_contents
            except ValueError:  # an empty cell: a variable not bound yet
                continue
            if id(type(held)) in owners:
                found.append((function, id(type(held))))
                break
    return found
