"""Host store cost: status, listings and /ah/metrics with the SQLite store, each against a baseline.

Three sections, each timing memwatch against a baseline in the same run:

1. status: ``Watcher.status()`` with the SQLite host store against the same
   with the in-memory store (target: within 1.2x), and a worker's status write
   (``record_worker``, once per sample interval) for scale.
2. listing: 500 profiles (100 diff lines each) from 20 workers in one SQLite
   store: the listing behind ``GET /ah/memory`` (the indexed columns) and the
   full ``?details=true`` read (target: the listing under 50 ms).
3. metrics: the ``GET /ah/metrics`` exposition with 8 live workers (this
   process and 7 sleeping children, each with a stored status) against
   prometheus_client's own default ``/metrics`` render (its process, platform
   and gc collectors) in this process (target: within 2x).

Run: python benchmarks/bench_store.py [--rounds 25] [--sections status listing metrics]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import Table

from memwatch.auth import allow_all
from memwatch.converter import converter
from memwatch.http import MemwatchAPI
from memwatch.models import DiffDetail, HeapChange, HeapDiffReport, HeapSummary, Profile
from memwatch.store import MemoryStore, new_profile_id
from memwatch.store.fallback import FallbackStore
from memwatch.store.sqlite import SQLiteStore
from memwatch.watcher import Watcher
from memwatch.wire import Request

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)


def _profile(pid: int, details: int = 100) -> Profile:
    change = HeapChange(
        size_bytes=123_456,
        freed_nodes=10,
        allocated_nodes=2_000,
        details=tuple(
            DiffDetail(f"app.module.Type{i}", 1000 - i, allocated=50 + i, freed=i)
            for i in range(details)
        ),
    )
    diff = HeapDiffReport(
        timestamp=NOW,
        before=HeapSummary(1000, 100_000),
        after=HeapSummary(3000, 223_456),
        change=change,
    )
    return Profile(
        id=new_profile_id(),
        state="complete",
        trigger="manual",
        started=NOW,
        ended=NOW,
        pid=pid,
        last_event="diff",
        last_diff=diff,
    )


def section_status(args, directory):
    table = Table(
        "status with the SQLite store vs the memory store", ["store", "status us", "ratio", ""]
    )
    stores = {
        "memory": MemoryStore(),
        "sqlite": FallbackStore(SQLiteStore(Path(directory) / "status")),
    }
    times = {}
    for name, store in stores.items():
        watcher = Watcher(background=False, store=store)
        watcher.start()
        try:
            watcher.poll()
            watcher.status()
            times[name] = (
                benchlib.median_seconds(
                    lambda w=watcher: [w.status() for _ in range(200)], args.rounds
                )
                / 200
            )
        finally:
            watcher.stop()
    ratio = times["sqlite"] / times["memory"]
    table.add("memory (baseline)", times["memory"] * 1e6, 1.0, "")
    table.add("sqlite", times["sqlite"] * 1e6, ratio, benchlib.verdict(ratio <= 1.2))
    sqlite = stores["sqlite"]
    body = converter.unstructure(Watcher(background=False).status())
    write = (
        benchlib.median_seconds(
            lambda: [sqlite.record_worker(os.getpid(), body) for _ in range(50)], args.rounds
        )
        / 50
    )
    table.notes.append(
        f"a worker's status write (record_worker, once per sample interval): {write * 1e6:.0f} us"
    )
    return table


def section_listing(args, directory):
    table = Table("listing 500 profiles from 20 workers", ["read", "ms", "target", ""])
    store = SQLiteStore(Path(directory) / "listing", max_profiles=1000)
    for n in range(500):
        store.put(_profile(pid=1000 + n % 20))
    reader = SQLiteStore(Path(directory) / "listing", max_profiles=1000)
    summaries = benchlib.median_seconds(reader.summaries, args.rounds)
    full = benchlib.median_seconds(reader.list, max(3, args.rounds // 5))
    memory = MemoryStore(1000)
    for profile in reader.list():
        memory.put(profile)
    baseline = benchlib.median_seconds(memory.summaries, args.rounds)
    table.add("memory store, ids and pids (baseline)", baseline * 1e3, "", "")
    watcher = Watcher(background=False, store=reader)
    api = MemwatchAPI(auth=allow_all(), watcher=watcher)
    listing = Request("GET", "/ah/memory")
    through_api = benchlib.median_seconds(lambda: api.handle(listing), args.rounds)
    if len(api.handle(listing).json()["memoryProfiles"]) != 500:
        raise RuntimeError("the listing lost profiles")
    table.add(
        "sqlite, GET /ah/memory through MemwatchAPI.handle",
        through_api * 1e3,
        "< 50",
        benchlib.verdict(through_api < 0.05),
    )
    table.add(
        "sqlite, ids and pids (the store's listing alone)",
        summaries * 1e3,
        "< 50",
        benchlib.verdict(summaries < 0.05),
    )
    table.add("sqlite, full profiles (?details=true)", full * 1e3, "", "")
    table.notes.append(
        f"100 diff lines a profile, {store.path.stat().st_size / 2**20:.1f} MiB file"
    )
    return table


def section_metrics(args, directory):
    table = Table(
        "/ah/metrics with 8 workers vs prometheus_client's default /metrics",
        ["render", "us", "ratio", ""],
    )
    from prometheus_client import REGISTRY, generate_latest  # noqa: PLC0415 - the extra

    from memwatch.prometheus import render_metrics  # noqa: PLC0415 - the extra

    store = SQLiteStore(Path(directory) / "metrics")
    children = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(7)
    ]
    try:
        body = converter.unstructure(Watcher(background=False).status())
        for pid in [os.getpid(), *(c.pid for c in children)]:
            store.record_worker(pid, body)
        rendered = render_metrics(store)
        if rendered.count(b"memwatch_heap_bytes{") != 8:
            raise RuntimeError(rendered.decode())
        ours = benchlib.median_seconds(lambda: render_metrics(store), args.rounds)
        theirs = benchlib.median_seconds(lambda: generate_latest(REGISTRY), args.rounds)
    finally:
        for child in children:
            child.kill()
            child.wait()
    ratio = ours / theirs
    table.add("prometheus_client default registry (baseline)", theirs * 1e6, 1.0, "")
    table.add("memwatch render_metrics, 8 workers", ours * 1e6, ratio, benchlib.verdict(ratio <= 2))
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument(
        "--sections",
        nargs="*",
        default=["status", "listing", "metrics"],
        choices=["status", "listing", "metrics"],
    )
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {sys.platform}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        tables = [globals()[f"section_{name}"](args, directory) for name in args.sections]
    benchlib.emit(tables, args.json)
    print(f"\n(total {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
