"""Untracked data: what grown containers gained that no census can count.

str, bytes, int, float (and C objects such as numpy arrays) are not
gc-tracked, so a census sees a dict cache of rendered pages as one dict
growing by a few kilobytes while megabytes of strings pile up in it. They live
in containers, though, and containers are tracked: a dict, list, set or deque
whose item count grows is where the untracked data is.

Cheaply: a baseline records the item count of every container holding at
least ``min_items`` items (one pass over the tracked heap, ``len`` in C); the
second pass finds the containers that grew most, and for each, sizes the
untracked data the newest items hold (the last ones of a dict, list or deque;
any for a set): untracked items, and the untracked values of tracked items
(an instance's bytes payload), and scales that sample to the items gained.
Holders are named by their retention chain (``memwatch.referrers``):
``app._RENDERED_BODIES (dict): +12,000 items, +18.2 mb``. Only ids and counts
are kept between the passes.
"""

from __future__ import annotations

import gc
import sys
import types
from collections import Counter, OrderedDict, defaultdict, deque
from itertools import compress, islice

import attrs

from memwatch.census import bookkeeping, is_bookkeeping, type_name
from memwatch.explained import GrownContainer
from memwatch.referrers import trace_given
from memwatch.retention import is_own

__all__ = ["ContainerCounts", "GrownContainer", "count_containers", "grown_containers"]

_CONTAINER_IDS = frozenset(map(id, (dict, list, set, deque, OrderedDict, defaultdict)))
#: Containers smaller than this are not followed: a cache that leaks gets past it fast.
MIN_ITEMS = 256
_CHUNK = 4096
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python
_HOLDER_IDS = frozenset(map(id, (dict, OrderedDict, defaultdict, types.CellType)))
#: Newest items sized per grown container.
SAMPLE_ITEMS = 512
#: Referents of tracked items listed per grown container, at most (about 5 ms of work).
REFERENT_BUDGET = 1 << 16
#: Levels below an item that its untracked data is looked for (an item, its
#: objects, their payloads: ``(Session, Session)`` -> ``Session`` -> ``bytes``).
DESCENT = 2
#: An untracked value with more holders than this is shared, not an item's.
MAX_HOLDERS = 2
_COLLECTION_IDS = frozenset(map(id, (tuple, list, dict, set, frozenset, deque)))


@bookkeeping
@attrs.frozen(eq=False)
class ContainerCounts:
    """Item counts of the large containers at one moment; ids and numbers only.

    Attributes:
        counts: Per container id, its item count.
        min_items: The smallest count recorded.
    """

    counts: dict[int, int] = attrs.field(repr=False)
    min_items: int


def count_containers(*, min_items: int = MIN_ITEMS) -> ContainerCounts:
    """Record the item count of every dict, list, set and deque with ``min_items`` or more.

    Args:
        min_items: Smaller containers are left out.

    Returns:
        The counts, to pass to :func:`grown_containers` later.
    """
    counts = {id(obj): size for obj, size in _large(gc.get_objects(), min_items)}
    return ContainerCounts(counts=counts, min_items=min_items)


def _large(objects: list[object], min_items: int) -> list[tuple[object, int]]:
    """Containers with ``min_items`` or more, tracked or not, each once.

    A dict holding only str, bytes and numbers is not gc-tracked (up to 3.13),
    which is exactly what a cache of rendered pages is. Such a dict is found
    among the referents of what holds it: a module's, class's or instance's
    dict, an instance with inline attributes or slots, a closure's cell. Only
    those holders' referents are listed (in C, a chunk at a time), not every
    tuple's and list's.
    """
    # Types are compared by id: an application class may be unhashable (its metaclass).
    is_container = _CONTAINER_IDS.__contains__
    own = _bookkeeping_parts(objects)
    kinds = dict(zip(map(id, map(type, objects)), map(type, objects), strict=True))
    holder_ids = {
        ident for ident, tp in kinds.items() if ident in _HOLDER_IDS or tp.__flags__ & _HEAPTYPE
    }
    is_holder = holder_ids.__contains__
    found: dict[int, tuple[object, int]] = {}
    for start in range(0, len(objects), _CHUNK):
        chunk = objects[start : start + _CHUNK]
        holders = list(compress(chunk, map(is_holder, map(id, map(type, chunk)))))
        for candidates in (chunk, gc.get_referents(*holders)):
            containers = list(
                compress(candidates, map(is_container, map(id, map(type, candidates))))
            )
            for obj, size in zip(containers, map(len, containers), strict=True):
                if size >= min_items and id(obj) not in own:
                    found[id(obj)] = (obj, size)
    return list(found.values())


