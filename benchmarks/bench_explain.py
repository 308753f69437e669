"""Explaining a leak: retention paths and the tracing window against a census, same run.

Builds a heap of about N objects (default 1M, about 40% gc-tracked; see
benchlib.build_heap), takes a baseline census, then leaks five kinds of objects
the way services do (a dict global, bound methods in a class attribute, an
unbounded lru_cache, a logger per request, a set of pending jobs) and measures,
median of --rounds:

- census: take_census() with tracemalloc off, before the leak, and again on
  the heap as leaked (the baseline of the rows below it);
- retention: explain_retention() for the diff's top 5 types, 20 samples each;
- grown containers: count_containers() and grown_containers() (untracked data);
- census in a window: take_census() while a tracing window (20 frames) is open
  and the leak has allocated inside it, and the window's finish() (its sites);
  its baseline is a census with tracemalloc off right after each window
  closes, on the same heap (each round leaks a little more).

Targets (issue 10): retention for the top 5 types, 20 samples each, at most 3x
one census; a census inside the tracing window within 2x a census without.

Run: python3 benchmarks/bench_explain.py [--objects 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import statistics
import sys
import time
from typing import ClassVar

from benchlib import Table, build_heap, emit, median_seconds, verdict

from memwatch.census import take_census
from memwatch.diff import diff_censuses
from memwatch.retention import explain_retention, sample_new_ids
from memwatch.tracing import TracingWindow
from memwatch.untracked import count_containers, grown_containers

CACHE: dict[str, object] = {}
PENDING: set[object] = set()


class Payload:
    def __init__(self, n):
        self.n = n
        self.body = [n, n + 1]


class Auditor:
    listeners: ClassVar[list[object]] = []

    def on_event(self):
        return None


class Job:
    def __init__(self, n):
        self.n = n


@functools.lru_cache(maxsize=None)  # noqa: UP033 - the unbounded cache as services write it
def quote_for(n):
    return Payload(n)


def leak(count, offset=0):
    for i in range(offset, offset + count):
        CACHE[f"key-{i}"] = Payload(i)
        Auditor.listeners.append(Auditor().on_event)
        quote_for(i)
        logging.getLogger(f"bench.request.{i}")
        PENDING.add(Job(i))


def top_ids(before, after, types=5, samples=20):
    report = diff_censuses(before, after)
    names = [detail.what for detail in report.change.details[:types]]
    return {
        name: sample_new_ids(
            before.types[name].ids if name in before.types else (),
            after.types[name].ids,
            samples,
        )
        for name in names
        if name in after.types
    }


def measure_window(leaked, rounds):
    """Median seconds of: a census inside a tracing window, its finish(), a census after it."""
    window_census = []
    window_sites = []
    untraced = []
    for round_ in range(rounds):
        window = TracingWindow().open()
        leak(leaked // 5, offset=leaked * (round_ + 2))
        started = time.perf_counter()
        take_census(trace_sites=False)  # the window, not the census, reads the sites
        window_census.append(time.perf_counter() - started)
        started = time.perf_counter()
        window.finish()
        window_sites.append(time.perf_counter() - started)
        started = time.perf_counter()
        take_census(trace_sites=False)  # the same heap, tracemalloc off again
        untraced.append(time.perf_counter() - started)
    in_window = statistics.median(window_census)
    sites_s = statistics.median(window_sites)
    untraced_s = statistics.median(untraced)
    return in_window, sites_s, untraced_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--leak", type=int, default=5_000, help="objects leaked per kind")
    parser.add_argument("--json")
    args = parser.parse_args()
    heap = build_heap(args.objects)
    gc.collect()
    tracked = len(gc.get_objects())
    census_s = median_seconds(take_census, args.rounds)
    before = take_census()
    counts = count_containers()
    leak(args.leak)
    leaked_s = median_seconds(take_census, args.rounds)
    after = take_census()
    ids = top_ids(before, after)
    retention_s = median_seconds(lambda: explain_retention(ids), args.rounds)
    result = explain_retention(ids)
    containers_s = median_seconds(lambda: grown_containers(counts), args.rounds)
    count_s = median_seconds(count_containers, args.rounds)
    in_window, sites_s, untraced_s = measure_window(args.leak, args.rounds)
    final_nodes = take_census().nodes

    table = Table(
        f"Explaining a leak on {args.objects:,} objects ({tracked:,} tracked), Python "
        f"{sys.version.split()[0]}",
        ["measure", "seconds", "x census", "target", "verdict"],
    )
    table.add("census, tracemalloc off, before the leak", census_s, "", "", "")
    table.add("census, tracemalloc off, heap as leaked", leaked_s, 1.0, "", "")
    ratio = retention_s / leaked_s
    table.add(
        "retention, top 5 types x 20 samples", retention_s, ratio, "<= 3x", verdict(ratio <= 3)
    )
    table.add("count_containers (baseline)", count_s, count_s / leaked_s, "", "")
    table.add("grown_containers (with holders)", containers_s, containers_s / leaked_s, "", "")
    table.add("census, tracemalloc off, after each window", untraced_s, 1.0, "", "")
    ratio = in_window / untraced_s
    table.add("census inside a tracing window", in_window, ratio, "<= 2x", verdict(ratio <= 2))
    table.add("window.finish() (sites)", sites_s, sites_s / untraced_s, "", "")
    table.notes.append(
        f"heap: {before.nodes:,} tracked objects before the leak, {after.nodes:,} as leaked, "
        f"{final_nodes:,} after the windows; each ratio is to a census of the same heap"
    )
    for entry in result:
        top = entry.paths[0]
        table.notes.append(f"{entry.what}: {top.text} ({top.share:.0%} of {entry.sampled})")
    emit([table], args.json)
    del heap


if __name__ == "__main__":
    main()
