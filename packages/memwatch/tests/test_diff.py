"""Tests of heap diffs against real allocations: "+"/"-" by identity, sorting, caps, sites."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch import diff as diff_module
from memwatch.census import take_census, type_name
from memwatch.diff import HeapDiff, diff_censuses
from memwatch.models import DiffDetail, HeapDiffReport


def own_size(obj: object) -> int:
    """What a census sizes an instance at: itself and the ``__dict__`` gc sees it hold."""
    return sys.getsizeof(obj) + sum(
        sys.getsizeof(ref) for ref in gc.get_referents(obj) if type(ref) is dict
    )


class Leaky:
    """Instances stand for objects a service leaks."""

    def __init__(self, value: int = 0) -> None:
        self.value = value


class Alpha:
    """Same size as Beta: ties in byte change are broken by name."""

    __slots__ = ("x",)


class Beta:
    """Same size as Alpha."""

    __slots__ = ("x",)


class Vanishing:
    """All instances are freed between the two censuses."""


def detail(report: HeapDiffReport, tp: type) -> DiffDetail:
    """The report's line for ``tp``."""
    (line,) = [d for d in report.change.details if d.what == type_name(tp)]
    return line


def test_allocated_objects_show_as_plus_with_their_bytes() -> None:
    """Objects created between the censuses count as "+" for their type, with their bytes."""
    keep: list[Leaky] = []
    hd = HeapDiff()
    keep.extend(Leaky(i) for i in range(250))
    report = hd.end()
    line = detail(report, Leaky)
    assert (line.allocated, line.freed) == (250, 0)
    assert line.size_bytes == 250 * own_size(keep[0])
    assert report.change.allocated_nodes >= 250


def test_freed_objects_show_as_minus() -> None:
    """Objects present in the baseline and gone afterwards count as "-" with negative bytes."""
    doomed = [Leaky(i) for i in range(120)]
    survivors = [Leaky(i) for i in range(30)]
    size = own_size(doomed[0])
    hd = HeapDiff()
    del doomed
    report = hd.end()
    line = detail(report, Leaky)
    assert (line.allocated, line.freed) == (0, 120)
    assert line.size_bytes == -120 * size
    assert report.change.freed_nodes >= 120
    assert len(survivors) == 30


def test_a_type_that_disappears_or_appears_entirely() -> None:
    """A type with no objects left, or none before, is diffed against nothing."""
    gone = [Vanishing() for _ in range(9)]
    size = own_size(gone[0])
    hd = HeapDiff()
    del gone
    born = [Alpha() for _ in range(4)]
    report = hd.end()
    assert detail(report, Vanishing) == DiffDetail(type_name(Vanishing), -9 * size, 0, 9)
    assert detail(report, Alpha) == DiffDetail(type_name(Alpha), 4 * own_size(born[0]), 4, 0)


def test_replaced_objects_count_both_ways() -> None:
    """Freeing some objects and allocating others of the same type shows both "+" and "-"."""
    objects = [Leaky(i) for i in range(100)]
    hd = HeapDiff()
    # Allocate before freeing: a freed address reused by a new Leaky would count as neither.
    objects.extend(Leaky(i) for i in range(60))
    del objects[:40]
    line = detail(hd.end(), Leaky)
    assert (line.allocated, line.freed) == (60, 40)
    assert line.size_bytes == 20 * own_size(objects[0])


def test_reused_address_counts_as_neither() -> None:
    """An object freed and replaced at its address by one of its type is neither "+" nor "-"."""
    objects = [Leaky(i) for i in range(50)]
    hd = HeapDiff()
    before = {id(o) for o in objects}
    del objects[:]
    objects.extend(Leaky(i) for i in range(50))
    reused = len(before & {id(o) for o in objects})
    report = hd.end()
    if reused == 50:  # every address reused: no change at all, so no line for the type
        assert type_name(Leaky) not in {d.what for d in report.change.details}
        return
    line = detail(report, Leaky)
    assert (line.allocated, line.freed) == (50 - reused, 50 - reused)


def test_no_work_between_shows_no_bookkeeping() -> None:
    """A diff with nothing done in between counts none of memwatch's own censuses or arrays."""
    report = HeapDiff().end()
    names = {d.what for d in report.change.details}
    assert not {n for n in names if "memwatch" in n or n in {"array.array", "bytes"}}
    assert report.change.allocated_nodes <= 10
    assert all(d.allocated <= 5 for d in report.change.details)
    assert abs(report.change.size_bytes) < 64 * 1024


