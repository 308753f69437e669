"""A capture's explanation: sites, holders, untracked data and the layer, on a real leak."""

from __future__ import annotations

import gc
import json
import sys
import textwrap
import time
import tracemalloc
import types
from typing import TYPE_CHECKING

import attrs
import pytest

from memwatch.census import take_census
from memwatch.converter import dumps
from memwatch.diff import diff_censuses
from memwatch.explain import CaptureExplainer
from memwatch.models import GCStats, HeapDiffReport, LeakReport
from memwatch.profiles import Profiler, StateSnapshot
from memwatch.store import MemoryProfileStore
from memwatch.testing.contract import assert_valid

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_APP = textwrap.dedent(
    """
    class Session:
        def __init__(self, n):
            self.n = n
            self.items = [n] * 20

    class Upload:
        def __init__(self, n):
            self.n = n
            self.payload = bytearray(1024)

    SESSIONS = []
    PAGES = {}
    UPLOADS = []

    def handle(n):
        SESSIONS.append(Session(n))
        PAGES[f"/page/{n}"] = "<p>" * 500 + str(n)
    """
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[types.ModuleType]:
    """An application module, in a file of its own, that leaks sessions and pages."""
    path = tmp_path / "explain_app.py"
    path.write_text(_APP)
    module = types.ModuleType("explain_app")
    module.__file__ = str(path)
    exec(compile(_APP, str(path), "exec"), module.__dict__)  # noqa: S102 - our own source
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]
    tracemalloc.stop()


def test_a_traced_capture_explains_the_leak(app: types.ModuleType) -> None:
    """The line, the holder of the new objects, the grown dict of pages and a verdict."""
    before = take_census()
    explainer = CaptureExplainer(trace=True)
    assert tracemalloc.is_tracing()
    for n in range(3000):
        app.handle(n)
    explainer.finish_window()
    assert not tracemalloc.is_tracing()
    after = take_census()
    explanation = explainer.explain(before, after, diff_censuses(before, after))
    assert explanation.sites[0].file == app.__file__
    holders = {entry.what: entry.paths[0].root for entry in explanation.retention}
    assert holders["explain_app.Session"] == "explain_app.SESSIONS"
    (pages, *_) = explanation.untracked
    assert pages.text.startswith("explain_app.PAGES (dict): +3,000 items, +")
    assert explanation.verdict.layer in {"none", "python objects", "untracked python data"}
    assert explanation.verdict.figures.untracked_growth >= 3000 * 1500


def test_an_untraced_capture_leaves_tracing_off(app: types.ModuleType) -> None:
    """Without a window nothing is traced and no site is named; holders are still found."""
    before = take_census()
    explainer = CaptureExplainer(trace=False)
    for n in range(500):
        app.handle(n)
    assert not tracemalloc.is_tracing()
    after = take_census()
    explanation = explainer.explain(before, after, diff_censuses(before, after))
    assert explanation.sites == ()
    assert any(entry.what == "explain_app.Session" for entry in explanation.retention)


def test_a_leak_profile_traces_and_explains_by_default(app: types.ModuleType) -> None:
    """A profile captured on a leak names the line, the holders and the layer, and validates."""
    store = MemoryProfileStore()
    profiler = Profiler(store, record_diff=_record, pid=lambda: 1)
    gc.collect()  # earlier tests' garbage, freed mid-capture, would crowd the diff's top types
    started = profiler.start("leak")
    assert tracemalloc.is_tracing()
    for n in range(2000):
        app.handle(n)
    ended = profiler.end(started.id)
    assert not tracemalloc.is_tracing()
    change = ended.last_diff.change
    assert change.allocation_sites[0].file == app.__file__
    assert any(entry.what == "explain_app.Session" for entry in change.retention)
    assert change.untracked[0].holder == "explain_app.PAGES"
    assert ended.verdict.layer != ""
    body = json.loads(dumps(ended))
    assert_valid("profile", body)
    assert body["lastDiff"]["change"]["untracked"][0]["size"].endswith(("kb", "mb"))


def test_no_grown_container_is_memwatchs_own_end_of_capture_work(app: types.ModuleType) -> None:
    """Every grown container a profile lists has a holder: none is a census's own per-type table."""
    store = MemoryProfileStore()
    profiler = Profiler(store, record_diff=_record, pid=lambda: 1)
    started = profiler.start("manual")
    for n in range(2000):
        app.handle(n)
    change = profiler.end(started.id).last_diff.change
    holders = [(entry.holder, entry.what, entry.untracked_types) for entry in change.untracked]
    assert ("explain_app.PAGES", "dict", ("str",)) in holders
    assert all(holder for holder, _what, _types in holders), holders


def test_objects_that_hold_large_bytes_are_python_data_not_native_memory(
    app: types.ModuleType,
) -> None:
    """Untraced, a list of objects with 1 KiB bytearrays is untracked Python data, with its bytes.

    The census sizes each object shallowly; the bytearrays live in malloc's
    memory. Counted nowhere, they made the verdict blame native memory.
    """
    store = MemoryProfileStore()
    profiler = Profiler(store, record_diff=_record, pid=lambda: 1)
    started = profiler.start("manual")
    app.UPLOADS.extend(app.Upload(n) for n in range(30_000))
    ended = profiler.end(started.id)
    (uploads,) = [e for e in ended.last_diff.change.untracked if e.holder == "explain_app.UPLOADS"]
    assert uploads.untracked_types[0] == "bytearray"
    assert uploads.size_bytes >= 30_000 * 1024
    assert ended.verdict.layer == "untracked python data", ended.verdict.text


