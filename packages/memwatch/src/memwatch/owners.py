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
``details`` shape is kept and no per-object filtering is needed.

Cost: the referents of the instances of classes with a ``__dict__`` are listed
a chunk at a time in C, and dicts, methods and closures are filtered and
grouped by C-level ``map``/``compress`` loops. No Python int or tuple is made
per part: a census may run inside a tracing window, where every allocation is
a tracemalloc trace (about 2 us each with 20 frames). Only closures are looked
at one by one, and only those with cells. No reference is kept once it
returns, except in the result.
"""

from __future__ import annotations

import gc
import sys
import types
from collections import defaultdict, deque
from itertools import compress, repeat
from operator import attrgetter, is_, sub
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["OwnedParts", "owned_parts"]

_CHUNK = 16384
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes defined in Python
# Read through ``type`` itself so that a metaclass cannot intercept them.
_FLAGS = type.__dict__["__flags__"]
_DICTOFFSET = type.__dict__["__dictoffset__"]
_SELF = attrgetter("__self__")
_CLOSURE = attrgetter("__closure__")
# Put after each type's instances in the run of _own_dicts: its one referent marks the end.
_BOUNDARY: dict[str, str] = {}
_MARK = (_BOUNDARY,)


@attrs.frozen(eq=False)
class OwnedParts:
    """Parts owned by instances, per owner type's ``id()`` and kind of part.

    Attributes:
        dicts: The dicts (exact ``dict``) each owner type's instances own.
        methods: Their bound methods.
        closures: The closures over them.
    """

    dicts: dict[int, list[object]] = attrs.field(repr=False)
    methods: dict[int, list[object]] = attrs.field(repr=False)
    closures: dict[int, list[object]] = attrs.field(repr=False)

    @property
    def parts(self) -> dict[int, list[object]]:
        """Per owner type's ``id()``, all its parts (dicts, methods, closures)."""
        merged: dict[int, list[object]] = {}
        for kind in (self.dicts, self.methods, self.closures):
            for owner, found in kind.items():
                merged.setdefault(owner, []).extend(found)
        return merged

    @property
    def claimed(self) -> set[int]:
        """The ids of every part, made on demand (a census does not need them)."""
        return {id(part) for found in self.parts.values() for part in found}

    def moved_bytes(
        self, size_of: Callable[[type, list[object]], int]
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Bytes to add to each owner type's row, and to take off each part type's row.

        Both keyed by the type's ``id()``; each part is sized once, by ``size_of``.
        """
        gained: defaultdict[int, int] = defaultdict(int)
        lost: defaultdict[int, int] = defaultdict(int)
        kinds = (
            (dict, self.dicts),
            (types.MethodType, self.methods),
            (types.FunctionType, self.closures),
        )
        for part_type, kind in kinds:
            for owner, found in kind.items():
                size = size_of(part_type, found)
                gained[owner] += size
                lost[id(part_type)] += size
        return dict(gained), dict(lost)


def owned_parts(groups: Iterable[list[object]]) -> OwnedParts:
    """Find the parts each instance in ``groups`` owns.

    Args:
        groups: Objects grouped by exact type, as a census groups them (the
            lists are the census's own: a tracked ``__dict__`` is in one of them).

    Returns:
        The parts per owner type.
    """
    # Keyed by the type's id: an application class may be unhashable (its metaclass).
    by_type = {id(type(objects[0])): objects for objects in groups if objects}
    owners = {ident for ident, objects in by_type.items() if _is_owner(type(objects[0]))}
    with_dicts = [
        (ident, by_type[ident])
        for ident in owners
        if _DICTOFFSET.__get__(type(by_type[ident][0]), type)
    ]
    dicts = _own_dicts(with_dicts)
    methods = by_type.get(id(types.MethodType), [])
    owner_types = _hashable(type(by_type[ident][0]) for ident in owners)
    closures, holders = _closures(by_type.get(id(types.FunctionType), []), owner_types, owners)
    return OwnedParts(
        dicts=dicts,
        methods=_by_owner(methods, list(map(_SELF, methods)), owners),
        closures=_by_owner(closures, holders, owners),
    )


def _is_owner(tp: type) -> bool:
    flags: int = _FLAGS.__get__(tp, type)
    return bool(flags & _HEAPTYPE) and not issubclass(tp, (type, types.ModuleType))


def _own_dicts(owner_groups: list[tuple[int, list[object]]]) -> dict[int, list[object]]:
    """Per owner type's id, the dicts its instances refer to that nothing else holds.

    Each one's ``__dict__``, and an attribute whose value is a dict held by that
    instance alone: it is the instance's as much as its ``__dict__`` is. A dict
    qualifies when its reference count, less the census's group list (when
    gc-tracked) and what this function's own list adds, is one.

    Every type's instances go through one run of chunks, each type's followed by
    :data:`_MARK`, whose one referent (:data:`_BOUNDARY`) tells in the referents
    where that type's end: a few allocations per chunk, not a few dozen per type.
    """
    batch: list[object] = []
    for _, instances in owner_groups:
        batch.extend(instances)
        batch.append(_MARK)
    alone = (_our_references() + 1).__eq__
    found: dict[int, list[object]] = {}
    position = 0
    current: list[object] | None = None
    for start in range(0, len(batch), _CHUNK):
        referents = gc.get_referents(*batch[start : start + _CHUNK])
        dicts = list(compress(referents, map(is_, map(type, referents), repeat(dict))))
        del referents  # it holds each dict once more
        holders = map(sub, map(sys.getrefcount, dicts), map(gc.is_tracked, dicts))
        for part, owned in zip(dicts, list(map(alone, holders)), strict=True):
            if part is _BOUNDARY:
                position += 1
                current = None
            elif owned:
                if current is None:
                    current = found[owner_groups[position][0]] = []
                current.append(part)
    return found


def _our_references() -> int:
    """What ``map(sys.getrefcount, a_list)`` reads for an item nothing else holds.

    Measured rather than assumed: how the interpreter counts references on its
    own stack changes between versions.
    """
    return next(map(sys.getrefcount, [{"held by": "the list alone"}]))


def _by_owner(
    parts: list[object], holders: list[object], owners: set[int]
) -> dict[int, list[object]]:
    """``parts`` grouped by the type of the instance each one's holder is, owners only.

    Grouped by the type itself in C; a type that cannot be a key (its metaclass)
    makes it group again by the types' ids, one int per part.
    """
    groups: defaultdict[object, list[object]] = defaultdict(list)
    append = list.append
    try:
        deque(map(append, map(groups.__getitem__, map(type, holders)), parts), 0)
    except Exception:  # noqa: BLE001 - an unhashable class, or a metaclass's __eq__ that raises
        groups.clear()
        deque(map(append, map(groups.__getitem__, map(id, map(type, holders))), parts), 0)
        return {key: found for key, found in groups.items() if key in owners}
    return {id(tp): found for tp, found in groups.items() if id(tp) in owners}


def _closures(
    functions: list[object], owner_types: set[type], owners: set[int]
) -> tuple[list[object], list[object]]:
    """The functions whose cells hold an owner instance, and that instance (the first cell's)."""
    found: list[object] = []
    holders: list[object] = []
    with_cells = list(compress(functions, map(_CLOSURE, functions)))
    for function, cells in zip(with_cells, map(_CLOSURE, with_cells), strict=True):
        for cell in cells:
            try:
                held = cell.cell_contents
            except ValueError:  # an empty cell: a variable not bound yet
                continue
            if _is_owner_type(type(held), owner_types, owners):
                found.append(function)
                holders.append(held)
                break
    return found, holders


def _hashable(classes: Iterable[type]) -> set[type]:
    """The classes that can be set members (a metaclass may make a class unhashable)."""
    found: set[type] = set()
    for tp in classes:
        _add_hashable(found, tp)
    return found


def _add_hashable(found: set[type], tp: type) -> None:
    # Not contextlib.suppress: its object and bound methods, made per type, are traced
    # inside a window. An unhashable class is left to the id check of _is_owner_type.
    try:  # noqa: SIM105 - see above
        found.add(tp)
    except Exception:  # noqa: BLE001, S110 - see above
        pass


def _is_owner_type(tp: type, owner_types: set[type], owners: set[int]) -> bool:
    """Whether ``tp`` is an owner type: by hash, else (unhashable) by id."""
    try:
        return tp in owner_types
    except Exception:  # noqa: BLE001 - an unhashable class, or its hash raises
        return id(tp) in owners