def test_details_put_growth_first_then_shrinkage_each_largest_first() -> None:
    """Details list what grew (largest first), then what shrank (largest first), ties by name."""
    keep_a, keep_b = [Alpha() for _ in range(10)], [Beta() for _ in range(20)]
    hd = HeapDiff()
    keep_a.extend(Alpha() for _ in range(20))  # Alpha: +20 objects
    del keep_b[:]  # Beta: -20 objects of the same size, so the same absolute change
    keep_big = [Leaky() for _ in range(500)]
    report = hd.end()
    keys = [(d.size_bytes <= 0, -abs(d.size_bytes), d.what) for d in report.change.details]
    assert keys == sorted(keys)
    names = [d.what for d in report.change.details]
    assert sys.getsizeof(Alpha()) == sys.getsizeof(Beta())
    assert names.index(type_name(Alpha)) < names.index(type_name(Beta))
    grown = [d.size_bytes > 0 for d in report.change.details]
    assert grown == sorted(grown, reverse=True)
    assert detail(report, Alpha).size_bytes == -detail(report, Beta).size_bytes
    assert len(keep_big) == 500


def test_details_are_capped_with_a_flag() -> None:
    """At most max_details types are listed; details_capped says some were cut."""
    keep = [Alpha(), Beta(), Leaky()]
    capped = HeapDiff(max_details=1)
    keep.extend([Alpha() for _ in range(20)] + [Beta() for _ in range(10)])
    report = capped.end()
    assert len(report.change.details) == 1
    assert report.change.details_capped
    roomy = HeapDiff(max_details=10_000)
    keep.extend(Leaky() for _ in range(5))
    assert not roomy.end().change.details_capped
    assert len(keep) == 38


def test_report_totals_and_metadata() -> None:
    """before/after summaries, net change, timestamp, flags and timing come from the censuses."""
    before = take_census()
    keep = [Leaky() for _ in range(50)]
    after = take_census()
    report = diff_censuses(before, after)
    assert (report.before.nodes, report.before.size_bytes) == (before.nodes, before.size_bytes)
    assert (report.after.nodes, report.after.size_bytes) == (after.nodes, after.size_bytes)
    assert report.change.size_bytes == after.size_bytes - before.size_bytes
    assert report.timestamp == after.taken_at
    assert report.frozen_objects == after.frozen_objects
    assert report.elapsed_seconds >= after.elapsed_seconds
    assert not report.partial
    assert report.change.allocation_sites == ()
    assert sum(d.allocated for d in report.change.details) == report.change.allocated_nodes
    assert len(keep) == 50


def test_partial_census_makes_a_partial_report() -> None:
    """A census cut short by its time budget marks the diff partial, whichever side it was."""
    full = take_census()
    cut = take_census(time_budget=0.0)
    assert diff_censuses(cut, full).partial
    assert diff_censuses(full, cut).partial
    assert HeapDiff(time_budget=0.0).end().partial


def test_negative_limits_are_refused() -> None:
    """Negative caps are caller errors, from diff_censuses and from HeapDiff."""
    census = take_census()
    with pytest.raises(ValueError, match="max_details"):
        diff_censuses(census, census, max_details=-1)
    with pytest.raises(ValueError, match="max_sites"):
        diff_censuses(census, census, max_sites=-1)
    with pytest.raises(ValueError, match="max_details"):
        HeapDiff(max_details=-1)


def test_end_twice_raises_and_releases_the_baseline() -> None:
    """end() works once; the baseline is dropped after it; report is only there once ended."""
    hd = HeapDiff()
    baseline = hd.before
    assert baseline is not None
    assert baseline.nodes > 0
    with pytest.raises(RuntimeError, match="not ended"):
        _ = hd.report
    report = hd.end()
    assert hd.report is report
    assert hd.before is None
    with pytest.raises(RuntimeError, match="already"):
        hd.end()


def test_context_manager_ends_the_diff() -> None:
    """Leaving a with block ends the diff; an explicit end() inside is not repeated."""
    keep: list[Leaky] = []
    with HeapDiff() as hd:
        keep.extend(Leaky() for _ in range(15))
    assert detail(hd.report, Leaky).allocated == 15
    with HeapDiff() as explicit:
        first = explicit.end()
    assert explicit.report is first


def test_context_manager_ends_even_on_error_and_lets_it_through() -> None:
    """An exception in the with block still ends the diff and is not swallowed."""
    hd = HeapDiff()
    with pytest.raises(KeyError), hd:
        raise KeyError("boom")
    assert hd.report.timestamp is not None


