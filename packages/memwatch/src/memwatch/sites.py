"""Allocation sites: tracemalloc's live memory per source line, as a census records it.

When tracemalloc is tracing, a census also records, per ``file:line``, the
bytes and blocks allocated there and still alive; a diff then names the lines
whose live memory changed most. This module is the one place that turns a
tracemalloc snapshot into sites and compares two censuses' sites.

What a site table leaves out: tracemalloc's own file, every file of memwatch
itself, and the lines of :func:`ctypes.string_at`, where a census copies its
ids (with tracemalloc's default single frame those bytes would otherwise show
up as a site of their own, held by a baseline census).

This module is internal to memwatch: its names may change in any release.
"""

from __future__ import annotations

import fnmatch
import functools
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from memwatch.layout import list_items_offset
from memwatch.models import AllocationSite

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["SiteTable", "record_sites", "site_changes", "split_sites"]

SiteTable: TypeAlias = dict[str, int]
"""Per site key ``"file:line"``: a figure (live bytes, or live blocks).

Keys are strings, not ``(file, line)`` tuples: a dict of atomic keys and values
is not tracked by the collector (up to 3.13), so a held census's site tables
never show up in the next census.
"""

_OWN_FILES = str(Path(__file__).resolve().parent / "*")


def record_sites() -> tuple[SiteTable, SiteTable]:
    """Live traced bytes and blocks per ``file:line``, minus tracemalloc's and memwatch's own.

    Call it only while tracemalloc is tracing. Sites are grouped first and
    filtered after: ``Snapshot.filter_traces`` runs pattern matching in Python
    for every trace, seconds on a large heap, while there are only a few
    thousand sites.
    """
    copies = _census_copy_lines()
    snapshot = tracemalloc.take_snapshot()
    sizes: SiteTable = {}
    counts: SiteTable = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        if _is_own_file(frame.filename) or (frame.filename, frame.lineno) in copies:
            continue
        key = f"{frame.filename}:{frame.lineno}"
        sizes[key] = stat.size
        counts[key] = stat.count
    return sizes, counts


def split_sites(sizes: SiteTable, counts: SiteTable) -> dict[tuple[str, int], tuple[int, int]]:
    """The two tables :func:`record_sites` made, as ``(file, line) -> (bytes, blocks)``."""
    sites = {}
    for key, size in sizes.items():
        file, _, line = key.rpartition(":")
        sites[file, int(line)] = (size, counts[key])
    return sites


def site_changes(
    before: Mapping[tuple[str, int], tuple[int, int]] | None,
    after: Mapping[tuple[str, int], tuple[int, int]] | None,
    limit: int,
) -> tuple[AllocationSite, ...]:
    """The lines whose live traced memory changed most, as ``compare_to(..., "lineno")``.

    A census keeps per-line totals rather than the whole tracemalloc snapshot
    (which holds every live trace), so the comparison is made here. Empty
    unless both censuses recorded sites; at most ``limit`` sites, the largest
    absolute byte change first.
    """
    if before is None or after is None:
        return ()
    changes: list[AllocationSite] = []
    for file, line in {**before, **after}:
        size_was, count_was = before.get((file, line), (0, 0))
        size_now, count_now = after.get((file, line), (0, 0))
        if size_now != size_was or count_now != count_was:
            changes.append(
                AllocationSite(
                    file=file,
                    line=line,
                    size_bytes=size_now - size_was,
                    count=count_now - count_was,
                )
            )
    changes.sort(key=lambda site: (-abs(site.size_bytes), -abs(site.count), site.file, site.line))
    return tuple(changes[:limit])


@functools.cache
def _census_copy_lines() -> frozenset[tuple[str, int]]:
    """The lines of ``ctypes.string_at``, where a census's id copies are allocated.

    Empty where the census takes ids with ``id()`` instead (no verified list
    layout): ctypes' lines are then the application's own.
    """
    if list_items_offset() is None:
        return frozenset()
    import ctypes  # noqa: PLC0415 - imported already by list_items_offset

    code = getattr(ctypes.string_at, "__code__", None)
    if code is None:  # pragma: no cover - a string_at written in C
        return frozenset()
    return frozenset((code.co_filename, line) for _, _, line in code.co_lines() if line)


@functools.lru_cache(maxsize=4096)
def _is_own_file(filename: str) -> bool:
    return filename == tracemalloc.__file__ or fnmatch.fnmatch(filename, _OWN_FILES)
