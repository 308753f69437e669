"""The cost of watching: a request-like and a GC-stress workload, with and without memwatch.

Two workloads, each run on a heap of --small and of --large objects
(benchlib.build_heap), in three variants interleaved round by round (the
order rotates each round):

- no callback;
- an empty gc.callbacks callback: the floor for any tool built on gc callbacks;
- memwatch's Watcher with default settings, started before and stopped after
  each timed run (its polling thread runs during the run).

The request-like workload builds dicts and lists per "request" and drops
them, and leaves a small reference cycle every few requests, so that young
collections run about 130 times a second, as in a Flask service. The
GC-stress workload makes only reference cycles: thousands of collections a
second.

Reported: medians over rounds of each round's wall-time ratio to the no-callback
run; for the stress workload, the watcher's cost over the empty callback's own
cost. Then the collector callback's cost per collection measured directly (a
loop calling it, no collection around it), and the probe's cost per call.

Targets (issue 5): under 1% slowdown on the request-like workload; on the
stress workload, the watcher's extra cost within 1.5x of the empty callback's.

Run: python benchmarks/bench_watching.py [--small 100000] [--large 3000000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time

import benchlib
from benchlib import Table

from memwatch.collector import Collector
from memwatch.probes import make_probe
from memwatch.watcher import Watcher

CYCLE_EVERY = 3  # requests per leftover reference cycle: 130-200 young collections/s here


class Session:
    """Per-request state that ends up in a reference cycle now and then."""


def request(i):
    headers = {f"h{k}": f"value-{i}-{k}" for k in range(12)}
    rows = [{"id": i + k, "name": f"row{k}", "tags": [k, k + 1]} for k in range(8)]
    body = {"rows": rows, "count": len(rows), "headers": headers}
    out = [f"{row['id']}:{row['name']}" for row in body["rows"]]
    if i % CYCLE_EVERY == 0:
        session = Session()
        session.me = session
        session.data = [headers, out]
    return len(out)


def request_workload(n):
    for i in range(n):
        request(i)


def stress_workload(n):
    benchlib.gc_heavy_loop(n)


def collect_workload(n):
    """Young collections and nothing else: each run's added time is the callbacks' own cost."""
    collect = gc.collect
    for _ in range(n):
        collect(0)


def empty_callback(phase, info):
    pass


class Variant:
    def __init__(self, name):
        self.name = name
        # One watcher, started and stopped around each run, as a service starts it once.
        self.watcher = Watcher() if name == "watcher" else None

    def attach(self):
        if self.name == "empty callback":
            gc.callbacks.append(empty_callback)
        elif self.watcher is not None:
            self.watcher.start()

    def detach(self):
        if self.name == "empty callback":
            gc.callbacks.remove(empty_callback)
        elif self.watcher is not None:
            self.watcher.stop()


VARIANTS = ("no callback", "empty callback", "watcher")


def calibrate(workload, seconds):
    """Iterations that take about ``seconds`` here with an empty callback installed."""
    n = 1000
    gc.callbacks.append(empty_callback)
    try:
        while True:
            start = time.perf_counter()
            workload(n)
            took = time.perf_counter() - start
            if took > 0.1:
                return max(1, int(n * seconds / took))
            n *= 4
    finally:
        gc.callbacks.remove(empty_callback)


def measure(workload, iterations, rounds):
    """Per variant: wall and CPU seconds per round; median collections per run, and per second."""
    variants = [Variant(name) for name in VARIANTS]
    wall = {name: [] for name in VARIANTS}
    cpu = {name: [] for name in VARIANTS}
    collections = []
    rates = []
    for r in range(rounds):
        order = variants[r % 3 :] + variants[: r % 3]
        for variant in order:
            variant.attach()
            before = benchlib.total_collections()
            start, start_cpu = time.perf_counter(), time.process_time()
            workload(iterations)
            elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
            collections.append(benchlib.total_collections() - before)
            if variant.name == "no callback":
                rates.append(collections[-1] / elapsed)
            variant.detach()
            wall[variant.name].append(elapsed)
            cpu[variant.name].append(used)
    return wall, cpu, statistics.median(collections), statistics.median(rates)


def summarize(times):
    """Median per-round ratio to no callback, and median per-round added seconds, per variant."""
    base = times["no callback"]
    ratio = {
        v: statistics.median(t / b for t, b in zip(times[v], base, strict=True)) for v in VARIANTS
    }
    extra = {
        v: statistics.median(t - b for t, b in zip(times[v], base, strict=True)) for v in VARIANTS
    }
    return ratio, extra


def direct_callback_ns(calls=200_000):
    """The collector's callback called in a loop, outside any collection: ns per call."""
    collector = Collector(probe=make_probe("auto"), sample_interval=5.0)
    collector._on_gc("stop", {"generation": 0, "collected": 0})  # noqa: SLF001 - first one samples
    info = {"generation": 0, "collected": 3}

    def call():
        collector._on_gc("stop", info)  # noqa: SLF001 - the callback itself is what is timed

    def nothing():
        empty_callback("stop", info)

    return (
        statistics.median(benchlib.per_call_ns(call, calls) for _ in range(5)),
        statistics.median(benchlib.per_call_ns(nothing, calls) for _ in range(5)),
    )


def poll_cost_ns(calls=2000):
    """One watcher.poll() with a sample to feed, as its thread runs it once a second."""
    watcher = Watcher(background=False).start()
    try:

        def poll():
            watcher._collector._last_sample_time = -math.inf  # noqa: SLF001 - a sample every poll
            watcher.poll()

        return statistics.median(benchlib.per_call_ns(poll, calls) for _ in range(5))
    finally:
        watcher.stop()


