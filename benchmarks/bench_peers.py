"""Census + diff: memwatch against the floor and its peers on the same heap, 100k to 3M objects.

For each heap size and each tool, a fresh subprocess builds the same heap
(benchlib.build_heap: instances with a __dict__ and with __slots__, dicts,
lists, tuples, str, int, bytes) and times one whole census-and-diff cycle:
baseline, a small leak (2,000 new objects; not timed), second census, diff.
In the same process and interleaved with it, it times the floor: two plain
loops over gc.get_objects() that count objects and sum sys.getsizeof per type,
plus a diff of the two count tables. Ratios are to that in-process floor,
medians of --rounds runs.

Tools (one op each, as their documentation uses them):

- floor: the count-and-getsizeof loop, twice, and a dict diff;
- memwatch census: take_census() x2 + diff_censuses();
- memwatch HeapDiff: HeapDiff() ... .end();
- objgraph typestats: typestats() x2 + a dict diff (counts only, no sizes);
- objgraph show_growth: show_growth() x2 (the first sets the baseline);
- pympler: SummaryTracker() ... .diff();
- guppy3: hpy().heap() x2, the difference, and its by-type table (str);
- tracemalloc: take_snapshot() x2 + compare_to("lineno"); tracing runs from
  before the heap is built (it must, to see the heap), so that process's heap
  build and floor are traced too.

Peak extra memory: one more cycle run with tracemalloc started just before it
(what the tool allocates; for tracemalloc itself the snapshot copies live
outside the traced heap, so the column shows RSS growth instead), and the RSS
high-water mark's growth over the RSS before the first cycle.

Run: python benchmarks/bench_peers.py [--sizes 100000 1000000 3000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import math
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import benchlib
from benchlib import MIB, Table

TOOLS = (
    "floor",
    "memwatch census",
    "memwatch HeapDiff",
    "objgraph typestats",
    "objgraph show_growth",
    "pympler",
    "guppy3",
    "tracemalloc",
)


def floor_census():
    counts = {}
    sizes = {}
    getsizeof = sys.getsizeof
    for obj in gc.get_objects():
        tp = type(obj)
        counts[tp] = counts.get(tp, 0) + 1
        sizes[tp] = sizes.get(tp, 0) + getsizeof(obj)
    return counts, sizes


def dict_diff(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in {**before, **after}}


def make_cycle(tool):  # noqa: C901, PLR0911 - one branch per tool reads best
    """Return (baseline(), finish(baseline)) for a tool; finish takes the second look and diffs."""
    if tool == "floor":
        return floor_census, lambda a: dict_diff(a[0], floor_census()[0])
    if tool == "memwatch census":
        from memwatch.census import take_census  # noqa: PLC0415 - each worker imports one tool
        from memwatch.diff import diff_censuses  # noqa: PLC0415

        return take_census, lambda a: diff_censuses(a, take_census())
    if tool == "memwatch HeapDiff":
        from memwatch.diff import HeapDiff  # noqa: PLC0415

        return HeapDiff, lambda hd: hd.end()
    if tool == "objgraph typestats":
        import objgraph  # noqa: PLC0415

        return objgraph.typestats, lambda a: dict_diff(a, objgraph.typestats())
    if tool == "objgraph show_growth":
        import objgraph  # noqa: PLC0415

        stats = {}

        def first_kept():
            stats.clear()
            objgraph.show_growth(limit=20, peak_stats=stats, file=io.StringIO())
            return stats

        def second_kept(kept):
            objgraph.show_growth(limit=20, peak_stats=kept, file=io.StringIO())

        return first_kept, second_kept
    if tool == "pympler":
        from pympler import tracker  # noqa: PLC0415

        return tracker.SummaryTracker, lambda t: t.diff()
    if tool == "guppy3":
        from guppy import hpy  # noqa: PLC0415

        h = hpy()
        return h.heap, lambda a: str(h.heap() - a)
    if tool == "tracemalloc":

        def finish(a):
            return tracemalloc.take_snapshot().compare_to(a, "lineno")

        return tracemalloc.take_snapshot, finish
    raise ValueError(tool)


def worker(tool, objects, rounds, budget):
    """Build the heap, time the tool's cycle and the floor interleaved; print JSON."""
    if tool == "tracemalloc":
        tracemalloc.start()
    heap = benchlib.build_heap(objects)
    gc.collect()
    baseline, finish = make_cycle(tool)
    floor_baseline, floor_finish = make_cycle("floor")
    kept = []

    def leak():
        kept.extend(benchlib.Record(i) for i in range(2000 // 6))
        kept.extend(benchlib.make_dict(i) for i in range(2000 // 6))

    def one_cycle(start_fn, end_fn):
        start = time.perf_counter()
        first = start_fn()
        elapsed = time.perf_counter() - start
        leak()
        start = time.perf_counter()
        end_fn(first)
        elapsed += time.perf_counter() - start
        del first
        return elapsed

    # Memory first, while the RSS high-water mark is still the heap's own.
    rss_before = benchlib.current_rss()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    first_time = one_cycle(baseline, finish)
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss_peak_growth = max(0, maxrss_after - max(rss_before, maxrss_before))
    traced_peak = None
    if tool != "tracemalloc" and first_time < budget / 2:
        tracemalloc.start()
        tracemalloc.reset_peak()
        one_cycle(baseline, finish)
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    times, floors = [], []
    spent = first_time
    for _ in range(rounds):
        if times and spent > budget:
            break
        floors.append(one_cycle(floor_baseline, floor_finish))
        t = one_cycle(baseline, finish)
        times.append(t)
        spent += t
    if not times:
        times = [first_time]
        floors.append(one_cycle(floor_baseline, floor_finish))
    tracked = len(gc.get_objects())
    print(
        json.dumps(
            {
                "tool": tool,
                "objects": objects,
                "tracked": tracked,
                "seconds": statistics.median(times),
                "floor": statistics.median(floors),
                "runs": len(times),
                "traced_peak": traced_peak,
                "rss_peak_growth": rss_peak_growth,
            }
        )
    )
    del heap


def run_worker(tool, objects, rounds, budget, timeout):
    command = [
        benchlib.python(),
        __file__,
        "--worker",
        tool,
        "--objects",
        str(objects),
        "--rounds",
        str(rounds),
        "--budget",
        str(budget),
    ]
    try:
        done = subprocess.run(  # noqa: S603 - this script, run as a worker
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"tool": tool, "objects": objects, "skipped": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["?"]
        return {"tool": tool, "objects": objects, "skipped": f"failed: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--tools", nargs="*", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=30.0, help="timed seconds per worker")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per worker")
    parser.add_argument(
        "--slow-limit",
        type=float,
        default=60.0,
        help="skip a tool at larger sizes once one cycle took this long",
    )
    parser.add_argument("--json", default=None)
    parser.add_argument("--tables-from", help="rebuild the tables from a run's .raw.json")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--objects", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.objects, args.rounds, args.budget)
        return

    if args.tables_from:
        raw = json.loads(Path(args.tables_from).read_text())
        args.sizes, args.tools, args.rounds = raw["sizes"], raw["tools"], raw["rounds"]
        results = {(r["tool"], r["objects"]): r for r in raw["results"]}
        benchlib.emit(
            [time_table(results, args), memory_table(results, args), targets(results, args)],
            args.json,
        )
        return
    results = {}
    too_slow = {}
    sizes = sorted(args.sizes)
    for index, size in enumerate(sizes):
        following = sizes[index + 1] if index + 1 < len(sizes) else size
        for tool in args.tools:
            if tool in too_slow:
                results[tool, size] = {"tool": tool, "objects": size, "skipped": too_slow[tool]}
                continue
            result = run_worker(tool, size, args.rounds, args.budget, args.timeout)
            results[tool, size] = result
            seconds = result.get("seconds")
            print(
                f"  {tool:22s} {size:>9,} objects: "
                + (f"{seconds * 1000:9.1f} ms" if seconds else result["skipped"]),
                flush=True,
            )
            if "skipped" in result:
                too_slow[tool] = result["skipped"]
            elif seconds * following / size > args.slow_limit:
                # Linear growth would take one cycle past the limit at the next size.
                too_slow[tool] = f"skipped ({seconds:.0f} s at {size / 1e6:g}M)"
    if args.json:
        raw = {"sizes": sizes, "tools": args.tools, "rounds": args.rounds}
        raw["results"] = list(results.values())
        Path(args.json).with_suffix(".raw.json").write_text(json.dumps(raw, indent=1))
    tables = [time_table(results, args), memory_table(results, args), targets(results, args)]
    benchlib.emit(tables, args.json)


def time_table(results, args):
    sizes = sorted(args.sizes)
    table = Table(
        "Census + diff: one whole cycle (baseline, second look, diff), ms and ratio to the floor",
        ["tool", *(f"{s / 1e6:g}M objects" for s in sizes)],
    )
    for tool in args.tools:
        cells = []
        for size in sizes:
            r = results[tool, size]
            if "skipped" in r:
                cells.append(r["skipped"])
            else:
                cells.append(f"{r['seconds'] * 1000:,.0f} ms ({r['seconds'] / r['floor']:.2f}x)")
        table.add(tool, *cells)
    tracked = {s: results["floor", s].get("tracked") for s in sizes if ("floor", s) in results}
    table.notes.append(
        "gc-tracked objects per heap: "
        + ", ".join(f"{s / 1e6:g}M -> {t:,}" for s, t in tracked.items() if t)
        + f". Median of up to {args.rounds} runs per tool, each tool in its own process; the"
        " ratio is to the floor timed in that same process, interleaved with the tool (so a"
        " tool that leaves garbage behind slows its own floor too: compare milliseconds"
        " across tools, ratios within a row)."
    )
    table.notes.append(
        "objgraph counts only (no sizes); pympler and guppy3 also count untracked objects"
        " (str, int, bytes) by walking referents; tracemalloc groups by allocating line."
    )
    return table


def memory_table(results, args):
    sizes = sorted(args.sizes)
    table = Table(
        "Census + diff: peak extra memory of one cycle, MB (traced peak / RSS high-water growth)",
        ["tool", *(f"{s / 1e6:g}M objects" for s in sizes)],
    )
    for tool in args.tools:
        cells = []
        for size in sizes:
            r = results[tool, size]
            if "skipped" in r:
                cells.append("-")
                continue
            traced = r["traced_peak"]
            traced_text = f"{traced / MIB:.1f}" if traced is not None else "n/a"
            cells.append(f"{traced_text} / {r['rss_peak_growth'] / MIB:.1f}")
        table.add(tool, *cells)
    table.notes.append(
        "Traced peak: tracemalloc peak over one cycle started just before it (the tool's own"
        " allocations). RSS: growth of the process's high-water mark over its RSS before the"
        " first cycle (0 when the cycle fits in memory freed earlier)."
    )
    return table


def targets(results, args):
    table = Table("Census + diff: targets", ["target", "measured", "verdict"])

    def ok(tool, size):
        return "skipped" not in results.get((tool, size), {"skipped": 1})

    for size in sorted(args.sizes):
        for tool in ("memwatch census", "memwatch HeapDiff"):
            if ok(tool, size):
                r = results[tool, size]
                ratio = r["seconds"] / r["floor"]
                table.add(
                    f"{tool} within 1.5x of the floor at {size / 1e6:g}M",
                    f"{ratio:.2f}x",
                    benchlib.verdict(ratio <= 1.5),
                )
    for tool in ("memwatch census", "memwatch HeapDiff"):
        sizes = [s for s in sorted(args.sizes) if ok(tool, s)]
        if len(sizes) < 2:
            continue
        first, last = results[tool, sizes[0]], results[tool, sizes[-1]]
        # Growth exponent: time ~ objects**k; k <= 1 is linear or better (fixed costs amortize).
        k = math.log(last["seconds"] / first["seconds"]) / math.log(
            last["tracked"] / first["tracked"]
        )
        per = [results[tool, s]["seconds"] / results[tool, s]["tracked"] * 1e9 for s in sizes]
        table.add(
            f"{tool} linear in objects (time ~ objects^k, k <= 1.1; ns per tracked object)",
            f"k = {k:.2f}; " + ", ".join(f"{p:.0f}" for p in per),
            benchlib.verdict(k <= 1.1),
        )
    million = 1_000_000
    if ok("memwatch census", million):
        mw = results["memwatch census", million]["seconds"]
        for tool, factor in (("pympler", 10), ("guppy3", 2)):
            if ok(tool, million):
                speedup = results[tool, million]["seconds"] / mw
                table.add(
                    f">= {factor}x faster than {tool} at 1M",
                    f"{speedup:.1f}x",
                    benchlib.verdict(speedup >= factor),
                )
    return table


if __name__ == "__main__":
    main()
