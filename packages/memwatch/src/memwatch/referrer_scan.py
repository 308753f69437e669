"""One pass of the backward search: which objects of the heap refer to a set of ids.

The referents of a chunk of objects are listed in C (:func:`gc.get_referents`),
their ids copied out in one block (:func:`memwatch.layout.ids_bytes`) and tested
in C against the frontier; only a chunk with a hit is looked at more closely.
Chunks are visited from both ends of the heap inwards, and a pass stops once
every reference to the frontier it expects has been found.

Costs: a chunk's referent ids are listed once per search and kept for the
next passes (at most :data:`CACHE_BYTES_PER_OBJECT` per heap object), so a
later pass only tests bytes. Testing against a set makes an int per id; for a
frontier of a few ids, a byte search per id is several times faster.

This module is internal to memwatch: its names may change in any release.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import TYPE_CHECKING

import attrs

from memwatch.layout import ids_bytes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["CACHE_BYTES_PER_OBJECT", "ReferentCache", "scan_referrers"]

# Referents are listed a chunk of objects at a time, in C; only a chunk with a hit is
# looked at id by id.
_CHUNK = 256
# A chunk with a hit is cut in this many parts, each tested again before its objects are.
_PARTS = 16
# Up to this many frontier ids, chunks are tested by a byte search per id, not a set.
_FEW = 4
#: The referent ids kept between passes: at most this many bytes per heap object
#: (a heap averages 2-3 referents, 16-24 bytes, per tracked object).
CACHE_BYTES_PER_OBJECT = 32
_ID_BYTES = 8


@attrs.define
class ReferentCache:
    """Referent ids per chunk, kept between the passes of one search.

    Attributes:
        blobs: Per chunk start, the packed ids its objects refer to.
        room: Bytes that may still be kept.
    """

    blobs: dict[int, bytes] = attrs.Factory(dict)
    room: int = 0

    def keep(self, start: int, ids: bytes) -> None:
        """Keep a chunk's ids if there is room left."""
        if len(ids) <= self.room:
            self.blobs[start] = ids
            self.room -= len(ids)


def scan_referrers(
    objects: list[object],
    remaining: dict[int, int],
    skip: set[int],
    deadline: float | None,
    cache: ReferentCache,
) -> list[tuple[object, list[int]]] | None:
    """One pass: the objects referring to a frontier id, with those ids.

    Args:
        objects: The heap, as the search listed it.
        remaining: Per frontier id, the references to it not found yet; counted
            down, and the pass ends when none is left to find.
        skip: Ids of objects never to report (the search's own).
        deadline: ``time.perf_counter()`` value past which the pass gives up.
        cache: Referent ids kept from the search's earlier passes.

    Returns:
        ``(referrer, sorted frontier ids it refers to)``; ``None`` when time ran out.
    """
    hits: list[tuple[object, list[int]]] = []
    frontier = set(remaining)
    refers = _membership(frontier)
    left = sum(max(0, count) for count in remaining.values())
    for start in _outside_in(len(objects)):
        if left <= 0:
            break
        if deadline is not None and time.perf_counter() > deadline:
            return None
        chunk = objects[start : start + _CHUNK]
        ids = cache.blobs.get(start)
        if ids is None:
            ids = ids_bytes(gc.get_referents(*chunk))
            cache.keep(start, ids)
        if not refers(ids):
            continue
        for obj, counts in _referring(chunk, frontier, refers):
            if id(obj) in skip:
                continue
            hits.append((obj, sorted(counts)))
            for child, count in counts.items():
                left -= min(count, max(0, remaining[child]))
                remaining[child] -= count
    return hits


def _membership(frontier: set[int]) -> Callable[[bytes], bool]:
    """A test of whether packed ``"Q"`` ids may hold a frontier id (never a false "no").

    Testing the ids against the set makes an int of each; for a few frontier ids,
    searching the bytes for each one's 8 bytes is several times faster. Such a
    match may straddle two ids: :func:`_referring` finds the referrers exactly.
    """
    if len(frontier) > _FEW:
        return lambda ids: not frontier.isdisjoint(memoryview(ids).cast("Q"))
    needles = [ident.to_bytes(_ID_BYTES, sys.byteorder) for ident in frontier]
    return lambda ids: any(map(ids.__contains__, needles))


def _outside_in(length: int) -> Iterator[int]:
    """Chunk starts from both ends inwards: the oldest objects first, then the newest, and so on.

    What holds a new object is mostly either long-lived (a global cache, at the
    old end of the heap list) or itself new (at the young end), so both ends
    first let a pass stop early once every referrer has been found.
    """
    starts = range(0, length, _CHUNK)
    for low, high in zip(starts[: (len(starts) + 1) // 2], reversed(starts), strict=False):
        yield low
        if high != low:
            yield high


def _referring(
    chunk: list[object], frontier: set[int], refers: Callable[[bytes], bool]
) -> list[tuple[object, dict[int, int]]]:
    """The objects of ``chunk`` that refer to frontier ids, and how often to each.

    The chunk's referents passed ``refers``. It is cut in parts whose referents
    are tested again in C; in a part with a hit, each object's referents are
    matched against the frontier. A large container is thus listed three
    times, not once per halving.
    """
    found: list[tuple[object, dict[int, int]]] = []
    step = max(1, len(chunk) // _PARTS)
    for start in range(0, len(chunk), step):
        part = chunk[start : start + step]
        if len(part) < len(chunk) and not refers(ids_bytes(gc.get_referents(*part))):
            continue
        for obj in part:
            matches = list(filter(frontier.__contains__, map(id, gc.get_referents(obj))))
            if matches:
                counts: dict[int, int] = {}
                for child in matches:
                    counts[child] = counts.get(child, 0) + 1
                found.append((obj, counts))
    return found
