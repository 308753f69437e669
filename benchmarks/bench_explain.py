"""Explaining a leak: retention paths and the tracing window against a census, same run.

Builds a heap of about N objects (default 1M, about 40% gc-tracked; see
benchlib.build_heap), takes a baseline census, then leaks five kinds of objects
the way services do (a dict global, bound methods in a class attribute, an
unbounded lru_cache, a logger per request, a set of pending jobs) and measures,
median of --rounds:

- census: take_census() with tracemalloc off (the baseline);
- retention: explain_retention() for the diff's top 5 types, 20 samples each;
- grown containers: count_containers() and grown_containers() (untracked data);
- census in a window: take_census() while a tracing window (20 frames) is open
  and the leak has allocated inside it, and the window's finish() (its sites).

Targets (issue 10): retention for the top 5 types, 20 samples each, at most 3x
one census; a census inside the tracing window within 2x a census without.

Run: python3 benchmarks/bench_explain.py [--objects 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
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
    after = take_census()
    ids = top_ids(before, after)
    retention_s = median_seconds(lambda: explain_retention(ids), args.rounds)
    result = explain_retention(ids)
    containers_s = median_seconds(lambda: grown_containers(counts), args.rounds)
    count_s = median_seconds(count_containers, args.rounds)
    window_census = []
    window_sites = []
    for round_ in range(args.rounds):
        window = TracingWindow().open()
        leak(args.leak // 5, offset=args.leak * (round_ + 2))
        started = time.perf_counter()
        take_census(trace_sites=False)  # the window, not the census, reads the sites
        window_census.append(time.perf_counter() - started)
        started = time.perf_counter()
        window.finish()
        window_sites.append(time.perf_counter() - started)
    window_census.sort()
    window_sites.sort()
    in_window = window_census[len(window_census) // 2]
    sites_s = window_sites[len(window_sites) // 2]

    table = Table(
        f"Explaining a leak on {args.objects:,} objects ({tracked:,} tracked), Python "
        f"{sys.version.split()[0]}",
        ["measure", "seconds", "x census", "target", "verdict"],
    )
    table.add("census, tracemalloc off", census_s, 1.0, "", "")
    ratio = retention_s / census_s
    table.add(
        "retention, top 5 types x 20 samples", retention_s, ratio, "<= 3x", verdict(ratio <= 3)
    )
    table.add("count_containers (baseline)", count_s, count_s / census_s, "", "")
    table.add("grown_containers (with holders)", containers_s, containers_s / census_s, "", "")
    ratio = in_window / census_s
    table.add("census inside a tracing window", in_window, ratio, "<= 2x", verdict(ratio <= 2))
    table.add("window.finish() (sites)", sites_s, sites_s / census_s, "", "")
    for entry in result:
        top = entry.paths[0]
        table.notes.append(f"{entry.what}: {top.text} ({top.share:.0%} of {entry.sampled})")
    emit([table], args.json)
    del heap


if __name__ == "__main__":
    main()
