"""Unit tests of what both detector modes share: make_detector, mode names and old names, rates."""

from __future__ import annotations

import pytest

import memwatch.detector
from memwatch.detector import (
    ConsecutiveGrowthConfig,
    ConsecutiveGrowthDetector,
    LeakFinding,
    StatsFinding,
    TrendConfig,
    TrendDetector,
    hourly_rate,
    make_detector,
)
from memwatch.samples import Sample


def test_make_detector_defaults_to_trend():
    """make_detector() with no arguments builds a trend detector with default options."""
    detector = make_detector()
    assert isinstance(detector, TrendDetector)
    assert detector.mode == "trend"
    assert detector.config == TrendConfig()


def test_make_detector_passes_options():
    """Options given to make_detector reach the mode's config."""
    detector = make_detector("memwatch", consecutive_growth=3)
    assert isinstance(detector, ConsecutiveGrowthDetector)
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
    with pytest.raises(ValueError, match="window must be >= min_span"):
        make_detector("trend", window=3)


def test_hourly_rate_floors_duration_at_one_second():
    """The hourly rate divides by the duration, or by one second for shorter windows."""
    assert hourly_rate(100, 3600.0) == 100.0
    assert hourly_rate(100, 0.0) == 360_000.0
    assert hourly_rate(100, 0.5) == 360_000.0


def test_consecutive_mode_builds_the_memwatch_rule():
    """Mode "consecutive" and its old name "memwatch" build the same rule with the same findings."""
    samples = [Sample(float(t), 1000 * (t + 1), full=True) for t in range(8)]
    new = make_detector("consecutive", consecutive_growth=3)
    old = make_detector("memwatch", consecutive_growth=3)
    assert isinstance(new, ConsecutiveGrowthDetector)
    assert new.config == old.config == ConsecutiveGrowthConfig(consecutive_growth=3)
    found = [finding for sample in samples for finding in new.feed(sample)]
    assert any(isinstance(finding, LeakFinding) for finding in found)
    assert found == [finding for sample in samples for finding in old.feed(sample)]


def test_consecutive_detector_reports_the_documented_mode():
    """Whichever name built it, the consecutive rule reports the mode status documents."""
    assert make_detector("consecutive").mode == "memwatch"
    assert ConsecutiveGrowthDetector().mode == "memwatch"


def test_earlier_names_stay_importable():
    """The names of earlier releases are the new objects, importable from memwatch.detector."""
    assert memwatch.detector.StatsEvent is StatsFinding
    assert memwatch.detector.LeakEvent is LeakFinding
    assert memwatch.detector.Event == StatsFinding | LeakFinding
    assert memwatch.detector.MemwatchDetector is ConsecutiveGrowthDetector
    assert memwatch.detector.MemwatchConfig is ConsecutiveGrowthConfig
    assert memwatch.detector.Sample is Sample


def test_public_names_are_defined():
    """Every name in memwatch.detector.__all__ is defined, and the old aliases are not listed."""
    assert set(memwatch.detector.__all__) <= set(dir(memwatch.detector))
    assert not {"StatsEvent", "LeakEvent", "Event", "MemwatchDetector"} & set(
        memwatch.detector.__all__
    )