def main(argv=None):  # noqa: PLR0915 - one table per figure, built in order
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=3_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--stress-rounds", type=int, default=31)
    parser.add_argument("--request-seconds", type=float, default=1.2)
    parser.add_argument("--stress-seconds", type=float, default=0.25)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    wall = Table(
        "Cost of watching: ratio of run time to no callback (median of per-round ratios)",
        [
            "workload",
            "heap",
            "gc/s (no callback)",
            "run (no callback)",
            "empty callback",
            "watcher",
            "watcher's added time / empty callback's",
        ],
    )
    per_gc = Table(
        "Cost of watching: added time per collection, ns (CPU time)",
        ["workload", "heap", "collections/s", "empty callback", "watcher", "watcher / empty"],
    )
    checks = Table("Cost of watching: targets", ["target", "measured", "verdict"])
    probe = make_probe("auto")
    probe_table = Table(
        "Cost of watching: probe and callback per call, ns (median of 5 x 2000 calls)",
        [
            "heap",
            f"probe ({probe.name}).read()",
            "sys.getallocatedblocks()",
            "collector callback (no sample)",
            "empty callback",
            "watcher.poll() (once a second)",
        ],
    )
    workloads = (
        ("request-like", request_workload, args.request_seconds, args.rounds),
        ("GC stress", stress_workload, args.stress_seconds, args.stress_rounds),
        ("gc.collect(0) loop", collect_workload, args.stress_seconds, args.stress_rounds),
    )
    request_rates, per_collection = {}, {}
    for size in (args.small, args.large):
        heap = benchlib.build_heap(size)
        gc.collect()
        label = f"{size / 1e6:g}M objects"
        for name, workload, seconds, rounds in workloads:
            iterations = calibrate(workload, seconds)
            wall_times, cpu_times, per_run, rate = measure(workload, iterations, rounds)
            for clock, times in (("wall", wall_times), ("CPU", cpu_times)):
                ratio, extra = summarize(times)
                empty = extra["empty callback"]
                over_empty = extra["watcher"] / empty if empty > 0 else float("nan")
                # On the request-like workload both added times are within the noise: no ratio.
                shown = (
                    "-"
                    if name == "request-like" or math.isnan(over_empty)
                    else f"{over_empty:.2f}x"
                )
                wall.add(
                    f"{name} ({clock})",
                    label,
                    rate,
                    f"{statistics.median(times['no callback']) * 1000:.0f} ms",
                    f"{ratio['empty callback']:.4f}",
                    f"{ratio['watcher']:.4f}",
                    shown,
                )
                print(wall.text().splitlines()[-1], flush=True)
                if clock == "wall":
                    continue
                if name == "request-like":
                    slowdown = (ratio["watcher"] - 1) * 100
                    request_rates[label] = rate
                    checks.add(
                        f"request-like: watcher's slowdown < 1% at {label} (CPU, measured)",
                        f"{slowdown:+.2f}%",
                        benchlib.verdict(slowdown < 1),
                    )
                    continue
                collections = per_run
                if name == "gc.collect(0) loop":
                    per_collection[label] = extra["watcher"] / collections
                per_gc.add(
                    name,
                    label,
                    rate,
                    empty / collections * 1e9,
                    extra["watcher"] / collections * 1e9,
                    f"{over_empty:.2f}x",
                )
                checks.add(
                    f"{name}: watcher's cost within 1.5x of the empty callback's at {label}",
                    f"{over_empty:.2f}x",
                    benchlib.verdict(over_empty <= 1.5),
                )
        read_ns = statistics.median(benchlib.per_call_ns(probe.read, 2000) for _ in range(5))
        blocks_ns = statistics.median(
            benchlib.per_call_ns(sys.getallocatedblocks, 2000) for _ in range(5)
        )
        callback_ns, empty_ns = direct_callback_ns()
        poll_ns = poll_cost_ns()
        probe_table.add(label, read_ns, blocks_ns, callback_ns, empty_ns, poll_ns)
        # The watcher's cost per second of a request-like service, from its parts: every
        # collection's callback, one poll a second, one probe reading per sample interval.
        added = request_rates[label] * per_collection[label] + poll_ns * 1e-9 + read_ns * 1e-9 / 5
        checks.add(
            f"request-like: watcher's slowdown < 1% at {label} (from its parts)",
            f"{added * 100:.3f}%",
            benchlib.verdict(added < 0.01),
        )
        del heap
        gc.collect()
    wall.notes.append(
        f"{args.rounds} rounds of about {args.request_seconds:g} s (request-like) and"
        f" {args.stress_rounds} of about {args.stress_seconds:g} s (the others); each round runs"
        " the three variants back to back in rotating order. Wall: elapsed time; CPU: the"
        " process's CPU time (all threads, so the watcher's polling thread counts), which a"
        " shared machine disturbs less. The last column is the watcher's added time over the"
        " empty callback's added time, both against no callback."
    )
    per_gc.notes.append(
        "Added time per collection = median per-round added CPU time / median collections per"
        " run; collections/s is that of the runs without a callback."
        " The gc.collect(0) loop does nothing but young collections, so its figures are the"
        " callbacks' own cost with the least noise."
    )
    probe_table.notes.append(
        "The collector's callback reads the probe at most once per sample interval (5 s) after"
        " young collections; the direct figure is its cost on every other collection, called in"
        " a loop outside any collection."
    )
    benchlib.emit([wall, per_gc, probe_table, checks], args.json)


if __name__ == "__main__":
    main()
