"""memwatch's own memory stays flat: the leak detector must not leak.

The neutral ``MemwatchAPI.handle()`` answers a mix of every route in-process
while young collections run and the watcher polls, with auto-capture on and a
synthetic heap that grows, so leak events keep starting and ending captured
profiles. tracemalloc, filtered to memwatch's own files, measures what
memwatch holds once its bounded parts (profile store, detector window, sample
queue) are full, and again at the end. A smaller run does the same over real
HTTP. Figures are printed (``pytest -s``); the full-size runs are marked slow.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from pathlib import Path

import pytest

import memwatch
from memwatch.auth import allow_all
from memwatch.http import MemwatchAPI, Request
from memwatch.store import MemoryProfileStore
from memwatch.watcher import Watcher

MAX_PROFILES = 5
FREQUENT_REPORTS = {
    "resolution": 1.0,
    "window": 60.0,
    "quick_span": 10.0,
    "min_span": 10.0,
    "recent_span": 10.0,
    "confirm": 2.0,
}
MAX_DETAILS = 10
CAPTURE_SECONDS = 10.0
# What memwatch may still gain once full: well under one stored profile's size.
FLAT_BYTES = 64 * 1024


def _own_dirs() -> tuple[str, ...]:
    roots = [Path(memwatch.__file__).parent]
    for adapter in ("memwatch_flask", "memwatch_fastapi", "memwatch_tornado"):
        try:
            module = __import__(adapter)
        except ImportError:
            continue
        roots.append(Path(module.__file__).parent)
    return tuple(f"{root}{os.sep}" for root in roots)


def memwatch_bytes() -> int:
    """Bytes tracemalloc traces to memwatch's own files (the core and the adapters)."""
    own = _own_dirs()
    stats = tracemalloc.take_snapshot().statistics("filename")
    return sum(stat.size for stat in stats if stat.traceback[0].filename.startswith(own))


class GrowingHeap:
    """A heap probe reading a heap that grows 1 MB a reading: the detector keeps seeing a leak."""

    name = "growing"

    def __init__(self) -> None:
        self.readings = 0

    def read(self) -> int:
        self.readings += 1
        return 100_000_000 + self.readings * 1_000_000


REQUESTS = [
    Request("GET", "/ah/memoryProfile/status"),
    Request("GET", "/ah/memory"),
    Request("GET", "/ah/memory", query="details=true"),
    Request("GET", "/ah/memory", query="details=maybe"),
    Request("GET", "/ah/memoryProfile/nosuchid"),
    Request("GET", "/ah/memoryProfile/" + "x" * 5000),
    Request("DELETE", "/ah/memoryProfile/gone"),
    Request("PUT", "/ah/memoryProfile/status", body=b"{}" * 100),
    Request("OPTIONS", "/ah/memory"),
    Request("HEAD", "/ah/memoryProfile/status"),
    Request("GET", "/ah/nowhere/at/all"),
    Request("POST", "/ah/memoryProfile/abc/end"),
]


