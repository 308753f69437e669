"""The projection to the memory limit and its coarse duration print as a leak reason ends."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch.formatting import format_eta
from memwatch.projection import limit_reason, seconds_to_limit

MIB = 1024 * 1024

sizes = st.integers(min_value=0, max_value=1 << 50)
rates = st.floats(min_value=1e-3, max_value=1e12, allow_nan=False)


def _eta_seconds(text: str) -> int:
    """Parse format_eta's output back into seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.fullmatch(r"(\d+)([dhms])(?: (\d+)([dhms]))?", text)
    assert parts is not None, text
    total = int(parts[1]) * units[parts[2]]
    if parts[3]:
        total += int(parts[3]) * units[parts[4]]
    return total


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-5, "0s"),
        (45.4, "45s"),
        (59.6, "1m"),
        (89, "1m"),
        (91, "2m"),
        (540, "9m"),
        (3569, "59m"),
        (3571, "1h"),
        (7500, "2h 5m"),
        (86399, "1d"),
        (3 * 86400 + 4 * 3600 + 100, "3d 4h"),
    ],
)
def test_format_eta_examples(seconds, text):
    """Seconds under a minute, minutes under an hour, hours and minutes under a day, then days."""
    assert format_eta(seconds) == text


@given(st.floats(min_value=0, max_value=1e8, allow_nan=False))
def test_format_eta_is_within_its_rounding(seconds):
    """The printed duration is off by at most half its smallest unit (30 s, or 30 min in days)."""
    error = abs(_eta_seconds(format_eta(seconds)) - seconds)
    assert error <= (1800.5 if seconds >= 86370 else 30.5)


@given(st.floats(min_value=0, max_value=1e8), st.floats(min_value=0, max_value=1e8))
def test_format_eta_is_monotonic(a, b):
    """A longer projection never prints as a shorter one."""
    low, high = sorted((a, b))
    assert _eta_seconds(format_eta(low)) <= _eta_seconds(format_eta(high))


@given(sizes, sizes, rates)
def test_seconds_to_limit_reaches_the_limit(used, limit, rate):
    """Growing at the rate for the projected time brings the usage to the limit (or it is there)."""
    seconds = seconds_to_limit(used, limit, rate)
    assert seconds is not None
    if used >= limit:
        assert seconds == 0.0
    else:
        assert math.isclose(used + rate * seconds, limit, rel_tol=1e-9)


@given(sizes, sizes, rates, rates)
def test_seconds_to_limit_is_shorter_for_faster_growth(used, limit, rate, other):
    """A faster leak reaches the same limit no later."""
    slow, fast = sorted((rate, other))
    assert seconds_to_limit(used, limit, fast) <= seconds_to_limit(used, limit, slow)


@given(sizes, sizes, sizes, rates)
def test_seconds_to_limit_is_shorter_with_more_used(used, more, limit, rate):
    """More memory in use leaves no more time."""
    low, high = sorted((used, more))
    assert seconds_to_limit(high, limit, rate) <= seconds_to_limit(low, limit, rate)


@given(
    st.one_of(st.none(), sizes),
    st.one_of(st.none(), sizes),
    st.one_of(st.none(), st.floats(max_value=0), st.just(math.inf), st.just(math.nan)),
)
def test_no_projection_without_limit_usage_or_growth(used, limit, rate):
    """Without a positive finite rate there is no projection, whatever the usage and limit."""
    assert seconds_to_limit(used, limit, rate) is None


@given(sizes, rates)
def test_no_projection_without_a_limit_or_usage(size, rate):
    """A missing limit or usage gives no projection."""
    assert seconds_to_limit(size, None, rate) is None
    assert seconds_to_limit(None, size, rate) is None


def test_limit_reason_reads_like_the_leak_reason_tail():
    """The tail names the limit as memwatch prints sizes and the time coarsely."""
    seconds = seconds_to_limit(412 * MIB, 512 * MIB, 100 * MIB / 540)
    assert limit_reason(512 * MIB, seconds) == "limit 512 mb reached in about 9m"
    assert limit_reason(200 * MIB, 0.0) == "limit 200 mb reached"
