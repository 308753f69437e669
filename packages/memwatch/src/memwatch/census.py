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

A census never raises for anything the heap holds. How a type is named and
sized without running its own code is ``memwatch.layout``'s job; the
allocation sites are ``memwatch.sites``'.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import time
import tracemalloc
from collections import defaultdict, deque
from itertools import chain, compress, repeat
from operator import is_not
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import attrs

from memwatch.layout import ids_bytes, list_items_offset, read_module, read_qualname, shallow_bytes
from memwatch.own import is_memwatch_name
from memwatch.owners import owned_parts
from memwatch.sites import SiteTable, record_sites, split_sites

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["Census", "TypeTally", "bookkeeping", "is_bookkeeping", "take_census", "type_name"]

_T = TypeVar("_T", bound=type)

# Objects are grouped a chunk at a time; the time budget is checked between chunks.
_CHUNK = 16384

_BOOKKEEPING: set[type] = set()


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


def is_bookkeeping(tp: type) -> bool:
    """Whether instances of ``tp`` are memwatch's own bookkeeping (see :func:`bookkeeping`).

    Never raises, even for a class whose metaclass makes it unhashable.
    """
    try:
        return tp in _BOOKKEEPING
    except Exception:  # noqa: BLE001 - an unhashable class is not one of memwatch's own
        return False


def type_name(tp: type) -> str:
    """The name a census gives a type: ``module.QualName``, builtins bare.

    Never raises, and runs none of the type's own code: both names are read past
    any metaclass and copied to plain ``str``, so a str subclass's ``__hash__``
    or ``__eq__`` is never called. A type whose ``__module__`` is missing or not
    a string is named by its qualified name alone.

    Args:
        tp: Any type.

    Returns:
        For example ``"dict"``, ``"collections.OrderedDict"`` or
        ``"myapp.models.User.Cache"``.
    """
    qualname = read_qualname(tp)
    module = read_module(tp)
    if module is None or module == "builtins":
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
    # Per allocation site: live bytes and blocks; None when not traced.
    _site_sizes: SiteTable | None = attrs.field(repr=False, alias="site_sizes")
    _site_counts: SiteTable | None = attrs.field(repr=False, alias="site_counts")

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
        return MappingProxyType(split_sites(self._site_sizes, self._site_counts))


def take_census(
    *, time_budget: float | None = None, trace_sites: bool = True, owners: bool = True
) -> Census:
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
    object: a class that cannot be hashed is grouped by identity, a type whose
    name cannot be read is counted as ``"<unnamed type>"``, and an object that
    cannot be sized (its ``__sizeof__`` fails, or :func:`sys.getsizeof` was
    patched to answer nonsense) is counted at its basic size.

    Args:
        time_budget: Seconds the census may take. When they run out, the census
            stops, keeps what it saw and is marked ``partial``; the clock is read
            once every few ten thousand objects, so it may run over by a little.
            ``None``: no limit.
        trace_sites: When tracemalloc is tracing, also record the live memory of
            each allocation site (file and line).
        owners: Size each instance's own ``__dict__``, bound methods and closures
            under the instance's type (guppy's "dict of X"), not under ``dict``,
            ``method`` and ``function``; see :mod:`memwatch.owners`.

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
    list_items_offset()  # its first call imports ctypes: before the heap is listed
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        groups, partial = _group_by_type(deadline)
        tallies, ids, cut = _tally(groups, deadline, owners=owners)
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
            site_sizes, site_counts = record_sites()
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    starts: dict[str, int] = {}
    position = 0
    for name, (count, size) in tallies.items():
        counts[name] = count
        sizes[name] = size
        starts[name] = position
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
        ids=ids,
        site_sizes=site_sizes,
        site_counts=site_counts,
    )


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _group_by_type(deadline: float | None) -> tuple[dict[object, list[object]], bool]:
    """Every tracked object, grouped by exact type, oldest generation first.

    Oldest first keeps each type's ids in a stable order from one census to the
    next (the oldest generation changes least), which lets a diff skip the long
    common prefix of two censuses. The caller has paused automatic collection,
    so no object moves between generations while the three are listed.

    Groups are keyed by the type itself, the fastest key. A class that cannot
    be a key (its metaclass defines ``__eq__`` without ``__hash__``, or its hash
    or ``==`` raises) stops that, and the heap is grouped again by the types'
    ids, at about twice the cost; either way a group holds one exact type.
    """
    old = gc.get_objects(generation=2)
    middle = gc.get_objects(generation=1)
    young = gc.get_objects(generation=0)
    # The three lists were born in the youngest generation: drop them from it, by
    # identity and without an id() (an int, traced inside a window) per object.
    for own in (old, middle, young):
        young = list(compress(young, map(is_not, young, repeat(own))))
    generations = (old, middle, young)
    # Outside the handler, so that the failed attempt's groups are freed before the retry.
    with contextlib.suppress(Exception):
        return _group(generations, deadline, by_identity=False)
    return _group(generations, deadline, by_identity=True)