class Order:
    """An application object the churning app keeps for a while."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.lines = [n, n + 1]


#: The churning app's module global: what the retention paths name as the root.
ORDERS: list[Order] = []


def churn(polls: int) -> None:
    """Keep 100 more orders each poll, dropping them all every 50: bounded, growing in a capture."""
    if polls % 50 == 0:
        ORDERS.clear()
    ORDERS.extend(Order(polls * 100 + i) for i in range(100))


def run_in_process(
    requests: int, collections: int, *, app_churn: bool = False, warm_share: float = 0.1
) -> dict[str, float]:
    """Drive handle() ``requests`` times and ``collections`` young collections; return figures.

    With ``app_churn``, the app also keeps and drops objects of its own
    (:func:`churn`), so every captured profile has new objects to explain: its
    tracing window's sites and its retention paths. tracemalloc, the measuring
    instrument, traces from the start, so each window reads what changed since it
    opened (the mode of a process that traces already) rather than starting it.
    The first reading is taken once ``warm_share`` of the requests ran and the
    store is full.
    """
    now = [0.0]
    store = MemoryProfileStore(max_profiles=MAX_PROFILES)
    watcher = Watcher(
        probe=GrowingHeap(),
        sample_interval=1.0,
        # Short windows: the fake leak is reported every 15 s or so, so captures keep
        # coming and the store fills (the footprint is measured, not the detection).
        detector_options=FREQUENT_REPORTS,
        store=store,
        auto_capture=True,
        capture_seconds=CAPTURE_SECONDS,
        capture_cooldown=0.0,
        max_details=MAX_DETAILS,
        census_time_budget=0.5,
        trace_captures=True,
        background=False,
        clock=lambda: now[0],
    )
    api = MemwatchAPI(auth=allow_all(), watcher=watcher)
    collect_every = max(1, requests // collections)
    warm, measured = 0, 0
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with watcher:
            for i in range(requests):
                response = api.handle(REQUESTS[i % len(REQUESTS)])
                assert response.status < 500
                if i % collect_every == 0:
                    gc.collect(0)
                if i % 10 == 0:
                    now[0] += 1.0  # one second of the watcher's time every 10 requests
                    if app_churn:
                        churn(i // 10)
                    watcher.poll()
                if not warm and i >= requests * warm_share and len(store) >= MAX_PROFILES:
                    if app_churn:
                        _between_captures(watcher, now)
                    gc.collect()
                    warm = memwatch_bytes()
                    warm_at = i
            if app_churn:
                _between_captures(watcher, now)
            gc.collect()
            measured = memwatch_bytes()
            peak = tracemalloc.get_traced_memory()[1]
            captures = len(store)
            collected = watcher.status().watcher.collections
            changes = [profile.last_diff.change for profile in store.list()]
    finally:
        tracemalloc.stop()
        ORDERS.clear()
    assert warm, "the profile store never filled: no leak was captured"
    return {
        "requests": requests,
        "collections": collected,
        "captured_profiles_kept": captures,
        "warm_at_request": warm_at,
        "memwatch_bytes_warm": warm,
        "memwatch_bytes_end": measured,
        "growth_bytes": measured - warm,
        "peak_traced_bytes": peak,
        "profiles_with_sites": sum(1 for change in changes if change.allocation_sites),
        "profiles_with_paths": sum(1 for change in changes if change.retention),
        "seconds": time.perf_counter() - started,
    }


def _between_captures(watcher: Watcher, now: list[float]) -> None:
    """Let the running capture end, auto-capture paused, so memory is read between captures.

    A capture in flight holds its baseline, its window's and its container
    counts (megabytes on this heap, one capture's worth): read at two such
    moments, the figures would compare captures, not memwatch's growth.
    """
    watcher.auto_capture = False
    for _ in range(int(CAPTURE_SECONDS) + 2):
        now[0] += 1.0
        watcher.poll()
    watcher.auto_capture = True


def _check(figures: dict[str, float]) -> None:
    print(f"\nfootprint: {figures}")  # noqa: T201 - the figure the issue asks for
    assert figures["captured_profiles_kept"] <= MAX_PROFILES
    assert figures["growth_bytes"] < FLAT_BYTES, figures


@pytest.mark.slow
def test_footprint_flat_in_process():
    """Over 5,000 requests and 500 collections memwatch's own memory stops growing once full."""
    figures = run_in_process(5_000, 500)
    assert figures["collections"] >= 500
    _check(figures)


@pytest.mark.slow
def test_footprint_flat_in_process_100k():
    """Over 100,000 requests and 10,000 collections memwatch's own memory stays flat."""
    figures = run_in_process(100_000, 10_000)
    assert figures["collections"] >= 10_000
    _check(figures)


@pytest.mark.slow
def test_footprint_flat_with_windows_and_paths():
    """With tracing windows and retention paths in every capture, memwatch's memory stays flat.

    Each capture explains a real diff under tracemalloc (the measuring
    instrument), several seconds a capture. Memory is compared from 60% of the
    requests to the end: before that, bounded rings are still filling (the
    sample window's 720 samples take 7,200 requests at this test's 10 requests
    a second, the leak verdict's 600 readings, one per 2 s, 12,000) and the
    stored profiles still grow to their caps. Measured earlier, the first
    reading too soon: 163 -> 340 KB over 5,000 requests, 280 -> 377 KB from
    5,000 to 10,000, where the run without windows holds 324-334 KB; from
    15,000 to 25,000, 326 -> 380 KB (+54 KB); at the full size, from 60,000 to
    100,000, 332 -> 350 KB (+18 KB). The
    default, 25,000 requests (about 6 minutes), reads both after the rings are
    full; ``HARDENING_FOOTPRINT_REQUESTS=100000`` runs the issue's full size.
    """
    requests = int(os.environ.get("HARDENING_FOOTPRINT_REQUESTS", "25000"))
    figures = run_in_process(requests, requests // 10, app_churn=True, warm_share=0.6)
    assert figures["profiles_with_sites"] > 0, figures
    assert figures["profiles_with_paths"] > 0, figures
    _check(figures)


@pytest.mark.slow
def test_footprint_flat_over_real_http(serve):
    """Over real HTTP (the adapter's translation included) memwatch's memory stays flat too."""
    requests = int(os.environ.get("HARDENING_HTTP_REQUESTS", "3000"))
    with Watcher(sample_interval=0.5, auto_capture=False, max_details=MAX_DETAILS) as watcher:
        client = serve(auth=allow_all(), watcher=watcher).client
        paths = ["/ah/memoryProfile/status", "/ah/memory", "/ah/memoryProfile/nosuch", "/ah/x"]
        tracemalloc.start()
        try:
            for i in range(requests // 10):
                client.get(paths[i % len(paths)])
            gc.collect()
            warm = memwatch_bytes()
            started = time.perf_counter()
            for i in range(requests):
                client.get(paths[i % len(paths)])
                if i % 10 == 0:
                    gc.collect(0)
            gc.collect()
            end = memwatch_bytes()
        finally:
            tracemalloc.stop()
    figures = {
        "requests": requests,
        "memwatch_bytes_warm": warm,
        "memwatch_bytes_end": end,
        "growth_bytes": end - warm,
        "requests_per_second": requests / (time.perf_counter() - started),
    }
    print(f"\nfootprint over HTTP: {figures}")  # noqa: T201
    assert end - warm < FLAT_BYTES, figures
