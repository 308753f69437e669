"""Unit tests of the trend rule: config, warm-up, each test of the window, confirmation, reset."""

from __future__ import annotations

import itertools
import re

import pytest

from memwatch.detector import StatsFinding, TrendConfig, TrendDetector
from memwatch.samples import Sample
from memwatch.testing.strategies import (
    MB,
    feed_all,
    leak_findings,
    linear_leak,
    step,
    to_samples,
)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"resolution": 0}, "resolution must be > 0"),
        ({"warmup": -1}, "warmup must be >= 0"),
        ({"segments": 1, "max_step_share": 1}, "segments must be >= 2"),
        ({"quick_span": 15, "segments": 5}, "quick_span must hold a slot per segment"),
        ({"parts": 5}, "quick_span must hold a slot per segment and two per part"),
        ({"min_span": 20}, "min_span must be >= quick_span"),
        ({"window": 100}, "window must be >= min_span"),
        ({"recent_span": 100}, "recent_span must be >= min_span"),
        ({"late_ratio": 1.0}, "late_ratio must be > 1"),
        ({"fill_span": -1}, "fill_span must be >= 0"),
        ({"edge_margin": -1}, "edge_margin must be >= 0"),
        ({"quick_growth": 0}, "quick_growth must be > 0"),
        ({"min_rate": -1}, "min_rate must be >= 0"),
        ({"min_growth": 0}, "min_growth must be > 0"),
        ({"max_step_share": 0.2}, "max_step_share must be between"),
        ({"max_step_share": 1.5}, "max_step_share must be between"),
        ({"min_step_share": -0.1}, "min_step_share must be between 0 and 1"),
        ({"max_pair_ratio": 0.9}, "max_pair_ratio must be >= 1"),
        ({"parts": 0}, "parts must be >= 1"),
        ({"part_points": 1}, "part_points must be >= 2"),
        ({"min_part_rate": 1.5}, "min_part_rate must be between 0 and 1"),
        ({"noise_margin": -1}, "noise_margin must be >= 0"),
        ({"confirm": -1}, "confirm must be >= 0"),
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
    """A 1 MB/s leak on a 50 MB heap is reported within 90 s, with a trend-mode reason."""
    detector = TrendDetector()
    events = feed_all(detector, linear_leak(seed=1, base=50 * MB, rate=MB, duration=120.0))
    found = leak_findings(events)
    assert found
    leak = found[0]
    assert leak.time == leak.end <= 90.0
    assert leak.growth == leak.end_base - leak.start_base > 0.8 * leak.start_base
    assert re.fullmatch(
        r"heap baseline grew [\d.]+ mb over \d+ samples \((1m )?\d+s\) - [\d.]+ mb/hr",
        leak.reason,
    )


def test_trend_reports_once_per_window():
    """A steady leak is reported once per window of further growth, not once per sample."""
    detector = TrendDetector()
    samples = linear_leak(seed=3, base=50 * MB, rate=MB, duration=600.0)
    found = leak_findings(feed_all(detector, samples))
    quick = detector.config.quick_span
    assert 2 <= len(found) <= 600.0 / quick
    for before, after in itertools.pairwise(found):
        assert after.start >= before.end
        assert after.end - before.end >= quick


def test_trend_judges_alike_whatever_the_sample_interval():
    """The same heap sampled every 1, 2.5 or 5 s is reported at about the same time."""
    times = []
    for interval in (1.0, 2.5, 5.0):
        samples = linear_leak(seed=4, base=40 * MB, rate=200_000, duration=600.0, interval=interval)
        (first, *_) = leak_findings(feed_all(TrendDetector(), samples))
        times.append(first.time)
    assert max(times) - min(times) <= 15.0


# Every test of the trend rule switched off except growth > 0; each test below turns one on.
LOOSE = {
    "warmup": 0.0,
    "resolution": 1.0,
    "parts": 1,
    "min_rate": 0,
    "min_growth": 1e-9,
    "quick_growth": 1e-9,
    "max_step_share": 1.0,
    "max_pair_ratio": 10.0,
    "min_part_rate": 0.0,
    "noise_margin": 0.0,
    "confirm": 0.0,
}


def loose(**options):
    """A trend detector with only the given tests on (min_span and window = quick_span unless told).

    Series from ``to_samples`` are one sample a second, so a ``quick_span`` of
    ``n - 1`` seconds is a window of ``n`` samples.
    """
    settings = {**LOOSE, **options}
    settings.setdefault("min_span", settings.get("quick_span", 30.0))
    settings.setdefault("window", settings["min_span"])
    return TrendDetector(TrendConfig(**settings))


def fires(detector, heaps):
    return leak_findings(feed_all(detector, to_samples(heaps)))


