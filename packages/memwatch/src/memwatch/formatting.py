"""Human-readable sizes, durations and timestamps, printed the way memwatch prints them."""

from __future__ import annotations

import datetime as dt

__all__ = [
    "format_duration",
    "format_eta",
    "format_rate",
    "format_size",
    "format_timestamp",
    "parse_timestamp",
]

_KIB = 1024
_MIB = 1024 * 1024
_MINUTE = 60
_HOUR = 3600
_MINUTES_PER_HOUR = 60
_HOURS_PER_DAY = 24


def _two_decimals(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_size(size_bytes: int) -> str:
    """Format a byte count as memwatch does.

    Above 1 MiB in magnitude: ``"1.78 mb"``; above 1 KiB: ``"243.39 kb"``;
    otherwise ``"512 bytes"``. At most two decimals, trailing zeros dropped,
    sign kept (``"-2.07 kb"``).
    """
    magnitude = abs(size_bytes)
    if magnitude > _MIB:
        return f"{_two_decimals(size_bytes / _MIB)} mb"
    if magnitude > _KIB:
        return f"{_two_decimals(size_bytes / _KIB)} kb"
    return f"{size_bytes} bytes"


def format_rate(bytes_per_hour: float) -> str:
    """Format a growth rate as memwatch does: ``"11.67 mb/hr"``."""
    return f"{format_size(round(bytes_per_hour))}/hr"


def format_duration(seconds: float) -> str:
    """Format a duration as memwatch does: ``"20s"``, ``"1m 5s"``, ``"2h 3m 4s"``.

    Negative durations are clamped to zero; seconds are rounded to whole seconds.
    """
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def format_eta(seconds: float) -> str:
    """Format a projected duration coarsely: ``"45s"``, ``"9m"``, ``"2h 5m"``, ``"3d 4h"``.

    A projection is an estimate, so it is printed to the unit that matters:
    seconds under a minute, minutes under an hour, hours and minutes under a
    day, days and hours beyond. Negative durations are clamped to zero.
    """
    total = max(0, round(seconds))
    if total < _MINUTE:
        return f"{total}s"
    minutes = round(total / _MINUTE)
    if minutes < _MINUTES_PER_HOUR:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, _MINUTES_PER_HOUR)
    if hours < _HOURS_PER_DAY:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(round(total / _HOUR), _HOURS_PER_DAY)
    return f"{days}d {hours}h" if hours else f"{days}d"


def format_timestamp(moment: dt.datetime | None) -> str:
    """Format an aware datetime as RFC 3339 UTC ending in ``Z``; ``None`` gives ``""``.

    Fractional seconds appear only when the datetime has them, so a round trip
    through :func:`parse_timestamp` is exact.

    Raises:
        ValueError: if ``moment`` is naive (has no timezone).
    """
    if moment is None:
        return ""
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"timestamps must be timezone-aware, got naive {moment!r}"
        raise ValueError(msg)
    utc = moment.astimezone(dt.timezone.utc)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_timestamp(text: str) -> dt.datetime | None:
    """Parse an RFC 3339 timestamp into an aware UTC datetime; ``""`` gives ``None``.

    Raises:
        ValueError: if ``text`` is not an RFC 3339 timestamp with a timezone.
    """
    if text == "":
        return None
    normalized = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    moment = dt.datetime.fromisoformat(normalized)
    if moment.tzinfo is None:
        msg = f"timestamp {text!r} has no timezone"
        raise ValueError(msg)
    return moment.astimezone(dt.timezone.utc)
