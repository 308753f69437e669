"""Heap probes and the gc collector: cost, accuracy and noise, measured in one run.

Prints, for each probe (mallinfo2, rss, tracemalloc) and sys.getallocatedblocks():

1. cost per call on a small and a large heap (and mallinfo2 on a fragmented
   malloc heap, since it walks malloc's free lists);
2. how well each tracks a known allocation of N MB and its release, for one big
   buffer and for many small objects (pymalloc), and its noise on a stable heap
   under allocation churn;
3. the collector callback's cost per collection on a GC-heavy loop, against no
   callback and an empty gc.callbacks callback (interleaved runs, median).

Run: python benchmarks/bench_probes.py [--small 100000] [--large 1000000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc

from benchlib import gc_heavy_loop, per_call_ns, total_collections

from memwatch.collector import Collector
from memwatch.probes import Mallinfo2Probe, ProbeUnavailableError, RssProbe, TracemallocProbe

MB = 1024 * 1024


class Node:
    def __init__(self, i):
        self.i = i
        self.name = f"node{i}"


def build_heap(n):
    """About n objects: instances, their dicts, strings, ints and tuples."""
    return [(Node(i), i * 1000) for i in range(n // 5)]


def try_probe(probe_type):
    try:
        return probe_type()
    except ProbeUnavailableError as exc:
        print(f"  ({probe_type.name} unavailable: {exc})")
        return None


def probes_available():
    found = {probe_type.name: try_probe(probe_type) for probe_type in (Mallinfo2Probe, RssProbe)}
    return {name: probe for name, probe in found.items() if probe is not None}


def cost_table(label, readers, rounds, calls=2000):
    results = {name: [] for name in readers}
    for _ in range(rounds):
        for name, function in readers.items():
            results[name].append(per_call_ns(function, calls))
    print(f"  {label}")
    for name, values in results.items():
        print(f"    {name:22s} {statistics.median(values) / 1000:8.2f} us/call")
    return {name: statistics.median(values) for name, values in results.items()}


def section_cost(args):
    print("\n== 1. cost per call (median of interleaved rounds) ==")
    probes = probes_available()
    readers = {name: probe.read for name, probe in probes.items()}
    readers["sys.getallocatedblocks"] = sys.getallocatedblocks
    figures = {}
    for size in (args.small, args.large):
        heap = build_heap(size)
        figures[size] = cost_table(f"heap of ~{size:,} objects", readers, args.rounds)
        # Apart: while tracing, every allocation the other probes make is traced too.
        tracemalloc.start()
        traced = cost_table(
            "  same heap, tracemalloc tracing",
            {
                "tracemalloc": TracemallocProbe().read,
                **({"rss (while tracing)": probes["rss"].read} if "rss" in probes else {}),
            },
            args.rounds,
        )
        figures[size].update(traced)
        tracemalloc.stop()
        del heap
        gc.collect()
    small, large = figures[args.small], figures[args.large]
    print(
        "  growth large/small heap: "
        + ", ".join(f"{name} x{large[name] / small[name]:.1f}" for name in small)
    )
    if "mallinfo2" in probes:
        # Many non-adjacent free chunks: mallinfo2 walks every one of them.
        chunks = [bytes(300 + (i % 200)) for i in range(200_000)]
        del chunks[::2]
        fragmented = cost_table(
            "fragmented malloc heap (100k free chunks)",
            {"mallinfo2": probes["mallinfo2"].read, "rss": probes["rss"].read}
            if "rss" in probes
            else {"mallinfo2": probes["mallinfo2"].read},
            args.rounds,
            calls=200,
        )
        del chunks
        figures["fragmented"] = fragmented


def track(probe_read, allocate, settle):
    before = probe_read()
    kept = allocate()
    grown = probe_read() - before
    del kept
    settle()
    left = probe_read() - before
    return grown, left


def section_accuracy(args):
    n_mb = args.mb
    print(f"\n== 2. accuracy: a known allocation of {n_mb} MB and its release ==")
    probes = probes_available()

    def big_buffer():
        return b"\xab" * (n_mb * MB)

    # Size the small-object allocation with tracemalloc so "N MB" is what Python holds.
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    probe_objects = [Node(i) for i in range(10_000)]
    per_object = (tracemalloc.get_traced_memory()[0] - base) / 10_000
    del probe_objects
    tracemalloc.stop()
    count = int(n_mb * MB / per_object)

    def small_objects():
        return [Node(i) for i in range(count)]

    def settle():
        gc.collect()

    print(f"  small objects: {count:,} Node instances ({per_object:.0f} B each incl. dict+str)")
    print(
        f"  {'probe':14s} {'buffer +':>10s} {'buffer left':>12s}"
        f" {'objects +':>10s} {'objects left':>13s}"
    )
    rows = dict(probes)
    for name, probe in rows.items():
        g1, l1 = track(probe.read, big_buffer, settle)
        g2, l2 = track(probe.read, small_objects, settle)
        print(f"  {name:14s} {g1 / MB:9.2f}M {l1 / MB:11.2f}M {g2 / MB:9.2f}M {l2 / MB:12.2f}M")
    tracemalloc.start()
    tm = TracemallocProbe()
    g1, l1 = track(tm.read, big_buffer, settle)
    g2, l2 = track(tm.read, small_objects, settle)
    tracemalloc.stop()
    print(
        f"  {'tracemalloc':14s} {g1 / MB:9.2f}M {l1 / MB:11.2f}M {g2 / MB:9.2f}M {l2 / MB:12.2f}M"
    )
    blocks_before = sys.getallocatedblocks()
    kept = small_objects()
    print(
        f"  sys.getallocatedblocks: +{sys.getallocatedblocks() - blocks_before:,} blocks "
        f"for the {count:,} objects (a count, not bytes)"
    )
    del kept
    gc.collect()

    print("\n  noise on a stable heap under churn (200 readings, one per 2k temporary objects):")
    tracemalloc.start()
    readers = {name: probe.read for name, probe in probes.items()}
    readers["tracemalloc"] = TracemallocProbe().read
    steady = build_heap(args.small)
    readings = {name: [] for name in readers}
    for _ in range(200):
        temporary = [Node(i) for i in range(2000)]
        del temporary
        for name, read in readers.items():
            readings[name].append(read())
    tracemalloc.stop()
    for name, values in readings.items():
        spread = (max(values) - min(values)) / 1024
        print(
            f"    {name:14s} stdev {statistics.pstdev(values) / 1024:9.1f} KiB"
            f"   range {spread:9.1f} KiB"
        )
    del steady


def attach_detach(variant):
    """Return (attach, detach) for a variant: None, a plain callback, or a Collector."""
    if variant is None:
        return (lambda: None), (lambda: None)
    if isinstance(variant, Collector):
        return variant.install, lambda: (variant.uninstall(), variant.drain())
    return (lambda: gc.callbacks.append(variant)), (lambda: gc.callbacks.remove(variant))


def section_callback(args):
    print("\n== 3. collector callback cost per collection (GC-heavy loop) ==")
    probes = probes_available()

    def empty_callback(phase, info):
        pass

    variants = {"no callback": None, "empty callback": empty_callback}
    collectors = {}
    for name, probe in probes.items():
        collectors[f"collector({name}), 5 s interval"] = Collector(probe=probe, sample_interval=5.0)
        collectors[f"collector({name}), every gc"] = Collector(probe=probe, sample_interval=0.0)
    variants.update(collectors)
    heap = build_heap(args.small)
    times = {name: [] for name in variants}
    counts = []
    gc.collect()
    for _ in range(args.rounds):
        for name, variant in variants.items():
            attach, detach = attach_detach(variant)
            attach()
            before = total_collections()
            start = time.perf_counter_ns()
            gc_heavy_loop(args.iterations)
            times[name].append(time.perf_counter_ns() - start)
            counts.append(total_collections() - before)
            detach()
    del heap
    base = statistics.median(times["no callback"])
    empty = statistics.median(times["empty callback"])
    collections = statistics.median(counts)
    print(
        f"  {args.iterations:,} iterations, {collections:.0f} collections per run, "
        f"{args.rounds} interleaved rounds, heap of ~{args.small:,} objects"
    )
    header = f"  {'variant':36s} {'run ms':>8s} {'vs none':>8s}"
    print(header + f" {'us/gc vs none':>14s} {'us/gc vs empty':>15s}")
    for name in variants:
        t = statistics.median(times[name])
        per_gc_none = (t - base) / collections / 1000
        per_gc_empty = (t - empty) / collections / 1000
        print(
            f"  {name:36s} {t / 1e6:8.2f} {t / base:8.3f} {per_gc_none:14.2f} {per_gc_empty:15.2f}"
        )
    for name, collector in collectors.items():
        print(
            f"    {name}: {collector.collections} collections, {collector.samples} samples, "
            f"{collector.errors} errors"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument(
        "--sections",
        nargs="*",
        default=["cost", "accuracy", "callback"],
        choices=["cost", "accuracy", "callback"],
    )
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {sys.platform}")
    started = time.perf_counter()
    if "cost" in args.sections:
        section_cost(args)
    if "accuracy" in args.sections:
        section_accuracy(args)
    if "callback" in args.sections:
        section_callback(args)
    print(f"\n(total {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