def test_trend_merges_samples_within_a_slot():
    """Samples closer than resolution share one slot keeping the lowest reading."""
    detector = loose(quick_span=10, segments=2, resolution=5.0, window=20)
    heaps = [(0.0, 100), (1.0, 90), (2.0, 500), (5.0, 120), (10.0, 140), (11.0, 130)]
    events = feed_all(detector, [Sample(t, h, full=False) for t, h in heaps])
    assert leak_findings(events) == []
    events = detector.feed(Sample(15.0, 160, full=False))
    (leak,) = leak_findings(events)
    # slots: 90 (t=1, three samples), 120, 130 (t=11, two), 160 -> floors 90 and 130
    assert (leak.start, leak.start_base, leak.end_base) == (1.0, 90, 130)
    assert leak.reason.startswith("heap baseline grew 40 bytes over 7 samples (14s)")


def test_trend_never_fires_on_a_flat_heap():
    """A heap whose floor does not grow never fires, even with every other test off."""
    assert fires(loose(quick_span=3, segments=2), [100, 50, 100, 50, 100, 50]) == []


def test_trend_requires_every_segment_to_rise():
    """A plateau in one segment stops a report even when the total growth is large."""
    heaps = [100, 100, 100, 100, 300, 300]
    assert fires(loose(quick_span=5, segments=3, min_step_share=0.5), heaps) == []
    assert fires(loose(quick_span=5, segments=3), heaps)


def test_trend_rejects_one_concentrated_step():
    """Growth made by one segment's jump (a cache filling once) is not a leak."""
    heaps = [100, 100, 101, 101, 300, 300]
    assert fires(loose(quick_span=5, segments=3, max_step_share=0.6), heaps) == []
    assert fires(loose(quick_span=5, segments=3), heaps)


def test_trend_rejects_a_step_straddling_two_segments():
    """A jump split over two adjacent segments (each under max_step_share) is not a leak."""
    heaps = [100, 100, 101, 101, 200, 200, 300, 300, 301, 301]
    strict = loose(quick_span=9, segments=5, max_step_share=0.5, max_pair_ratio=1.4)
    assert fires(strict, heaps) == []
    assert fires(loose(quick_span=9, segments=5, max_step_share=0.5), heaps)


def test_trend_requires_every_part_to_rise():
    """Growth with a flat half (a jump between two plateaus) fails the per-part slope test."""
    heaps = [100, 100, 100, 100, 150, 150, 150, 150]
    assert fires(loose(quick_span=7, segments=2, parts=2, min_part_rate=0.45), heaps) == []
    assert fires(loose(quick_span=7, segments=2), heaps)
    ramp = [100 + 10 * i for i in range(8)]
    assert fires(loose(quick_span=7, segments=2, parts=2, min_part_rate=0.45), ramp)


def test_trend_part_slopes_use_block_floors_of_long_parts():
    """Parts longer than part_points are reduced to block floors, which ignore spikes."""
    spiky = [100 + 10 * i + (500 if i % 2 else 0) for i in range(16)]
    strict = {"quick_span": 15, "segments": 2, "parts": 2, "min_part_rate": 0.9, "part_points": 4}
    assert fires(loose(**strict), spiky)
    falling_spikes = [100 + 10 * i + (500 - 40 * i if i % 2 else 0) for i in range(16)]
    assert fires(loose(**{**strict, "part_points": 8}), falling_spikes) == []


def test_trend_growth_must_exceed_the_floor_noise():
    """A rise smaller than the scatter of readings above their floors is not a leak."""
    heaps = [100, 300, 110, 310, 120, 320, 130, 330]
    # floors 100 and 120; readings sit about 200 above them: the floors are uncertain by 79.
    assert fires(loose(quick_span=7, segments=2, noise_margin=1.0), heaps) == []
    assert fires(loose(quick_span=7, segments=2, noise_margin=0.2), heaps)


def test_trend_noise_leaves_a_short_windows_rise_out():
    """In a window under min_span a steep clean ramp is not its own noise; in a longer one it is."""
    ramp = [100 + 50 * i for i in range(8)]
    short = {"quick_span": 7, "segments": 2, "noise_margin": 10.0, "window": 20}
    assert fires(loose(**short, min_span=20, recent_span=20), ramp)
    assert fires(loose(**short, min_span=7, recent_span=7), ramp) == []


def test_trend_judges_recent_spans():
    """Quick spans under min_span, late ones by late_ratio up to recent_span, then doublings."""
    config = TrendConfig()
    late = [150.0 * 1.05**i for i in range(15)]
    assert late[-1] < 300.0 < 150.0 * 1.05**15
    assert config.spans(1000.0) == pytest.approx([600.0, 300.0, *late[::-1], 120.0, 60.0, 30.0])
    assert config.spans(100.0) == [60.0, 30.0]
    assert [config.edged(span) for span in (120.0, 150.0, 297.0, 300.0)] == [
        False,
        True,
        True,
        False,
    ]


def edged(**options):
    """A loose detector whose only windows of weak growth are edged ones (min_span to window).

    Quick windows need a tenfold growth, and ``recent_span`` is the whole
    window, so every recent window from 10 s on must pass the edge tests.
    """
    settings = {
        "quick_span": 3.0,
        "quick_growth": 10.0,
        "min_span": 10.0,
        "recent_span": 40.0,
        "window": 40.0,
        "segments": 2,
        "fill_span": 6.0,
        "edge_margin": 0.0,
        **options,
    }
    return loose(**settings)


