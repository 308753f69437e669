"""Referrer chains: a bounded backward search from objects to the roots that hold them.

Each level of depth is one pass over the gc-tracked heap
(:mod:`memwatch.referrer_scan`), which ends early once every node has been
found as often as its reference count says. All objects share one search, the
frontier keeps only nodes whose objects have no root yet, and depth, node and
time limits stop it. No :func:`gc.get_referrers`. Once it returns, nothing
here holds a reference to an application object, and the chains hold names
only.
"""

from __future__ import annotations

import gc
import sys
import time
from itertools import compress, repeat
from operator import is_not
from typing import TYPE_CHECKING

import attrs

from memwatch.census import type_name
from memwatch.layout import ids_bytes
from memwatch.referrer_scan import CACHE_BYTES_PER_OBJECT, ReferentCache, scan_referrers
from memwatch.roots import UNREACHABLE, DictEntries, RootKind, Roots, frames_of, name_chain

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["Chain", "trace_given", "trace_objects"]

#: One object's chain: the root's label, its kind, and the edges down to the object.
Chain = tuple[str, RootKind, tuple[str, ...]]


@attrs.define
class _Search:
    """The state of one backward search; internal, dropped when the search returns."""

    nodes: dict[int, object] = attrs.Factory(dict)
    origins: dict[int, int] = attrs.Factory(dict)
    children: dict[int, list[int]] = attrs.Factory(dict)
    parents: dict[int, list[int]] = attrs.Factory(dict)
    roots: dict[int, tuple[str, RootKind]] = attrs.Factory(dict)
    resolved: dict[int, int] = attrs.Factory(dict)
    sampled: set[int] = attrs.Factory(set)
    unresolved: int = 0
    stopped: str = ""
    referents: ReferentCache = attrs.Factory(ReferentCache)


def trace_objects(
    ids_by_type: Mapping[str, Sequence[int]],
    *,
    max_depth: int = 24,
    max_nodes: int = 20_000,
    time_budget: float | None = 5.0,
) -> list[tuple[str, int, Chain]]:
    """The chain of each object behind ``ids_by_type``, one search for them all.

    Args:
        ids_by_type: Per census type name, the ids of the objects.
        max_depth: See :func:`explain_retention`.
        max_nodes: See :func:`explain_retention`.
        time_budget: See :func:`explain_retention`.

    Returns:
        ``(type name, id, (root, kind, edges))`` per object found alive.
    """
    objects = _heap()
    samples = _resolve(objects, ids_by_type)
    return _trace(objects, samples, max_depth, max_nodes, time_budget)


def trace_given(
    samples: list[tuple[str, object]],
    *,
    max_depth: int = 24,
    max_nodes: int = 20_000,
    time_budget: float | None = 5.0,
) -> list[tuple[str, int, Chain]]:
    """Like :func:`trace_objects`, for objects in hand (untracked ones too).

    Args:
        samples: ``(label, object)`` pairs. The list is emptied: once the
            search returns, nothing here refers to the objects.
        max_depth: See :func:`explain_retention`.
        max_nodes: See :func:`explain_retention`.
        time_budget: See :func:`explain_retention`.

    Returns:
        ``(label, id, (root, kind, edges))`` per object.
    """
    labels = [label for label, _ in samples]
    held = [obj for _, obj in samples]
    samples.clear()  # its pairs would be referrers of the objects, found in the heap
    objects = _heap()  # ``held`` is in it: the search skips it
    mine = list(zip(labels, held, strict=True))
    held.clear()
    return _trace(objects, mine, max_depth, max_nodes, time_budget, own={id(held)})


def _trace(
    objects: list[object],
    samples: list[tuple[str, object]],
    max_depth: int,
    max_nodes: int,
    time_budget: float | None,
    *,
    own: frozenset[int] | set[int] = frozenset(),
) -> list[tuple[str, int, Chain]]:
    deadline = None if time_budget is None else time.perf_counter() + time_budget
    try:
        search = _Search()
        for bit, (_, sample) in enumerate(samples):
            search.nodes[id(sample)] = sample
            search.sampled.add(id(sample))
            search.origins[id(sample)] = search.origins.get(id(sample), 0) | (1 << bit)
        sample = None  # not a reference of ours while referrers are counted
        search.unresolved = (1 << len(samples)) - 1
        _run(search, objects, max_depth, max_nodes, deadline, own=own)
        objects.clear()
        return _describe(search, samples)
    finally:
        samples.clear()
        search = None  # type: ignore[assignment]


def _heap() -> list[object]:
    """Every tracked object, oldest generation first: holders are mostly older than the held."""
    old = gc.get_objects(generation=2)
    middle = gc.get_objects(generation=1)
    young = gc.get_objects(generation=0)
    # The lists themselves are young (or middle-aged, if a collection ran meanwhile).
    for own in (old, middle, young):
        middle = list(compress(middle, map(is_not, middle, repeat(own))))
        young = list(compress(young, map(is_not, young, repeat(own))))
    old.extend(middle)
    old.extend(young)
    return old


def _resolve(
    objects: list[object], ids_by_type: Mapping[str, Sequence[int]]
) -> list[tuple[str, object]]:
    wanted = {ident: name for name, ids in ids_by_type.items() for ident in ids}
    ids = memoryview(ids_bytes(objects)).cast("Q")  # one copy, not an id() call per object
    alive = compress(objects, map(wanted.__contains__, ids))
    return [(wanted[id(obj)], obj) for obj in alive if type_name(type(obj)) == wanted[id(obj)]]


