"""One pass of the retention search: exactly a frontier's referrers, however chunks are tested."""

from __future__ import annotations

import gc
import sys
from array import array
from typing import TYPE_CHECKING

from hypothesis import given
from hypothesis import strategies as st

from memwatch.referrer_scan import (
    _FEW,
    CACHE_BYTES_PER_OBJECT,
    ReferentCache,
    _membership,
    scan_referrers,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


class Leaf:
    """An object whose referrers the tests count."""


_ids = st.integers(min_value=0, max_value=2**64 - 1)


@given(frontier=st.sets(_ids, min_size=1, max_size=12), others=st.lists(_ids, max_size=40))
def test_membership_never_misses_a_frontier_id(frontier: set[int], others: list[int]) -> None:
    """The chunk test says "maybe" whenever a frontier id is among the packed ids."""
    refers = _membership(frontier)
    for ident in frontier:
        packed = array("Q", [*others[:20], ident, *others[20:]]).tobytes()
        assert refers(packed)


@given(frontier=st.sets(_ids, min_size=1, max_size=12), others=st.lists(_ids, max_size=40))
def test_membership_of_absent_ids(frontier: set[int], others: list[int]) -> None:
    """A set-based test answers "no" exactly when no frontier id is among the packed ids."""
    refers = _membership(frontier)
    packed = array("Q", others).tobytes()
    if frontier.isdisjoint(others) and len(frontier) > _FEW:
        assert not refers(packed)
    if not frontier.isdisjoint(others):
        assert refers(packed)


def _scan(frontier: Sequence[object], objects: list[object]) -> dict[int, list[int]]:
    """Run one pass for ``frontier``, with every reference to be found, twice (cache reused)."""
    cache = ReferentCache(room=CACHE_BYTES_PER_OBJECT * len(objects))
    results = []
    for _ in range(2):
        # A count no pass can reach: the pass runs over the whole heap.
        remaining = {id(obj): sys.maxsize for obj in frontier}
        hits = scan_referrers(objects, remaining, {id(objects)}, None, cache)
        assert hits is not None
        results.append({id(obj): children for obj, children in hits})
    first, second = results
    assert first == second
    return first


def _expected(frontier: Sequence[object], objects: list[object]) -> dict[int, list[int]]:
    """The same from gc.get_referents object by object, the heap list left out as the pass does."""
    wanted = {id(obj) for obj in frontier}
    found = {}
    for obj in objects:
        if obj is objects:
            continue
        children = sorted(wanted.intersection(map(id, gc.get_referents(obj))))
        if children:
            found[id(obj)] = children
    return found


def test_one_leaf_held_by_a_large_list_and_a_dict() -> None:
    """A frontier of one id (byte search) finds both holders, one of them a 20k-item list."""
    leaf = Leaf()
    big = [Leaf() for _ in range(20_000)]
    big.insert(12_345, leaf)
    holder = {"leaf": leaf}
    objects = gc.get_objects()
    hits = _scan([leaf], objects)
    assert hits == _expected([leaf], objects)
    assert {id(big), id(holder)} <= set(hits)
    del objects


def test_many_leaves_held_here_and_there() -> None:
    """A frontier of many ids (set test) finds every holder and the ids each refers to."""
    leaves = [Leaf() for _ in range(30)]
    big = [Leaf() for _ in range(20_000)]
    big[500:500] = leaves[:10]
    pairs = [(leaf, leaf) for leaf in leaves[10:20]]
    table = {f"k{i}": leaf for i, leaf in enumerate(leaves[20:])}
    objects = gc.get_objects()
    hits = _scan(leaves, objects)
    assert hits == _expected(leaves, objects)
    assert hits[id(big)] == sorted(map(id, leaves[:10]))
    assert all(id(pair) in hits for pair in pairs)
    assert hits[id(table)] == sorted(map(id, leaves[20:]))
    del objects