# Thirty seconds above what follows: the window from the first slot never grew.
HIGH_PAST = [500] * 30


def test_trend_edges_tell_a_leak_from_a_fill_that_stopped():
    """A late rise that outlasts fill_span is reported; one that stopped within it is not."""
    ramp = HIGH_PAST + [100 + 10 * i for i in range(16)]
    (leak, *_) = fires(edged(), ramp)
    assert (leak.time, leak.start, leak.start_base) == (40.0, 30.0, 100)
    fill = HIGH_PAST + [100 + 20 * min(i, 5) for i in range(16)]
    assert fires(edged(), fill) == []
    # With no fill_span, the fill's last seconds of rise count as a rise at the end.
    assert fires(edged(fill_span=0.0), fill)


def test_trend_edge_rises_must_exceed_the_scatter():
    """An edge's rise smaller than edge_margin times its floor's uncertainty is not a rise."""
    noisy = HIGH_PAST + [100 + 10 * i + (40 if i % 2 else 0) for i in range(16)]
    assert fires(edged(edge_margin=1.0), noisy)
    assert fires(edged(edge_margin=2.0), noisy) == []


def test_trend_edges_are_not_judged_on_windows_from_the_first_slot():
    """The window from the first slot and those of recent_span or longer skip the edge tests."""
    fill = [100 + 20 * min(i, 5) for i in range(16)]
    assert fires(edged(), fill)


def test_trend_does_not_report_a_two_minute_fill_just_after_it_stopped():
    """A 19% fill over 120 s after 17 flat minutes is not reported (a rule with no edges did)."""
    samples = step(seed=800935, base=30e6, at=1051, height=0.1875, ramp=120, duration=1551)
    assert leak_findings(feed_all(TrendDetector(), samples)) == []


def test_trend_late_windows_do_not_report_a_slow_six_percent_fill():
    """A 6% fill over 109 s at 2 s samples is at worst reported late by a long window, as before."""
    samples = step(
        seed=3591424, base=42215023, at=2798, height=0.0625, ramp=109, duration=3298, interval=2.0
    )
    config = TrendConfig()
    for leak in leak_findings(feed_all(TrendDetector(config), samples)):
        assert leak.end - leak.start >= config.recent_span


def test_trend_short_windows_need_more_relative_growth():
    """min_growth applies to a whole window; a window of d seconds needs min_growth * window / d."""
    heaps = [100, 105, 111, 115]  # 11% from the first floor to the last
    assert fires(loose(quick_span=3, segments=2, min_growth=0.1), heaps)
    assert fires(loose(quick_span=3, segments=2, min_growth=0.1, window=6), heaps) == []


def test_trend_windows_under_min_span_need_quick_growth():
    """A window shorter than min_span needs quick_growth, however long the whole window is."""
    heaps = [100, 105, 111, 115]  # 11% from the first floor to the last
    assert fires(loose(quick_span=3, min_span=10, segments=2, quick_growth=0.11), heaps)
    assert fires(loose(quick_span=3, min_span=10, segments=2, quick_growth=0.12), heaps) == []
    assert fires(loose(quick_span=3, min_span=3, segments=2, quick_growth=0.12), heaps)


def test_trend_confirms_for_confirm_seconds():
    """With confirm=s the window must keep passing on every judgement for s seconds."""
    ramp = [100 + 10 * i for i in range(8)]
    (leak,) = fires(loose(quick_span=3, segments=2, confirm=2.0), ramp)
    assert leak.time == 5.0  # passes at 3, 4 and 5 s
    detector = loose(quick_span=10, segments=2, confirm=10.0, resolution=5.0, window=20)
    events = feed_all(detector, to_samples([100, 110, 120], 5.0))
    events += feed_all(detector, [Sample(15.0, 130, full=False), Sample(17.0, 140, full=False)])
    assert leak_findings(events) == []
    (leak,) = leak_findings(detector.feed(Sample(20.0, 150, full=False)))
    assert leak.time == 20.0


def test_trend_confirmation_restarts_after_a_failing_slot():
    """A judgement on which no window passes restarts the confirmation."""
    heaps = [100, 110, 120, 130, 100, 140, 150, 160, 170]
    detector = loose(quick_span=3, segments=2, confirm=1.0)
    # passes at 3 s, fails from 4 s (the dip) to 6 s, passes again at 7 and 8 s.
    assert [leak.time for leak in fires(detector, heaps)] == [8.0]


def test_trend_requires_minimum_rate():
    """Growth slower than min_rate is not reported even when it is steady and large."""
    heaps = [100 * 2**i for i in range(6)]
    assert fires(loose(quick_span=5, segments=3, min_rate=10**12), heaps) == []
    assert fires(loose(quick_span=5, segments=3), heaps)


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