def test_allocation_sites_name_the_test_line_when_tracing() -> None:
    """With tracemalloc tracing, the diff names this file and line as the top allocation site."""
    tracemalloc.start()
    try:
        hd = HeapDiff(max_sites=5)
        line = sys._getframe().f_lineno + 1  # the next line allocates
        blobs = [bytearray(4096) for _ in range(64)]
        report = hd.end()
        capped = HeapDiff(max_sites=0)
        more = [bytearray(4096) for _ in range(8)]
        none_at_all = capped.end()
    finally:
        tracemalloc.stop()
    sites = report.change.allocation_sites
    assert 0 < len(sites) <= 5
    top = sites[0]
    assert (top.file, top.line) == (__file__, line)
    assert top.size_bytes >= 64 * 4096
    assert top.count >= 64
    sizes = [abs(s.size_bytes) for s in sites]
    assert sizes == sorted(sizes, reverse=True)
    assert none_at_all.change.allocation_sites == ()
    assert len(blobs) + len(more) == 72


def test_no_sites_when_only_one_census_traced() -> None:
    """Sites need both censuses traced; otherwise the diff has none."""
    hd = HeapDiff()
    tracemalloc.start()
    try:
        report = hd.end()
    finally:
        tracemalloc.stop()
    assert report.change.allocation_sites == ()


def ids(values: list[int]) -> memoryview:
    """A census-like id sequence."""
    return memoryview(array("Q", values))


unique_ids = st.lists(st.integers(0, 300), unique=True, max_size=60)


@given(shared=unique_ids, before_only=unique_ids, after_only=unique_ids, data=st.data())
def test_identity_change_matches_set_arithmetic(
    shared: list[int], before_only: list[int], after_only: list[int], data: st.DataObject
) -> None:
    """For any two id sequences, allocated/freed are exactly the set differences' sizes."""
    before_set = set(shared) | set(before_only)
    after_set = (set(shared) | set(after_only)) - (set(before_only) - set(shared))
    before = data.draw(st.permutations(sorted(before_set)))
    # Keep a common prefix most of the time, as consecutive censuses do.
    prefix = [i for i in before if i in after_set][: data.draw(st.integers(0, 60))]
    rest = data.draw(st.permutations(sorted(after_set - set(prefix))))
    after = prefix + list(rest)
    expected = (len(set(after) - set(before)), len(set(before) - set(after)))
    resync_from = data.draw(st.sampled_from([0, 4096]))
    assert (
        diff_module._identity_change(ids(before), ids(after), resync_from=resync_from) == expected
    )


@given(
    size=st.integers(0, 3000),
    freed=st.sets(st.integers(0, 2999), max_size=200),
    born=st.integers(0, 300),
    swaps=st.lists(st.tuples(st.integers(0, 2999), st.integers(0, 2999)), max_size=20),
)
def test_identity_change_on_census_like_changes(
    size: int, freed: set[int], born: int, swaps: list[tuple[int, int]]
) -> None:
    """Old objects freed, new ones appended and a few moved: the counts are exact."""
    before = list(range(size))
    after = [i for i in before if i not in freed] + list(range(10_000, 10_000 + born))
    for a, b in swaps:
        if a < len(after) and b < len(after):
            after[a], after[b] = after[b], after[a]
    expected = (len(set(after) - set(before)), len(set(before) - set(after)))
    assert diff_module._identity_change(ids(before), ids(after), resync_from=0) == expected


def test_identity_change_gives_up_resyncing_on_unrelated_orders() -> None:
    """Two orders with no common runs (one reversed) still give exact counts."""
    before = list(range(40_000))
    after = [*reversed(before[:30_000]), *range(50_000, 50_500)]
    got = diff_module._identity_change(ids(before), ids(after), resync_from=0)
    assert got == (500, 10_000)


def test_common_prefix_lengths() -> None:
    """The common prefix search finds the first mismatch, at either end or none."""
    prefix = diff_module._common_prefix
    assert prefix(ids([1, 2, 3]), ids([1, 2, 3, 4])) == 3
    assert prefix(ids([1, 2, 3]), ids([9, 2, 3])) == 0
    assert prefix(ids([]), ids([5])) == 0
    for k in (1, 15, 16, 17, 77, 1000, 4095):
        assert prefix(ids(list(range(5000))), ids([*range(k), -1 % 2**64])) == k
