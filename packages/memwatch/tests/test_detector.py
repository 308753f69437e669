"""Unit tests of the leak detector: configs, make_detector, both modes' events and reasons."""

from __future__ import annotations

import itertools
import re

import pytest

from memwatch.detector import (
    LeakEvent,
    MemwatchConfig,
    MemwatchDetector,
    Sample,
    StatsEvent,
    TrendConfig,
    TrendDetector,
    hourly_rate,
    make_detector,
)
from strategies import MB, linear_leak, to_samples


def full(time, heap, **counts):
    return Sample(time=time, heap_bytes=heap, full=True, **counts)


def leaks(events):
    return [event for event in events if isinstance(event, LeakEvent)]


def feed_all(detector, samples):
    events = []
    for sample in samples:
        events.extend(detector.feed(sample))
    return events


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"consecutive_growth": 0}, "consecutive_growth must be >= 1"),
        ({"recent_period": 0}, "recent_period must be >= 1"),
        ({"ancient_period": 0}, "ancient_period must be >= 1"),
        ({"settle_samples": 0}, "settle_samples must be >= 1"),
    ],
)
def test_memwatch_config_rejects_bad_options(options, fragment):
    """Each out-of-range memwatch option is named in a ValueError."""
    with pytest.raises(ValueError, match=re.escape(fragment)):
        MemwatchConfig(**options)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"sample_interval": 0}, "sample_interval must be > 0"),
        ({"warmup": -1}, "warmup must be >= 0"),
        ({"segments": 1, "max_step_share": 1}, "segments must be >= 2"),
        ({"min_samples": 9}, "min_samples must be >= 2 * segments"),
        ({"window": 14}, "window must be >= min_samples"),
        ({"min_rate": -1}, "min_rate must be >= 0"),
        ({"min_growth": 0}, "min_growth must be > 0"),
        ({"max_step_share": 0.2}, "max_step_share must be between"),
        ({"max_step_share": 1.5}, "max_step_share must be between"),
        ({"min_step_share": -0.1}, "min_step_share must be between 0 and 1"),
        ({"max_pair_ratio": 0.9}, "max_pair_ratio must be >= 1"),
        ({"parts": 0}, "parts must be >= 1"),
        ({"parts": 11}, "min_samples must be >= 2 * segments and >= 2 * parts"),
        ({"part_points": 1}, "part_points must be >= 2"),
        ({"min_part_rate": 1.5}, "min_part_rate must be between 0 and 1"),
        ({"noise_margin": -1}, "noise_margin must be >= 0"),
        ({"confirm": 0}, "confirm must be >= 1"),
    ],
)
def test_trend_config_rejects_bad_options(options, fragment):
    """Each out-of-range trend option is named in a ValueError."""
    with pytest.raises(ValueError, match=re.escape(fragment)):
        TrendConfig(**options)


def test_config_lists_every_problem():
    """A config with several bad options names all of them in one error."""
    with pytest.raises(ValueError, match=r"warmup.*min_growth"):
        TrendConfig(warmup=-1, min_growth=0)


def test_make_detector_defaults_to_trend():
    """make_detector() with no arguments builds a trend detector with default options."""
    detector = make_detector()
    assert isinstance(detector, TrendDetector)
    assert detector.mode == "trend"
    assert detector.config == TrendConfig()


def test_make_detector_passes_options():
    """Options given to make_detector reach the mode's config."""
    detector = make_detector("memwatch", consecutive_growth=3)
    assert isinstance(detector, MemwatchDetector)
    assert detector.mode == "memwatch"
    assert detector.config.consecutive_growth == 3


def test_make_detector_unknown_mode_lists_modes():
    """An unknown mode is a ValueError naming the valid modes."""
    with pytest.raises(ValueError, match=r"'nope'.*trend, memwatch"):
        make_detector("nope")


def test_make_detector_unknown_option_lists_options():
    """An unknown option is a ValueError naming it and the mode's valid options."""
    with pytest.raises(ValueError, match=r"colour.*valid options: consecutive_growth"):
        make_detector("memwatch", colour="red")


def test_make_detector_bad_value_is_value_error():
    """An out-of-range option value given to make_detector is a ValueError."""
    with pytest.raises(ValueError, match="window must be >= min_samples"):
        make_detector("trend", window=3)


def test_memwatch_ignores_incremental_samples():
    """In memwatch mode a sample not taken after a full collection yields no event."""
    detector = MemwatchDetector()
    assert detector.feed(Sample(time=0.0, heap_bytes=10, full=False)) == []