@pytest.mark.usefixtures("app")  # it stops tracemalloc whatever the test leaves
def test_a_manual_profile_does_not_trace_unless_asked() -> None:
    """A manual profile leaves tracemalloc off by default and traces with trace=True."""
    profiler = Profiler(MemoryProfileStore(), record_diff=_record, pid=lambda: 1)
    plain = profiler.start("manual")
    assert not tracemalloc.is_tracing()
    profiler.end(plain.id)
    traced = profiler.start("manual", trace=True)
    assert tracemalloc.is_tracing()
    profiler.delete(traced.id)
    assert not tracemalloc.is_tracing()


def _record(report: HeapDiffReport) -> StateSnapshot:
    del report
    return StateSnapshot("diff", GCStats(), LeakReport())


def test_the_windows_end_is_read_before_memwatchs_own_end_of_capture_work(
    app: types.ModuleType,
) -> None:
    """Memory taken after the window's end (its snapshot, the closing census) is not the leak's."""
    before = take_census()
    explainer = CaptureExplainer(trace=True)
    for n in range(200):
        app.handle(n)
    explainer.finish_window()
    after = take_census()
    one_off = bytearray(64 << 20)  # zero-filled, so resident: a snapshot's or a census's own memory
    explanation = explainer.explain(before, after, diff_censuses(before, after))
    assert len(one_off) == 64 << 20
    assert explanation.verdict.figures.process_growth < 32 << 20
    assert (explanation.verdict.figures.malloc_growth or 0) < 32 << 20


def test_the_census_explains_what_grew_not_the_net_of_the_baselines_freed_garbage(
    app: types.ModuleType,
) -> None:
    """What was in flight at the baseline and freed since does not cancel the leak's own bytes."""
    in_flight = [{"request": n, "args": [n]} for n in range(20_000)]
    before = take_census()
    explainer = CaptureExplainer(trace=False)
    del in_flight
    for n in range(500):
        app.handle(n)
    after = take_census()
    report = diff_censuses(before, after)
    explanation = explainer.explain(before, after, report)
    sessions = next(d for d in report.change.details if d.what == "explain_app.Session")
    assert report.change.size_bytes < 0 < sessions.size_bytes
    assert explanation.verdict.figures.census_growth >= sessions.size_bytes


def test_a_window_closes_after_trace_seconds_and_its_sites_stay(app: types.ModuleType) -> None:
    """Past trace_seconds the window is read and tracing stops; the profile keeps its sites."""
    profiler = Profiler(MemoryProfileStore(), record_diff=_record, pid=lambda: 1, trace_seconds=5)
    gc.collect()
    started = profiler.start("leak")
    for n in range(2000):
        app.handle(n)
    opened = time.monotonic()
    assert profiler.close_due_windows(now=opened) == 0
    assert tracemalloc.is_tracing()
    assert profiler.close_due_windows(now=opened + 5) == 1
    assert not tracemalloc.is_tracing()
    assert profiler.close_due_windows(now=opened + 10) == 0
    for n in range(2000, 3000):
        app.handle(n)  # after the window: in the diff, not traced
    change = profiler.end(started.id).last_diff.change
    assert not tracemalloc.is_tracing()
    assert change.allocation_sites[0].file == app.__file__
    assert any(entry.what == "explain_app.Session" for entry in change.retention)


def test_a_window_closed_early_is_scaled_to_the_capture(app: types.ModuleType) -> None:
    """Traced bytes of a window that saw a quarter of the capture count 4x in the verdict."""
    before = take_census()
    explainer = CaptureExplainer(trace=True, trace_seconds=1.0)
    for n in range(1000):
        app.handle(n)
    start = time.monotonic()
    assert explainer.close_window_if_due(now=start + 3600) is True
    traced = explainer._reading.traced_bytes  # type: ignore[union-attr]
    explainer._window_seconds = 15.0  # a window that saw 15 s
    # ... of a capture of 60 s
    explainer._start = attrs.evolve(explainer._start, at=time.monotonic() - 60.0)
    after = take_census()
    figures = explainer.explain(before, after, diff_censuses(before, after)).verdict.figures
    assert figures.traced_growth == pytest.approx(4 * traced, rel=0.01)


def test_trace_seconds_must_be_positive() -> None:
    """A window that could never open is refused with a message that names the option."""
    with pytest.raises(ValueError, match="trace_seconds must be positive"):
        Profiler(MemoryProfileStore(), record_diff=_record, pid=lambda: 1, trace_seconds=0)


@pytest.mark.usefixtures("app")  # it stops tracemalloc whatever the test leaves
def test_a_window_closed_early_leaves_malloc_growth_alone() -> None:
    """tracemalloc gave its traces back to malloc: malloc's growth is not cut by them."""
    before = take_census()
    explainer = CaptureExplainer(trace=True, trace_seconds=1.0)
    kept = [float(n) for n in range(200_000)]
    assert explainer.close_window_if_due(now=time.monotonic() + 3600)
    after = take_census()
    figures = explainer.explain(before, after, diff_censuses(before, after)).verdict.figures
    assert figures.tracing_overhead > 1_000_000
    if figures.malloc_growth is not None:  # glibc's mallinfo2
        assert figures.malloc_growth > -figures.tracing_overhead // 2
    assert len(kept) == 200_000
