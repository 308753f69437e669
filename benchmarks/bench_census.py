"""Heap census and diff: time against a plain getsizeof loop, and memory held per object.

Builds a heap of about N objects (default 1M; about 40% of them gc-tracked: dicts,
lists, instances with a __dict__ and with __slots__, tuples, and untracked
strings, ints and bytes), then measures in the same run, median of --rounds:

- floor: a plain loop over gc.get_objects() that counts objects and sums
  sys.getsizeof per type, the least any census by type can do in Python;
- census: memwatch's take_census() (the baseline of a HeapDiff);
- census + diff: the second census and the diff (HeapDiff.end());
- census + census + diff: a whole HeapDiff, baseline to report (the work done
  between the two censuses is not timed);

each diff on a steady heap with a small leak in between, and once more with
the oldest objects freed and a full collection in between (each type's ids then
differ from the start). Then the diff's worst case, measured on its own: as
many ids as the heap tracks, in two unrelated orders, so that every id goes
through sets. Last, the memory a baseline census holds per tracked object,
measured with tracemalloc.

Targets (issue 2, section 5): census + diff within 1.5x of the floor; a
baseline census holds at most 16 bytes per tracked object.

Run: python3 benchmarks/bench_census.py [--objects 1000000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from array import array

from benchlib import Record, build_heap, median_seconds

from memwatch import diff
from memwatch.census import take_census
from memwatch.diff import HeapDiff


def floor():
    """Count objects and sum sys.getsizeof per type: the baseline loop."""
    counts = {}
    sizes = {}
    getsizeof = sys.getsizeof
    for obj in gc.get_objects():
        tp = type(obj)
        counts[tp] = counts.get(tp, 0) + 1
        sizes[tp] = sizes.get(tp, 0) + getsizeof(obj)
    return counts, sizes


def between(keep, heap, churn):
    """What happens between the two censuses (not timed): a small leak, maybe old objects freed."""
    keep.extend(Record(i) for i in range(2000))
    if churn:
        # Freeing the oldest objects breaks each type's common prefix of ids at
        # its start, so the diff compares every id through sets: its worst case.
        del heap[:40]
        gc.collect()


def measure(heap, rounds, *, churn):
    """Median seconds of: floor, census, census + diff, census + census + diff."""
    keep = []
    baseline, second = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        hd = HeapDiff()
        baseline.append(time.perf_counter() - start)
        between(keep, heap, churn)
        start = time.perf_counter()
        hd.end()  # the second census and the diff
        second.append(time.perf_counter() - start)
    del keep[:]
    whole = [a + b for a, b in zip(baseline, second, strict=True)]
    return {
        "floor": median_seconds(floor, rounds),
        "census": median_seconds(take_census, rounds),
        "census + diff": statistics.median(second),
        "census + census + diff": statistics.median(whole),
    }


def held_bytes_per_object():
    """Bytes a kept baseline census holds, per object it counted (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        census = take_census(trace_sites=False)
        held = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    return held, census.nodes, len(census.types)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1_000_000, help="heap size in objects")
    parser.add_argument("--rounds", type=int, default=7, help="runs per figure (median)")
    args = parser.parse_args()

    heap = build_heap(args.objects)
    gc.collect()
    take_census()  # warm up: the first census imports what it needs
    tracked = len(gc.get_objects())
    print(f"Python {sys.version.split()[0]}; heap: ~{args.objects:,} objects built, ")
    print(f"{tracked:,} gc-tracked objects in the process; median of {args.rounds} runs\n")

    scenarios = (
        ("steady heap, small leak between", False),
        ("oldest objects freed and a full collection between", True),
    )
    for label, churn in scenarios:
        figures = measure(heap, args.rounds, churn=churn)
        base = figures["floor"]
        print(f"{label}:")
        for name, seconds in figures.items():
            print(f"  {name:24s} {seconds * 1000:8.1f} ms   {seconds / base:5.2f}x floor")
        verdict = "meets" if figures["census + diff"] <= 1.5 * base else "MISSES"
        print(f"  census + diff {verdict} the 1.5x target\n")

    ids = list(range(0x7F0000000000, 0x7F0000000000 + 64 * tracked, 64))
    shuffled = random.Random(0).sample(ids, len(ids))
    before, after = memoryview(array("Q", ids)), memoryview(array("Q", shuffled))
    # The private per-type step, timed alone: no real heap reorders every id.
    worst = median_seconds(lambda: diff._identity_change(before, after), args.rounds)  # noqa: SLF001
    print(f"diff worst case, {tracked:,} ids in unrelated orders: {worst * 1000:.1f} ms")
    print(f"  (census + this diff: {(figures['census'] + worst) / base:.2f}x floor)\n")

    held, nodes, types = held_bytes_per_object()
    per_object = held / nodes
    verdict = "meets" if per_object <= 16 else "MISSES"
    print(f"baseline census holds {held / 1e6:.2f} MB for {nodes:,} objects of {types:,} types:")
    print(f"  {per_object:.2f} bytes per tracked object ({verdict} the 16-byte target)")
    del heap


if __name__ == "__main__":
    main()