def test_memwatch_stats_follow_memwatch():
    """Stats carry the sample's counts, running-mean baselines and min/max from the 3rd sample."""
    detector = MemwatchDetector()
    first = detector.feed(full(1.0, 100, num_full_gc=1, num_inc_gc=7, heap_compactions=1))
    assert first == [
        StatsEvent(
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
    assert isinstance(third, StatsEvent)
    assert third.estimated_base == 80  # (100 + 50 + 90) / 3
    assert (third.min, third.max) == (90, 90)
    (fourth,) = detector.feed(full(4.0, 70))
    assert isinstance(fourth, StatsEvent)
    assert (fourth.min, fourth.max, fourth.current_base) == (70, 90, 70)


def test_memwatch_baselines_become_moving_averages():
    """After recent_period samples the recent base is an EMA; usage_trend compares it to ancient."""
    detector = MemwatchDetector(MemwatchConfig(recent_period=2, ancient_period=4))
    events = feed_all(detector, [full(float(t), heap) for t, heap in enumerate([100, 100, 200])])
    last = events[-1]
    assert isinstance(last, StatsEvent)
    # recent: (100*1 + 200)/2 = 150; ancient: running mean (100+100+200)/3 = 133.33
    assert last.estimated_base == 150
    assert last.usage_trend == 12.5


def test_memwatch_usage_trend_can_be_negative():
    """A shrinking heap gives a negative usage_trend instead of memwatch's unsigned wrap-around."""
    detector = MemwatchDetector(MemwatchConfig(recent_period=1, ancient_period=2))
    events = feed_all(detector, [full(0.0, 200), full(1.0, 100)])
    assert events[-1] == StatsEvent(1.0, 0, 0, 0, 100, 100, 0, 0, -33.3)


def test_memwatch_leak_measured_from_before_growth():
    """The leak starts at the last sample before the growth; the reason names the configured N."""
    detector = MemwatchDetector(MemwatchConfig(consecutive_growth=3))
    events = feed_all(
        detector, [full(0.0, 1000), full(10.0, 2000), full(20.0, 3000), full(30.0, 4000)]
    )
    (leak,) = leaks(events)
    assert leak == LeakEvent(
        time=30.0,
        start=0.0,
        end=30.0,
        start_base=1000,
        end_base=4000,
        growth=3000,
        reason="heap growth over 3 consecutive GCs (30s) - 351.56 kb/hr",
    )
    assert isinstance(events[-2], StatsEvent)
    assert events[-2].time == 30.0


def test_memwatch_zero_second_window():
    """A leak whose samples share one timestamp reports a finite rate over one second."""
    detector = MemwatchDetector(MemwatchConfig(consecutive_growth=2))
    events = feed_all(detector, [full(5.0, MB), full(5.0, 2 * MB), full(5.0, 3 * MB)])
    (leak,) = leaks(events)
    assert leak.reason == "heap growth over 2 consecutive GCs (0s) - 6866.46 mb/hr"
    assert leak.start == leak.end == 5.0


def test_memwatch_time_going_backwards_is_an_error():
    """A sample older than the previous one is rejected."""
    detector = MemwatchDetector()
    detector.feed(full(10.0, 1))
    with pytest.raises(ValueError, match="backwards"):
        detector.feed(full(9.0, 1))


def test_memwatch_reset_forgets_everything():
    """After reset() a detector behaves exactly like a new one, even for earlier times."""
    samples = [full(float(t), 1000 + t) for t in range(8)]
    detector = MemwatchDetector()
    feed_all(detector, [full(100.0, 5), full(200.0, 7)])
    detector.reset()
    assert feed_all(detector, samples) == feed_all(MemwatchDetector(), samples)


def test_hourly_rate_floors_duration_at_one_second():
    """The hourly rate divides by the duration, or by one second for shorter windows."""
    assert hourly_rate(100, 3600.0) == 100.0
    assert hourly_rate(100, 0.0) == 360_000.0
    assert hourly_rate(100, 0.5) == 360_000.0


def test_trend_warmup_samples_do_not_count():
    """Warm-up samples yield stats with min/max 0 and never a leak, however fast the growth."""
    detector = TrendDetector(TrendConfig(warmup=60.0))
    events = feed_all(detector, to_samples([MB * (1 + i) for i in range(12)]))
    assert all(isinstance(event, StatsEvent) for event in events)
    assert all(event.min == event.max == 0 for event in events if isinstance(event, StatsEvent))


def test_trend_detects_fast_leak_with_reason():
    """A 1 MB/s leak on a 50 MB heap is reported within two minutes, with a trend-mode reason."""
    detector = TrendDetector()
    events = feed_all(detector, linear_leak(seed=1, base=50 * MB, rate=MB, duration=120.0))
    found = leaks(events)
    assert found
    leak = found[0]
    assert leak.time == leak.end <= 120.0
    assert leak.growth == leak.end_base - leak.start_base > 0.12 * leak.start_base
    assert re.fullmatch(
        r"heap baseline grew [\d.]+ mb over \d+ samples \(1m \d+s\) - [\d.]+ mb/hr", leak.reason
    )


def test_trend_reports_once_per_window():
    """A steady leak is reported once per window of further growth, not once per sample."""
    detector = TrendDetector()
    samples = linear_leak(seed=3, base=50 * MB, rate=MB, duration=600.0)
    found = leaks(feed_all(detector, samples))
    assert 2 <= len(found) <= len(samples) // detector.config.min_samples
    for before, after in itertools.pairwise(found):
        assert after.start >= before.end
        assert after.end - before.end >= (detector.config.min_samples - 1) * 5.0


# Every test of the trend rule switched off except growth > 0; each test below turns one on.
LOOSE = {
    "warmup": 0.0,
    "min_rate": 0,
    "min_growth": 1e-9,
    "max_step_share": 1.0,
    "max_pair_ratio": 10.0,
    "min_part_rate": 0.0,
    "noise_margin": 0.0,
    "confirm": 1,
}


def loose(**options):
    """A trend detector with only the given tests on (window = min_samples unless told)."""
    settings = {**LOOSE, **options}
    settings.setdefault("window", settings.get("min_samples", 20))
    return TrendDetector(TrendConfig(**settings))


def fires(detector, heaps):
    return leaks(feed_all(detector, to_samples(heaps)))


def test_trend_merges_samples_within_an_interval():
    """Samples closer than sample_interval share one slot keeping the lowest reading."""
    detector = loose(min_samples=4, segments=2)
    heaps = [(0.0, 100), (1.0, 90), (2.0, 500), (5.0, 120), (10.0, 140), (11.0, 130)]
    events = feed_all(detector, [Sample(t, h, full=False) for t, h in heaps])
    assert leaks(events) == []
    events = detector.feed(Sample(15.0, 160, full=False))
    (leak,) = leaks(events)
    # slots: 90 (t=1), 120, 130 (t=11), 160 -> floors 90 and 130
    assert (leak.start, leak.start_base, leak.end_base) == (1.0, 90, 130)
    assert leak.reason.startswith("heap baseline grew 40 bytes over 4 samples (14s)")


def test_trend_never_fires_on_a_flat_heap():
    """A heap whose floor does not grow never fires, even with every other test off."""
    assert fires(loose(min_samples=4, segments=2), [100, 50, 100, 50, 100, 50]) == []


def test_trend_requires_every_segment_to_rise():
    """A plateau in one segment stops a report even when the total growth is large."""
    heaps = [100, 100, 100, 100, 300, 300]
    assert fires(loose(min_samples=6, segments=3, min_step_share=0.5), heaps) == []
    assert fires(loose(min_samples=6, segments=3), heaps)


def test_trend_rejects_one_concentrated_step():
    """Growth made by one segment's jump (a cache filling once) is not a leak."""
    heaps = [100, 100, 101, 101, 300, 300]
    assert fires(loose(min_samples=6, segments=3, max_step_share=0.6), heaps) == []
    assert fires(loose(min_samples=6, segments=3), heaps)


def test_trend_rejects_a_step_straddling_two_segments():
    """A jump split over two adjacent segments (each under max_step_share) is not a leak."""
    heaps = [100, 100, 101, 101, 200, 200, 300, 300, 301, 301]
    strict = loose(min_samples=10, segments=5, max_step_share=0.5, max_pair_ratio=1.4)
    assert fires(strict, heaps) == []
    assert fires(loose(min_samples=10, segments=5, max_step_share=0.5), heaps)


def test_trend_requires_every_part_to_rise():
    """Growth with a flat half (a jump between two plateaus) fails the per-part slope test."""
    heaps = [100, 100, 100, 100, 150, 150, 150, 150]
    assert fires(loose(min_samples=8, segments=2, min_part_rate=0.45), heaps) == []
    assert fires(loose(min_samples=8, segments=2), heaps)
    ramp = [100 + 10 * i for i in range(8)]
    assert fires(loose(min_samples=8, segments=2, min_part_rate=0.45), ramp)


def test_trend_part_slopes_use_block_floors_of_long_parts():
    """Parts longer than part_points are reduced to block floors, which ignore spikes."""
    spiky = [100 + 10 * i + (500 if i % 2 else 0) for i in range(16)]
    strict = {"min_samples": 16, "segments": 2, "min_part_rate": 0.9, "part_points": 4}
    assert fires(loose(**strict), spiky)
    falling_spikes = [100 + 10 * i + (500 - 40 * i if i % 2 else 0) for i in range(16)]
    assert fires(loose(**{**strict, "part_points": 8}), falling_spikes) == []


def test_trend_growth_must_exceed_the_floor_noise():
    """A rise smaller than the scatter of readings above their floors is not a leak."""
    heaps = [100, 300, 110, 310, 120, 320, 130, 330]
    # floors 100 and 120; readings sit 200 above them: the floors are uncertain by 80.
    assert fires(loose(min_samples=8, segments=2, noise_margin=1.0), heaps) == []
    assert fires(loose(min_samples=8, segments=2, noise_margin=0.2), heaps)


def test_trend_short_windows_need_more_relative_growth():
    """min_growth applies to a full window; a window of n slots needs min_growth * window / n."""
    heaps = [100, 105, 110, 115]  # 10% from the first floor to the last
    assert fires(loose(min_samples=4, segments=2, min_growth=0.1), heaps)
    assert fires(loose(min_samples=4, segments=2, min_growth=0.1, window=8), heaps) == []


def test_trend_confirms_over_consecutive_slots():
    """With confirm=N the window must pass on N distinct slots; merged samples count once."""
    ramp = [100 + 10 * i for i in range(6)]
    (leak,) = fires(loose(min_samples=4, segments=2, confirm=3), ramp)
    assert leak.time == 25.0  # passes at 15, 20 and 25 s
    detector = loose(min_samples=4, segments=2, confirm=2, window=10)
    events = feed_all(detector, to_samples([100, 110, 120, 130]))
    events += feed_all(detector, [Sample(16.0, 140, full=False), Sample(17.0, 150, full=False)])
    assert leaks(events) == []
    (leak,) = leaks(detector.feed(Sample(20.0, 160, full=False)))
    assert leak.time == 20.0


def test_trend_confirmation_restarts_after_a_failing_slot():
    """A slot on which the window fails resets the count of confirming slots."""
    heaps = [100, 110, 120, 130, 100, 140, 150, 160, 170]
    detector = loose(min_samples=4, segments=2, confirm=2, window=4)
    # passes at 15 s, fails from 20 s (the dip) to 30 s, passes again at 35 and 40 s.
    assert [leak.time for leak in fires(detector, heaps)] == [40.0]


def test_trend_requires_minimum_rate():
    """Growth slower than min_rate is not reported even when it is steady and large."""
    heaps = [100 * 2**i for i in range(6)]
    assert fires(loose(min_samples=6, segments=3, min_rate=10**12), heaps) == []
    assert fires(loose(min_samples=6, segments=3), heaps)


def test_trend_time_going_backwards_is_an_error():
    """A trend detector rejects a sample older than the previous one."""
    detector = TrendDetector()
    detector.feed(Sample(10.0, 1, full=False))
    with pytest.raises(ValueError, match="backwards"):
        detector.feed(Sample(9.0, 1, full=False))


def test_trend_reset_forgets_everything():
    """After reset() a trend detector behaves exactly like a new one."""
    samples = linear_leak(seed=5, base=40 * MB, rate=MB, duration=200.0)
    detector = TrendDetector()
    feed_all(detector, linear_leak(seed=6, base=40 * MB, rate=MB, duration=300.0))
    detector.reset()
    assert feed_all(detector, samples) == feed_all(TrendDetector(), samples)


def test_usage_trend_is_zero_for_an_empty_heap():
    """A zero long-run baseline gives a usage_trend of 0 instead of dividing by zero."""
    (stats,) = MemwatchDetector().feed(full(0.0, 0))
    assert isinstance(stats, StatsEvent)
    assert stats.usage_trend == 0.0