def _run(
    search: _Search,
    objects: list[object],
    max_depth: int,
    max_nodes: int,
    deadline: float | None,
    *,
    own: frozenset[int] | set[int],
) -> None:
    roots = Roots.collect()
    search.referents.room = CACHE_BYTES_PER_OBJECT * len(objects)
    # This thread's frames hold the search's own locals: never a referrer to report.
    skip = {id(frame) for frame in frames_of(sys._getframe())} | {id(objects), *own}  # noqa: SLF001
    frontier = set(search.nodes)
    for ident in frontier:
        _mark_root(search, ident, roots.node_root(ident))
    for _depth in range(max_depth):
        frontier = {n for n in frontier if search.origins[n] & search.unresolved}
        if not frontier:
            return
        expected = _expected_referrers(search, frontier)
        hits = scan_referrers(objects, expected, skip, deadline, search.referents)
        if hits is None:
            search.stopped = "time budget"
            return
        next_frontier: set[int] = set()
        while hits:
            parent, child_ids = hits.pop()
            if not _adopt(
                search,
                roots,
                parent,
                child_ids=child_ids,
                next_frontier=next_frontier,
                max_nodes=max_nodes,
            ):
                search.stopped = "node limit"
                return
            del parent
        frontier = {n for n in next_frontier if n not in search.roots}
    search.stopped = "depth limit"


def _adopt(
    search: _Search,
    roots: Roots,
    parent: object,
    *,
    child_ids: list[int],
    next_frontier: set[int],
    max_nodes: int,
) -> bool:
    """Record ``parent`` as a referrer of ``child_ids``; False when the node limit is reached."""
    pid = id(parent)
    known = pid in search.nodes
    if not known:
        if len(search.nodes) >= max_nodes:
            return False
        search.nodes[pid] = parent
        search.origins[pid] = 0
        next_frontier.add(pid)
    bits = 0
    for child in child_ids:
        search.children.setdefault(pid, []).append(child)
        search.parents.setdefault(child, []).append(pid)
        bits |= search.origins[child]
    _spread(search, pid, bits)
    if not known:
        _mark_root(search, pid, roots.parent_root(parent) or roots.node_root(pid))
    return True


def _expected_referrers(search: _Search, frontier: set[int]) -> dict[int, int]:
    """Per frontier id, the references to it that the heap holds (its refcount minus ours).

    Ours: :func:`sys.getrefcount`'s argument, ``search.nodes``, the heap list
    (for a tracked object), and for a sample its entry in the sample list. Once
    every frontier node has been found that many times the pass can stop early. A reference the
    pass cannot see (a C static, a running frame's local) only keeps the count
    above zero, so the pass then runs to the end: never a missed referrer.
    """
    getrefcount = sys.getrefcount
    nodes = search.nodes
    sampled = search.sampled
    is_tracked = gc.is_tracked
    return {n: getrefcount(nodes[n]) - 2 - is_tracked(nodes[n]) - (n in sampled) for n in frontier}


def _spread(search: _Search, start: int, bits: int) -> None:
    """Add sample bits to ``start`` and every ancestor found so far; resolve at roots."""
    todo = [(start, bits)]
    while todo:
        node, new = todo.pop()
        new &= ~search.origins[node]
        if not new:
            continue
        search.origins[node] |= new
        if node in search.roots:
            _resolve_bits(search, node, new)
        todo.extend((parent, new) for parent in search.parents.get(node, ()))


def _mark_root(search: _Search, node: int, root: tuple[str, RootKind] | None) -> None:
    if root is None:
        return
    search.roots[node] = root
    _resolve_bits(search, node, search.origins[node])


def _resolve_bits(search: _Search, root: int, bits: int) -> None:
    bits &= search.unresolved
    bit = 0
    while bits >> bit:
        if bits >> bit & 1:
            search.resolved[bit] = root
        bit += 1
    search.unresolved &= ~bits


def _describe(search: _Search, samples: list[tuple[str, object]]) -> list[tuple[str, int, Chain]]:
    """Each sample's chain as (root, kind, edges), or why there is none."""
    chains: list[list[object] | None] = []
    entries = DictEntries()
    for bit, (_, obj) in enumerate(samples):
        root = search.resolved.get(bit)
        if root is None:
            chains.append(None)
            continue
        found = [search.nodes[node] for node in _chain(search, root, id(obj), 1 << bit)]
        entries.want(found)
        chains.append(found)
    described: list[tuple[str, int, Chain]] = []
    for bit, ((name, obj), objs) in enumerate(zip(samples, chains, strict=True)):
        if objs is not None:
            label, kind = search.roots[search.resolved[bit]]
            chain = name_chain(objs, label, kind, entries)
        elif search.stopped:
            chain = (f"search limit: {search.stopped}", "search limit", ())
        else:
            chain = (UNREACHABLE, "unreachable", ())
        described.append((name, id(obj), chain))
    return described


def _chain(search: _Search, root: int, sample: int, mask: int) -> list[int]:
    """Node ids from ``root`` down to ``sample`` through nodes that carry ``mask``."""
    came_from = {root: root}
    queue = [root]
    for node in queue:
        if node == sample:
            break
        for child in search.children.get(node, ()):
            if child not in came_from and search.origins.get(child, 0) & mask:
                came_from[child] = node
                queue.append(child)
    chain = [sample]
    while chain[-1] != root:
        chain.append(came_from[chain[-1]])
    chain.reverse()
    return chain
