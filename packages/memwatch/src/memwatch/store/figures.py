"""The figures a metrics exporter reports for each live worker, taken from its stored status.

:mod:`memwatch.prometheus` and :mod:`memwatch.otel` translate these into their
own instruments; what a figure means is decided once, here. A store takes the
figures out of a worker's status when the worker writes it (at most once per
sample interval) and keeps them in columns, so a scrape reads numbers, not
JSON: it costs one read of the workers table whatever the heap's size, and
reports every live worker of the host. Figures a status lacks (``memory``
before the limits are known, an older worker's status) are ``None`` and left
out, never reported as 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from memwatch.formatting import parse_timestamp

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "FIGURE_NAMES",
    "PROFILE_STATES",
    "WorkerFigures",
    "figures_from_status",
    "make_figures",
]

PROFILE_STATES = ("running", "complete", "failed")


@attrs.frozen
class WorkerFigures:
    """One worker's figures, in base units.

    Attributes:
        pid: The worker's process id.
        started: When it first wrote to the store, seconds since the epoch.
        last_seen: When it last wrote its status, seconds since the epoch.
        heap_bytes: The latest heap probe reading.
        baseline_bytes: The detector's estimate of the heap's baseline.
        usage_trend_ratio: How far the recent baseline sits above the long-run one (0.25 = 25%).
        leak_events: Leak events since the worker started.
        leak_rate_bytes_per_second: The growth rate of the latest leak (0 before any).
        errors: Errors caught inside the watcher since the worker started.
        memory_limit_bytes: The memory limit the worker runs under, where known.
        memory_headroom_bytes: Bytes left before that limit, where known.
        profiles: Stored profiles of this worker by state.
    """

    pid: int
    started: float
    last_seen: float
    heap_bytes: float | None = None
    baseline_bytes: float | None = None
    usage_trend_ratio: float | None = None
    leak_events: float | None = None
    leak_rate_bytes_per_second: float | None = None
    errors: float | None = None
    memory_limit_bytes: float | None = None
    memory_headroom_bytes: float | None = None
    profiles: dict[str, int] = attrs.Factory(dict)


def _number(section: Any, key: str) -> float | None:
    if not isinstance(section, dict):
        return None
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _integer(section: Any, key: str) -> int | None:
    value = _number(section, key)
    return None if value is None else int(value)


def _leak_rate(leak: Any) -> float | None:
    """Bytes per second of the latest leak: its growth over its window; 0 before any leak."""
    if not isinstance(leak, dict):
        return None
    growth = _number(leak, "growth") or 0
    try:
        start = parse_timestamp(str(leak.get("start", "")))
        end = parse_timestamp(str(leak.get("end", "")))
    except ValueError:
        return None
    if start is None or end is None or end <= start:
        return 0.0
    return growth / (end - start).total_seconds()


FIGURE_NAMES = (
    "heap_bytes",
    "baseline_bytes",
    "usage_trend_ratio",
    "leak_events",
    "leak_rate_bytes_per_second",
    "errors",
    "memory_limit_bytes",
    "memory_headroom_bytes",
)
"""The figures a store keeps per worker, in :class:`WorkerFigures`' order."""


def figures_from_status(status: Mapping[str, Any]) -> tuple[float | None, ...]:
    """The :data:`FIGURE_NAMES` figures of one worker's status (the JSON of ``GET .../status``)."""
    watcher, last_gc, memory = status.get("watcher"), status.get("lastGC"), status.get("memory")
    trend = _number(last_gc, "usage_trend")
    return (
        _integer(watcher, "heap_bytes"),
        _integer(last_gc, "estimated_base"),
        None if trend is None else trend / 100,
        _integer(watcher, "leak_events"),
        _leak_rate(status.get("lastLeak")),
        _integer(watcher, "errors"),
        _integer(memory, "limit_bytes"),
        _integer(memory, "headroom_bytes"),
    )


def make_figures(
    pid: int,
    started: float,
    last_seen: float,
    figures: Sequence[float | None],
    profiles: Mapping[str, int] | None = None,
) -> WorkerFigures:
    """A worker's :class:`WorkerFigures` from the stored :data:`FIGURE_NAMES` values."""
    counts = dict.fromkeys(PROFILE_STATES, 0) | dict(profiles or {})
    value = dict(zip(FIGURE_NAMES, figures, strict=False)).get
    return WorkerFigures(
        pid=pid,
        started=started,
        last_seen=last_seen,
        heap_bytes=value("heap_bytes"),
        baseline_bytes=value("baseline_bytes"),
        usage_trend_ratio=value("usage_trend_ratio"),
        leak_events=value("leak_events"),
        leak_rate_bytes_per_second=value("leak_rate_bytes_per_second"),
        errors=value("errors"),
        memory_limit_bytes=value("memory_limit_bytes"),
        memory_headroom_bytes=value("memory_headroom_bytes"),
        profiles=counts,
    )
