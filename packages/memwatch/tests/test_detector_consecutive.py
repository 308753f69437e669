"""Unit tests of the consecutive-growth rule (Node memwatch's): config, stats and leak findings."""

from __future__ import annotations

import re

import pytest

from memwatch.detector import (
    ConsecutiveGrowthConfig,
    ConsecutiveGrowthDetector,
    LeakFinding,
    StatsFinding,
)
from memwatch.samples import Sample
from memwatch.testing.strategies import MB, feed_all, leak_findings


def full(time, heap, **counts):
    return Sample(time=time, heap_bytes=heap, full=True, **counts)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"consecutive_growth": 0}, "consecutive_growth must be >= 1"),
        ({"recent_period": 0}, "recent_period must be >= 1"),
        ({"ancient_period": 0}, "ancient_period must be >= 1"),
        ({"settle_samples": 0}, "settle_samples must be >= 1"),
    ],
)
def test_consecutive_config_rejects_bad_options(options, fragment):
    """Each out-of-range option of the consecutive mode is named in a ValueError."""
    with pytest.raises(ValueError, match=re.escape(fragment)):
        ConsecutiveGrowthConfig(**options)


def test_consecutive_ignores_incremental_samples():
    """In the consecutive mode a sample not taken after a full collection yields no finding."""
    detector = ConsecutiveGrowthDetector()
    assert detector.feed(Sample(time=0.0, heap_bytes=10, full=False)) == []


def test_consecutive_stats_follow_memwatch():
    """Stats carry the sample's counts, running-mean baselines and min/max from the 3rd sample."""
    detector = ConsecutiveGrowthDetector()
    first = detector.feed(full(1.0, 100, num_full_gc=1, num_inc_gc=7, heap_compactions=1))
    assert first == [
        StatsFinding(
            time=1.0,
            num_full_gc=1,
            num_inc_gc=7,
            heap_compactions=1,
            estimated_base=100,
            current_base=100,
            min=0,
            max=0,
            usage_trend=0.0,
        )
    ]
    detector.feed(full(2.0, 50))
    (third,) = detector.feed(full(3.0, 90))
    assert isinstance(third, StatsFinding)
    assert third.estimated_base == 80  # (100 + 50 + 90) / 3
    assert (third.min, third.max) == (90, 90)
    (fourth,) = detector.feed(full(4.0, 70))
    assert isinstance(fourth, StatsFinding)
    assert (fourth.min, fourth.max, fourth.current_base) == (70, 90, 70)


def test_consecutive_baselines_become_moving_averages():
    """After recent_period samples the recent base is an EMA; usage_trend compares it to ancient."""
    detector = ConsecutiveGrowthDetector(ConsecutiveGrowthConfig(recent_period=2, ancient_period=4))
    events = feed_all(detector, [full(float(t), heap) for t, heap in enumerate([100, 100, 200])])
    last = events[-1]
    assert isinstance(last, StatsFinding)
    # recent: (100*1 + 200)/2 = 150; ancient: running mean (100+100+200)/3 = 133.33
    assert last.estimated_base == 150
    assert last.usage_trend == 12.5


def test_consecutive_usage_trend_can_be_negative():
    """A shrinking heap gives a negative usage_trend instead of memwatch's unsigned wrap-around."""
    detector = ConsecutiveGrowthDetector(ConsecutiveGrowthConfig(recent_period=1, ancient_period=2))
    events = feed_all(detector, [full(0.0, 200), full(1.0, 100)])
    assert events[-1] == StatsFinding(1.0, 0, 0, 0, 100, 100, 0, 0, -33.3)


def test_consecutive_leak_measured_from_before_growth():
    """The leak starts at the last sample before the growth; the reason names the configured N."""
    detector = ConsecutiveGrowthDetector(ConsecutiveGrowthConfig(consecutive_growth=3))
    events = feed_all(
        detector, [full(0.0, 1000), full(10.0, 2000), full(20.0, 3000), full(30.0, 4000)]
    )
    (leak,) = leak_findings(events)
    assert leak == LeakFinding(
        time=30.0,
        start=0.0,
        end=30.0,
        start_base=1000,
        end_base=4000,
        growth=3000,
        reason="heap growth over 3 consecutive GCs (30s) - 351.56 kb/hr",
    )
    assert isinstance(events[-2], StatsFinding)
    assert events[-2].time == 30.0


def test_consecutive_zero_second_window():
    """A leak whose samples share one timestamp reports a finite rate over one second."""
    detector = ConsecutiveGrowthDetector(ConsecutiveGrowthConfig(consecutive_growth=2))
    events = feed_all(detector, [full(5.0, MB), full(5.0, 2 * MB), full(5.0, 3 * MB)])
    (leak,) = leak_findings(events)
    assert leak.reason == "heap growth over 2 consecutive GCs (0s) - 6866.46 mb/hr"
    assert leak.start == leak.end == 5.0


def test_consecutive_time_going_backwards_is_an_error():
    """A sample older than the previous one is rejected."""
    detector = ConsecutiveGrowthDetector()
    detector.feed(full(10.0, 1))
    with pytest.raises(ValueError, match="backwards"):
        detector.feed(full(9.0, 1))


def test_consecutive_reset_forgets_everything():
    """After reset() a detector behaves exactly like a new one, even for earlier times."""
    samples = [full(float(t), 1000 + t) for t in range(8)]
    detector = ConsecutiveGrowthDetector()
    feed_all(detector, [full(100.0, 5), full(200.0, 7)])
    detector.reset()
    assert feed_all(detector, samples) == feed_all(ConsecutiveGrowthDetector(), samples)


def test_usage_trend_is_zero_for_an_empty_heap():
    """A zero long-run baseline gives a usage_trend of 0 instead of dividing by zero."""
    (stats,) = ConsecutiveGrowthDetector().feed(full(0.0, 0))
    assert isinstance(stats, StatsFinding)
    assert stats.usage_trend == 0.0