def _bookkeeping_parts(objects: list[object]) -> set[int]:
    """Ids of the containers memwatch's own bookkeeping holds (a census's tables)."""
    own = list(compress(objects, map(is_bookkeeping, map(type, objects))))
    return set(map(id, gc.get_referents(*own)))


def grown_containers(
    before: ContainerCounts,
    *,
    top: int = 5,
    sample_items: int = SAMPLE_ITEMS,
    time_budget: float | None = 2.0,
) -> tuple[GrownContainer, ...]:
    """The containers that gained most items since ``before``, with their untracked bytes.

    A container not in ``before`` counts from zero (it was new, or smaller
    than ``before.min_items``).

    Args:
        before: Counts from :func:`count_containers`.
        top: At most this many containers.
        sample_items: Newest items sized per container.
        time_budget: Seconds the retention search for the holders may take.

    Returns:
        The containers, most items gained first (ties by type name).
    """
    objects = gc.get_objects()
    growth = [
        (size - before.counts.get(id(obj), 0), obj)
        for obj, size in _large(objects, before.min_items)
        if size > before.counts.get(id(obj), 0)
    ]
    del objects
    growth.sort(key=lambda item: (-item[0], type_name(type(item[1]))))
    del growth[top:]
    # A value counts once, for the container that gained most: one the others share
    # (a dict key, a constant, the loggers both a registry and its placeholders hold) too.
    counted: set[int] = set()
    grown = [
        (id(obj), type_name(type(obj)), gained, *_untracked(obj, gained, sample_items, counted))
        for gained, obj in growth
    ]
    containers = [(type_name(type(obj)), obj) for _, obj in growth]
    growth.clear()  # the search counts references: hold each container once
    holders = _holders(containers, time_budget)
    merged: dict[tuple[str, str], GrownContainer] = {}
    for ident, what, gained, size, seen in grown:
        holder = holders.get(ident, "")
        if holder is None:
            continue  # memwatch's own, reached from where it was mounted
        key = (holder, what) if holder else (str(ident), what)
        found = merged.get(key)
        if found is None:
            merged[key] = GrownContainer(what, holder, gained, size, seen)
        else:  # containers on the same chain (one per instance of a class): one row
            merged[key] = attrs.evolve(
                found,
                items=found.items + gained,
                size_bytes=found.size_bytes + size,
                untracked_types=tuple(dict.fromkeys((*found.untracked_types, *seen))),
            )
    return tuple(merged.values())


def _newest(container: object, count: int) -> list[object]:
    """The last ``count`` items (keys and values for a dict), newest first where ordered."""
    if isinstance(container, dict):
        pairs = islice(reversed(container.items()), count)
        return [part for pair in pairs for part in pair]
    if isinstance(container, (list, deque)):
        return list(islice(reversed(container), count))
    return list(islice(iter(container), count))  # type: ignore[call-overload]


def _untracked(
    container: object, gained: int, sample_items: int, counted: set[int]
) -> tuple[int, tuple[str, ...]]:
    """Estimated untracked bytes the ``gained`` items brought, and the value types seen.

    Values whose ids are in ``counted`` were counted already (they are added).
    """
    per_item, types = _untracked_per_item(container, min(gained, sample_items), counted)
    return int(per_item * gained), types


