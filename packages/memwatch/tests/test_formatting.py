"""Sizes, durations and timestamps print the way memwatch prints them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch.formatting import (
    format_duration,
    format_rate,
    format_size,
    format_timestamp,
    parse_timestamp,
)

KIB = 1024
MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (512, "512 bytes"),
        (1024, "1024 bytes"),
        (1025, "1 kb"),
        (249_231, "243.39 kb"),
        (-2120, "-2.07 kb"),
        (1536, "1.5 kb"),
        (MIB, "1024 kb"),
        (1_866_465, "1.78 mb"),
        (-3 * MIB, "-3 mb"),
    ],
)
def test_format_size_examples(size, text):
    """Known sizes format exactly as memwatch's examples."""
    assert format_size(size) == text


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_format_size_follows_memwatch_rules(size):
    """Any integer picks its unit by magnitude, keeps its sign and has at most two decimals."""
    text = format_size(size)
    number, unit = text.split(" ")
    magnitude = abs(size)
    expected_unit = "mb" if magnitude > MIB else "kb" if magnitude > KIB else "bytes"
    assert unit == expected_unit
    assert re.fullmatch(r"-?\d+(\.\d{1,2})?", number)
    assert not (("." in number) and number.endswith("0"))
    divisor = {"mb": MIB, "kb": KIB, "bytes": 1}[unit]
    assert abs(float(number) - size / divisor) <= 0.005 + 1e-9 * abs(size / divisor)
    if size < 0 and float(number) != 0:
        assert number.startswith("-")


def test_format_rate():
    """A rate is a size per hour."""
    assert format_rate(12_236_881.0) == "11.67 mb/hr"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (20, "20s"), (65, "1m 5s"), (7384, "2h 3m 4s"), (3600, "1h 0m 0s"), (-3, "0s")],
)
def test_format_duration(seconds, text):
    """Durations read like memwatch's reasons."""
    assert format_duration(seconds) == text


def test_timestamps_are_rfc3339_utc():
    """Aware datetimes print in UTC with Z; unset prints as an empty string."""
    moment = dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_timestamp(moment) == "2026-11-25T12:00:00Z"
    assert format_timestamp(None) == ""
    assert parse_timestamp("") is None
    assert parse_timestamp("2026-11-25T12:00:00Z") == moment


def test_naive_timestamps_are_refused():
    """A naive datetime is a programming error, not a silent wrong answer."""
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(dt.datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="no timezone"):
        parse_timestamp("2026-01-01T00:00:00")


@given(st.datetimes(timezones=st.just(dt.timezone.utc)))
def test_timestamp_round_trip(moment):
    """Formatting then parsing gives back the same instant."""
    assert parse_timestamp(format_timestamp(moment)) == moment
