"""Unit tests of the trend rule: config, warm-up, each test of the window, confirmation, reset."""

from __future__ import annotations

import itertools
import re

import pytest

from memwatch.detector import StatsFinding, TrendConfig, TrendDetector
from memwatch.samples import Sample
from memwatch.testing.strategies import MB, feed_all, leak_findings, linear_leak, to_samples


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


def test_trend_warmup_samples_do_not_count():
    """Warm-up samples yield stats with min/max 0 and never a leak, however fast the growth."""
    detector = TrendDetector(TrendConfig(warmup=60.0))
    events = feed_all(detector, to_samples([MB * (1 + i) for i in range(12)]))
    assert all(isinstance(event, StatsFinding) for event in events)
    assert all(event.min == event.max == 0 for event in events if isinstance(event, StatsFinding))


def test_trend_detects_fast_leak_with_reason():
    """A 1 MB/s leak on a 50 MB heap is reported within two minutes, with a trend-mode reason."""
    detector = TrendDetector()
    events = feed_all(detector, linear_leak(seed=1, base=50 * MB, rate=MB, duration=120.0))
    found = leak_findings(events)
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
    found = leak_findings(feed_all(detector, samples))
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
    return leak_findings(feed_all(detector, to_samples(heaps)))


def test_trend_merges_samples_within_an_interval():
    """Samples closer than sample_interval share one slot keeping the lowest reading."""
    detector = loose(min_samples=4, segments=2)
    heaps = [(0.0, 100), (1.0, 90), (2.0, 500), (5.0, 120), (10.0, 140), (11.0, 130)]
    events = feed_all(detector, [Sample(t, h, full=False) for t, h in heaps])
    assert leak_findings(events) == []
    events = detector.feed(Sample(15.0, 160, full=False))
    (leak,) = leak_findings(events)
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
    assert leak_findings(events) == []
    (leak,) = leak_findings(detector.feed(Sample(20.0, 160, full=False)))
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
