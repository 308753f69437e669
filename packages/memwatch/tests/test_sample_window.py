"""The sample window behind GET /memory/samples: bounded, ordered, and small as JSON."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch.converter import dumps, loads
from memwatch.models import GCStats, LeakReport
from memwatch.sample_window import SampleSeries, SampleWindow
from memwatch.testing.contract import assert_valid
from memwatch.watcher import Watcher
from scripted import MIB, ScriptedProbe

START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def _stats(seconds: float, reading: int, baseline: int) -> GCStats:
    return GCStats(
        timestamp=START + dt.timedelta(seconds=seconds),
        current_base=reading,
        estimated_base=baseline,
    )


@given(
    capacity=st.integers(1, 50),
    readings=st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)), max_size=200),
)
def test_keeps_the_latest_samples_in_order(capacity, readings):
    """Whatever was added, the window holds the last `capacity` samples, oldest first."""
    window = SampleWindow(capacity=capacity)
    for n, (reading, baseline) in enumerate(readings):
        window.add_stats(_stats(n * 0.25, reading, baseline))
    series = window.series(probe="rss", sample_interval=0.25)
    kept = readings[-capacity:] if readings else []
    assert len(window) == len(kept) <= capacity
    assert list(zip(series.reading, series.baseline, strict=True)) == kept
    assert list(series.time) == sorted(series.time)
    assert len(series.time) == len(series.reading) == len(series.baseline)


@given(
    readings=st.lists(st.tuples(st.integers(0, 2**50), st.integers(0, 2**50)), max_size=30),
    leaks=st.integers(0, 12),
)
def test_the_body_matches_its_schema_and_round_trips(readings, leaks):
    """Any window's body is valid under sample_series.json and reads back equal."""
    window = SampleWindow()
    for n, (reading, baseline) in enumerate(readings):
        window.add_stats(_stats(n * 1.5, reading, baseline))
    for n in range(leaks):
        moment = START + dt.timedelta(seconds=n)
        window.add_leak(LeakReport(timestamp=moment, start=START, end=moment, growth=n, reason="r"))
    series = window.series(probe="rss", sample_interval=1.5)
    body = dumps(series)
    assert_valid("sample_series", body)
    assert loads(body, SampleSeries) == series


def test_keeps_the_latest_leaks():
    """Only the latest max_leaks leak reports stay, oldest first."""
    window = SampleWindow(max_leaks=3)
    reports = [
        LeakReport(timestamp=START + dt.timedelta(minutes=n), reason=str(n)) for n in range(5)
    ]
    for report in reports:
        window.add_leak(report)
    assert window.series(probe="rss", sample_interval=5).leaks == tuple(reports[2:])


def test_a_stats_event_without_a_time_is_not_a_sample():
    """A stats event with no timestamp (none taken yet) adds nothing."""
    window = SampleWindow()
    window.add_stats(GCStats())
    assert len(window) == 0


def test_clear_forgets_everything():
    """clear() empties samples and leaks (a forked child's history starts empty)."""
    window = SampleWindow()
    window.add_stats(_stats(0, 1, 1))
    window.add_leak(LeakReport(timestamp=START))
    window.clear()
    series = window.series(probe="rss", sample_interval=5)
    assert (series.time, series.leaks) == ((), ())


def test_a_full_window_is_under_50_kb_of_json():
    """720 samples of multi-gigabyte readings and 10 long leak reasons stay under 50 KB."""
    window = SampleWindow()
    for n in range(1000):
        window.add_stats(_stats(n * 5.123, 12_345_678_901 + n * 4099, 12_000_000_000 + n * 997))
    for n in range(20):
        window.add_leak(
            LeakReport(
                timestamp=START + dt.timedelta(seconds=n),
                start=START,
                end=START + dt.timedelta(seconds=n),
                growth=123_456_789,
                reason="heap baseline grew 28.73 mb over 15 samples (29s) - 3565.66 mb/hr " * 2,
            )
        )
    body = dumps(window.series(probe="rss", sample_interval=5.0))
    assert len(window) == 720
    assert len(body) < 50_000, len(body)


@pytest.mark.parametrize(("capacity", "max_leaks"), [(0, 10), (10, 0)])
def test_bounds_must_be_positive(capacity, max_leaks):
    """A window that could hold nothing is refused."""
    with pytest.raises(ValueError, match="at least 1"):
        SampleWindow(capacity=capacity, max_leaks=max_leaks)


def test_the_watcher_keeps_each_sample_and_leak_for_plotting():
    """Every stats event a poll records is a sample of watcher.samples(); so is a forced one."""
    probe = ScriptedProbe(step=MIB)
    with Watcher(probe=probe, background=False, sample_interval=0.001) as watcher:
        for _ in range(3):
            gc.collect()
            watcher.poll()
        watcher.force_gc()
        series = watcher.samples()
        status = watcher.status()
    assert series.probe == "scripted"
    assert len(series.time) >= 4
    assert series.reading[-1] == status.last_gc.current_base
    assert series.baseline[-1] == status.last_gc.estimated_base
    assert list(series.reading) == sorted(series.reading)  # the scripted heap only grows