def _untracked_per_item(
    container: object, count: int, counted: set[int]
) -> tuple[float, tuple[str, ...]]:
    """Mean bytes of untracked values per item among the newest ``count``, and their types.

    A value is counted when at most :data:`MAX_HOLDERS` objects refer to it:
    one that many items share (a constant, an interned name, a blob every
    session points at) is nobody's growth, and scaling the sample up to the
    items gained would multiply it.
    """
    if count <= 0:
        return 0.0, ()
    try:
        values = _newest(container, count)
    except RuntimeError:  # changed size during iteration: another thread is filling it
        return 0.0, ()
    sampled = len(values)
    if not sampled:
        return 0.0, ()
    owned, looked = _owned_untracked(values)
    del values  # from here on, the values' holders are the heap's and `owned`'s alone
    occurrences = Counter(map(id, owned))
    sizes: Counter[str] = Counter()
    for value in owned:
        if id(value) in counted:
            continue
        counted.add(id(value))
        # getrefcount's argument and this loop's variable are two more references.
        if sys.getrefcount(value) - 2 - occurrences[id(value)] <= MAX_HOLDERS:
            sizes[type_name(type(value))] += _deep_size(value)
    total = sum(sizes.values())
    # A dict's items are two values each; the budget may have stopped the look early.
    return total / (count * looked / sampled), tuple(name for name, _ in sizes.most_common())


def _owned_untracked(values: list[object]) -> tuple[list[object], int]:
    """The untracked values among ``values``, and those they hold, up to :data:`DESCENT` levels.

    A cache of objects (``SESSIONS.append((Session(payload=bytearray(1024)), ...))``)
    grows by tracked items that the census counts at their shallow size, while
    each one's bytes, str or array, usually the bulk of it, is untracked. So
    tracked values are followed into what they refer to: collections and
    instances of classes defined in Python (with their attribute dicts, which
    cost no level), never classes, modules or functions. Values are looked at
    in order until :data:`REFERENT_BUDGET` referents were listed.

    Returns:
        The untracked values found (a value held twice is listed twice), and how
        many of ``values`` were looked at.
    """
    found: list[object] = []
    expanded: set[int] = set()
    listed = 0
    for looked, value in enumerate(values, 1):
        level = [value]
        for depth in range(DESCENT + 1):
            deeper: list[object] = []
            for obj in level:
                if not gc.is_tracked(obj):
                    found.append(obj)
                elif depth < DESCENT and id(obj) not in expanded and _followed(obj):
                    expanded.add(id(obj))
                    deeper.extend(_parts(obj, expanded))
            listed += len(deeper)
            level = deeper
        if listed >= REFERENT_BUDGET:
            return found, looked
    return found, len(values)


def _followed(obj: object) -> bool:
    """Whether a tracked value's referents are its own data: a collection or an instance."""
    tp = type(obj)
    return id(tp) in _COLLECTION_IDS or bool(tp.__flags__ & _HEAPTYPE and not isinstance(obj, type))


def _parts(obj: object, expanded: set[int]) -> list[object]:
    """What ``obj`` refers to; for an instance, its attribute dict's contents too.

    The attribute dicts are marked ``expanded``: their contents are listed here,
    not again at the next level.
    """
    parts = gc.get_referents(obj)
    if type(obj).__flags__ & _HEAPTYPE:
        attribute_dicts = [part for part in parts if type(part) is dict]
        expanded.update(map(id, attribute_dicts))
        parts += gc.get_referents(*attribute_dicts)
    return parts


def _deep_size(value: object) -> int:
    """The size of an untracked value; an untracked tuple holds untracked values only."""
    try:
        size = sys.getsizeof(value)
    except Exception:  # noqa: BLE001 - an extension's __sizeof__ may fail: count nothing
        return 0
    if type(value) is tuple:
        size += sum(map(_deep_size, value))
    return size


def _holders(
    containers: list[tuple[str, object]], time_budget: float | None
) -> dict[int, str | None]:
    """Each container's retention chain as one line, by id; empties ``containers``.

    ``None`` marks a container held through memwatch itself or its dependencies.
    """
    if not containers:
        return {}
    return {
        ident: None if is_own(chain) else " ".join((chain[0], *chain[2]))
        for _, ident, chain in trace_given(containers, time_budget=time_budget)
        if chain[1] not in {"unreachable", "search limit"}
    }
