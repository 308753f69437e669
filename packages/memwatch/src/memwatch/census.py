"""Heap census: this process's gc-tracked objects, grouped by type.

A census lists every object :func:`gc.get_objects` returns and keeps, per type
name, how many there were, their shallow size (what :func:`sys.getsizeof`
reports) and their identities (``id()`` values, 8 bytes each). It never keeps a
reference to a heap object, so holding a census keeps nothing alive.

What a census cannot see:

- Objects the collector does not track: ``str``, ``bytes``, ``int``, ``float``,
  and tuples and dicts that hold only such atomic values. Their memory shows up
  only through the containers that hold them, or through tracemalloc's
  allocation sites when tracemalloc is tracing.
- Objects hidden by :func:`gc.freeze`; a census reports how many there are in
  :attr:`Census.frozen_objects`.

Identities are ``id()`` values, and CPython reuses an address once its object
is freed. An id present in two censuses may therefore name two different
objects: of the same type, it counts as neither allocated nor freed; of
different types, it counts under each type separately, since identities are
compared type by type. Node's memwatch has the same blind spot.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import gc
import sys
import time
import tracemalloc
from array import array
from collections import defaultdict, deque
from itertools import compress
from operator import not_
from pathlib import Path
from types import MappingProxyType, MethodDescriptorType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Census", "TypeTally", "bookkeeping", "take_census", "type_name"]

_T = TypeVar("_T", bound=type)

# Objects are grouped a chunk at a time; the time budget is checked between chunks.
_CHUNK = 4096
_ID_BYTES = 8

# Read through ``type`` itself so that a metaclass cannot intercept them.
_QUALNAME = type.__dict__["__qualname__"]
_MODULE = type.__dict__["__module__"]
_MRO = type.__dict__["__mro__"]
_TYPE_DICT = type.__dict__["__dict__"]
_ITEMSIZE = type.__dict__["__itemsize__"]
_OBJECT_SIZEOF = object.__dict__["__sizeof__"]

_BOOKKEEPING: set[type] = set()
_OWN_FILES = str(Path(__file__).resolve().parent / "*")


def bookkeeping(cls: _T) -> _T:
    """Class decorator: instances of ``cls`` are memwatch's own bookkeeping.

    No census counts them, so holding a census (or anything else so marked)
    between two censuses does not show up in their diff.

    Args:
        cls: The class to exclude from every census.

    Returns:
        ``cls`` itself.
    """
    _BOOKKEEPING.add(cls)
    return cls


def type_name(tp: type) -> str:
    """The name a census gives a type: ``module.QualName``, builtins bare.

    Never raises: a type whose ``__module__`` is missing or not a string is
    named by its qualified name alone.

    Args:
        tp: Any type.

    Returns:
        For example ``"dict"``, ``"collections.OrderedDict"`` or
        ``"myapp.models.User.Cache"``.
    """
    qualname: str = _QUALNAME.__get__(tp, type)
    try:
        module = _MODULE.__get__(tp, type)
    except Exception:  # noqa: BLE001 - a heap type may have deleted its __module__
        return qualname
    if not isinstance(module, str) or module == "builtins":
        return qualname
    return f"{module}.{qualname}"


class TypeTally(NamedTuple):
    """One type's line in a census.

    Attributes:
        nodes: How many objects of that type the census saw.
        size_bytes: Their total shallow size, as :func:`sys.getsizeof` reports it.
        ids: Their ``id()`` values, a read-only ``memoryview`` of format ``"Q"``.
    """

    nodes: int
    size_bytes: int
    ids: memoryview


@bookkeeping
@attrs.frozen(eq=False)
class Census:
    """One census of the gc-tracked heap; immutable once taken.

    Build one with :func:`take_census`. It holds numbers and ids only, never a
    reference to a heap object: about 8 bytes per object seen plus a few
    hundred bytes per type.

    Attributes:
        taken_at: When the census began (aware, UTC).
        nodes: Objects counted.
        size_bytes: Their total shallow size.
        frozen_objects: ``gc.get_freeze_count()`` at census time: objects hidden
            from the census by :func:`gc.freeze`.
        partial: True when the time budget ran out before the whole heap was seen.
        elapsed_seconds: How long the census took.
    """

    taken_at: dt.datetime
    nodes: int
    size_bytes: int
    frozen_objects: int
    partial: bool
    elapsed_seconds: float
    _counts: dict[str, int] = attrs.field(repr=False, alias="counts")
    _sizes: dict[str, int] = attrs.field(repr=False, alias="sizes")
    _starts: dict[str, int] = attrs.field(repr=False, alias="starts")
    _ids: bytes = attrs.field(repr=False, alias="ids")
    # Per allocation site ("file:line"): live bytes and blocks; None when not traced.
    _site_sizes: dict[str, int] | None = attrs.field(repr=False, alias="site_sizes")
    _site_counts: dict[str, int] | None = attrs.field(repr=False, alias="site_counts")

    @property
    def types(self) -> Mapping[str, TypeTally]:
        """Per type name: object count, shallow bytes and ids, in the order first seen."""
        ids = memoryview(self._ids).cast("Q")
        tallies = {}
        for name, count in self._counts.items():
            start = self._starts[name]
            tallies[name] = TypeTally(count, self._sizes[name], ids[start : start + count])
        return MappingProxyType(tallies)

    @property
    def sites(self) -> Mapping[tuple[str, int], tuple[int, int]] | None:
        """Per allocation site ``(file, line)``: live traced bytes and blocks.

        ``None`` when tracemalloc was not tracing (or ``trace_sites`` was off,
        or the time budget ran out first). tracemalloc's and memwatch's own
        files are left out.
        """
        if self._site_sizes is None or self._site_counts is None:
            return None
        sites = {}
        for key, size in self._site_sizes.items():
            file, _, line = key.rpartition(":")
            sites[file, int(line)] = (size, self._site_counts[key])
        return MappingProxyType(sites)


def take_census(*, time_budget: float | None = None, trace_sites: bool = True) -> Census:
    """Count the gc-tracked objects of this process by type.

    The census covers what :func:`gc.get_objects` returns: containers and
    instances, not ``str``/``bytes``/``int``/``float`` nor untracked tuples and
    dicts (see the module docstring). It never counts memwatch's own
    bookkeeping: its own temporary lists, the lists :func:`gc.get_objects`
    returns, and any :class:`Census` or other :func:`bookkeeping` instance.
    Automatic collection is paused while the census holds every object (a
    collection then could free nothing) and resumed afterwards.

    Never call it inside a :data:`gc.callbacks` callback: the lists it builds
    would keep that collection's garbage alive. It never raises for an odd
    object: a type whose ``__sizeof__`` fails is counted at its basic size.

    Args:
        time_budget: Seconds the census may take. When they run out, the census
            stops, keeps what it saw and is marked ``partial``; the clock is read
            once every few thousand objects, so it may run over by a little.
            ``None``: no limit.
        trace_sites: When tracemalloc is tracing, also record the live memory of
            each allocation site (file and line).

    Returns:
        The census.

    Raises:
        ValueError: ``time_budget`` is negative.
    """
    if time_budget is not None and time_budget < 0:
        raise ValueError(f"time_budget must be >= 0 seconds, got {time_budget!r}")
    started = time.perf_counter()
    deadline = None if time_budget is None else started + time_budget
    taken_at = dt.datetime.now(dt.timezone.utc)
    frozen = gc.get_freeze_count()
    _list_items_offset()  # its first call imports ctypes: before the heap is listed
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        groups, partial = _group_by_type(deadline)
        tallies, cut = _tally(groups, deadline)
        del groups
    finally:
        if was_enabled:
            gc.enable()
    partial = partial or cut
    site_sizes = site_counts = None
    if trace_sites and tracemalloc.is_tracing():
        if _expired(deadline):
            partial = True
        else:
            site_sizes, site_counts = _trace_sites()
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    starts: dict[str, int] = {}
    pieces: list[bytes] = []
    position = 0
    for name, (count, size, ids) in tallies.items():
        counts[name] = count
        sizes[name] = size
        starts[name] = position
        pieces.extend(ids)
        position += count
    return Census(
        taken_at=taken_at,
        nodes=position,
        size_bytes=sum(sizes.values()),
        frozen_objects=frozen,
        partial=partial,
        elapsed_seconds=time.perf_counter() - started,
        counts=counts,
        sizes=sizes,
        starts=starts,
        ids=b"".join(pieces),
        site_sizes=site_sizes,
        site_counts=site_counts,
    )


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _group_by_type(deadline: float | None) -> tuple[dict[type, list[object]], bool]:
    """Every tracked object, grouped by exact type, oldest generation first.

    Oldest first keeps each type's ids in a stable order from one census to the
    next (the oldest generation changes least), which lets a diff skip the long
    common prefix of two censuses. The caller has paused automatic collection,
    so no object moves between generations while the three are listed.
    """
    old = gc.get_objects(generation=2)
    middle = gc.get_objects(generation=1)
    young = gc.get_objects(generation=0)
    # The first two lists were born in the youngest generation: drop them from it.
    own = {id(old), id(middle), id(young)}
    young = list(compress(young, map(not_, map(own.__contains__, map(id, young)))))
    groups: defaultdict[type, list[object]] = defaultdict(list)
    group_of = groups.__getitem__
    append = list.append
    for objects in (old, middle, young):
        for position in range(0, len(objects), _CHUNK):
            # Checked before each chunk but the first: a census always makes some progress.
            if groups and _expired(deadline):
                return _without_bookkeeping(groups), True
            chunk = objects[position : position + _CHUNK]
            # C-level bulk work: no Python bytecode runs per object.
            deque(map(append, map(group_of, map(type, chunk)), chunk), 0)
    return _without_bookkeeping(groups), False


def _without_bookkeeping(groups: dict[type, list[object]]) -> dict[type, list[object]]:
    for tp in _BOOKKEEPING:
        groups.pop(tp, None)
    return groups


def _tally(
    groups: dict[type, list[object]], deadline: float | None
) -> tuple[dict[str, tuple[int, int, list[bytes]]], bool]:
    """Count, shallow bytes and ids per type name (types sharing a name are merged)."""
    tallies: dict[str, tuple[int, int, list[bytes]]] = {}
    for tp, objects in groups.items():
        if tallies and _expired(deadline):
            return tallies, True
        name = type_name(tp)
        size = _shallow_bytes(tp, objects)
        ids = _ids_bytes(objects)
        if name in tallies:
            count0, size0, pieces = tallies[name]
            pieces.append(ids)
            tallies[name] = (count0 + len(objects), size0 + size, pieces)
        else:
            tallies[name] = (len(objects), size, [ids])
    return tallies, False


def _find_sizeof(tp: type) -> object:
    """``tp.__sizeof__`` as ``sys.getsizeof`` finds it (the MRO, not the metaclass)."""
    for base in _MRO.__get__(tp, type):
        impl = _TYPE_DICT.__get__(base, type).get("__sizeof__")
        if impl is not None:
            return impl
    return None  # pragma: no cover - every MRO ends with object, which has one


def _shallow_bytes(tp: type, objects: list[object]) -> int:
    """What ``sum(map(sys.getsizeof, objects))`` gives, several times faster.

    ``sys.getsizeof`` looks ``__sizeof__`` up on every call and adds a header
    (the gc header, and on 3.12+ the pre-header) that is fixed per type. For a
    type whose ``__sizeof__`` is implemented in C, calling that implementation
    directly and adding the header once per object gives the same figure; when
    it is ``object.__sizeof__`` on a fixed-size type every object has the same
    size. Anything else (a ``__sizeof__`` written in Python, or one that fails)
    goes through ``sys.getsizeof`` object by object, with a fallback.
    """
    impl = _find_sizeof(tp)
    if type(impl) is MethodDescriptorType:
        try:
            first = objects[0]
            full = sys.getsizeof(first)
            if impl is _OBJECT_SIZEOF and _ITEMSIZE.__get__(tp, type) == 0:
                return full * len(objects)
            header = full - int(impl(first))
            return int(sum(map(impl, objects))) + header * len(objects)
        except Exception:  # noqa: BLE001, S110 - measured object by object below
            pass
    return sum(map(_guarded_getsizeof, objects))


def _guarded_getsizeof(obj: object) -> int:
    try:
        return sys.getsizeof(obj)
    except Exception:  # noqa: BLE001 - a broken __sizeof__ must not break the census
        return int(_OBJECT_SIZEOF(obj))


def _ids_bytes(objects: list[object]) -> bytes:
    """The ``id()`` of every object in ``objects``, packed as native ``"Q"`` items."""
    offset = _list_items_offset()
    if offset is None or not objects:
        return _ids_by_id(objects)
    return _ids_by_memory(objects, offset)


def _ids_by_id(objects: list[object]) -> bytes:
    return array("Q", map(id, objects)).tobytes()


def _ids_by_memory(objects: list[object], offset: int) -> bytes:
    """Copy a list's item pointers, which on CPython are the items' ``id()`` values.

    One memcpy instead of one int object per item; only used once
    :func:`_list_items_offset` has verified the list layout on this interpreter.
    """
    import ctypes  # noqa: PLC0415 - only on interpreters that passed the layout check

    items = ctypes.c_void_p.from_address(id(objects) + offset).value
    return ctypes.string_at(items, _ID_BYTES * len(objects)) if items else b""


@functools.cache
def _list_items_offset() -> int | None:
    """Where a list keeps its item pointer, if this interpreter is laid out as expected.

    CPython's list is ``{refcnt, type, size, items, allocated}``. Debug,
    free-threaded or other builds differ; there the check fails and ids are
    taken with ``id()`` instead.
    """
    if sys.implementation.name != "cpython":  # pragma: no cover - CPython only here
        return None
    try:
        import ctypes  # noqa: PLC0415 - optional: some embedded builds lack it
    except ImportError:  # pragma: no cover
        return None
    if ctypes.sizeof(ctypes.c_void_p) != _ID_BYTES:  # pragma: no cover - 64-bit only here
        return None
    probe: list[object] = [_T, _BOOKKEEPING, _CHUNK]
    # Five words lie within any list object on any build; read nothing beyond them.
    # (No ctypes array type: it would be a new class, freed later and seen by a census.)
    words = tuple(ctypes.c_size_t.from_address(id(probe) + i * _ID_BYTES).value for i in range(5))
    if not _is_list_header(words, probe):
        return None  # pragma: no cover - a non-default build
    offset = 3 * _ID_BYTES
    if _ids_by_memory(probe, offset) != _ids_by_id(probe):  # pragma: no cover
        return None
    return offset


def _is_list_header(words: tuple[int, ...], probe: list[object]) -> bool:
    """Whether ``words`` read at ``id(probe)`` look like a default-build list header."""
    return (
        len(words) == 5
        and words[1] == id(list)
        and words[2] == len(probe)
        and words[3] != 0
        and words[4] >= len(probe)
    )


@functools.cache
def _census_copy_lines() -> frozenset[tuple[str, int]]:
    """The lines of ``ctypes.string_at``, where a census's id copies are allocated.

    With tracemalloc's default single frame those bytes are attributed to
    ``ctypes/__init__.py`` and would show up as an allocation site of their own.
    """
    if _list_items_offset() is None:
        return frozenset()
    import ctypes  # noqa: PLC0415 - imported already by _list_items_offset

    code = getattr(ctypes.string_at, "__code__", None)
    if code is None:  # pragma: no cover - a string_at written in C
        return frozenset()
    return frozenset((code.co_filename, line) for _, _, line in code.co_lines() if line)


@functools.lru_cache(maxsize=4096)
def _is_own_file(filename: str) -> bool:
    return filename == tracemalloc.__file__ or fnmatch.fnmatch(filename, _OWN_FILES)


def _trace_sites() -> tuple[dict[str, int], dict[str, int]]:
    """Live traced bytes and blocks per ``file:line``, minus tracemalloc's and memwatch's own.

    Sites are grouped first and filtered after: ``Snapshot.filter_traces`` runs
    pattern matching in Python for every trace, seconds on a large heap, while
    there are only a few thousand sites.
    """
    copies = _census_copy_lines()
    snapshot = tracemalloc.take_snapshot()
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        if _is_own_file(frame.filename) or (frame.filename, frame.lineno) in copies:
            continue
        key = f"{frame.filename}:{frame.lineno}"
        sizes[key] = stat.size
        counts[key] = stat.count
    return sizes, counts