def _group(
    generations: Iterable[list[object]], deadline: float | None, *, by_identity: bool
) -> tuple[dict[object, list[object]], bool]:
    """Group the objects by their type (or its id), minus the bookkeeping types."""
    groups: defaultdict[object, list[object]] = defaultdict(list)
    group_of = groups.__getitem__
    append = list.append
    partial = False
    for objects in generations:
        for position in range(0, len(objects), _CHUNK):
            # Checked before each chunk but the first: a census always makes some progress.
            if groups and _expired(deadline):
                partial = True
                break
            chunk = objects[position : position + _CHUNK]
            # C-level bulk work: no Python bytecode runs per object.
            keys = map(id, map(type, chunk)) if by_identity else map(type, chunk)
            deque(map(append, map(group_of, keys), chunk), 0)
        if partial:
            break
    for tp in _BOOKKEEPING:
        groups.pop(id(tp) if by_identity else tp, None)
    return groups, partial


def _tally(
    groups: dict[object, list[object]], deadline: float | None, *, owners: bool = True
) -> tuple[dict[str, tuple[int, int]], bytes, bool]:
    """Count and shallow bytes per type name (types sharing a name are merged), and the ids.

    The ids come in one block, name after name in the order first seen, copied
    in one go rather than type by type: inside a tracing window each copy's
    handful of allocations is traced, and a heap has thousands of types.

    With ``owners``, the bytes of each instance's own parts (its ``__dict__``,
    bound methods, closures: :mod:`memwatch.owners`) move from their own types'
    rows to the instance's type; counts and ids stay where they are.
    """
    tallies: dict[str, tuple[int, int]] = {}
    members: dict[str, list[list[object]]] = {}
    gained: dict[int, int] = {}
    lost: dict[int, int] = {}
    cut = False
    if owners:
        gained, lost = owned_parts(groups.values()).moved_bytes(shallow_bytes)
    for objects in groups.values():
        if tallies and _expired(deadline):
            cut = True
            break
        tp = type(objects[0])  # a group holds objects of one exact type, at least one
        name = type_name(tp)
        if is_memwatch_name(name):
            # memwatch's own models (the reports, samples and profiles it keeps while a
            # capture runs) are not the application's growth, nor are their parts.
            continue
        size = shallow_bytes(tp, objects)
        ident = id(tp)  # once: each int made is a traced allocation inside a window
        if ident in gained or ident in lost:
            size += gained.get(ident, 0) - lost.get(ident, 0)
        if name in tallies:
            count0, size0 = tallies[name]
            tallies[name] = (count0 + len(objects), size0 + size)
            members[name].append(objects)
        else:
            tallies[name] = (len(objects), size)
            members[name] = [objects]
    ordered = list(chain.from_iterable(chain.from_iterable(members.values())))
    members.clear()
    return tallies, ids_bytes(ordered), cut
