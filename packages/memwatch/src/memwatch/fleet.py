"""The figures a metrics exporter reports for each live worker, read from the workers table.

:mod:`memwatch.prometheus` and :mod:`memwatch.otel` translate these into their
own instruments; what a figure means is decided once, here. Every figure comes
from a worker's last stored status (written at most once per sample interval),
so a scrape of any worker reports every live worker of the host, and costs one
read of the workers table whatever the heap's size. Figures a status lacks
(``memory`` before the limits are known, an older worker's status) are
``None`` and left out, never reported as 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from memwatch.formatting import parse_timestamp

if TYPE_CHECKING:
    from collections.abc import Mapping

    from memwatch.store import WorkerRecord, WorkerStore

__all__ = ["PROFILE_STATES", "WorkerFigures", "live_worker_figures", "worker_figures"]

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
    heap_bytes: int | None = None
    baseline_bytes: int | None = None
    usage_trend_ratio: float | None = None
    leak_events: int | None = None
    leak_rate_bytes_per_second: float | None = None
    errors: int | None = None
    memory_limit_bytes: int | None = None
    memory_headroom_bytes: int | None = None
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


def worker_figures(
    record: WorkerRecord, profiles: Mapping[str, int] | None = None
) -> WorkerFigures:
    """The figures of one worker's stored status."""
    status = record.status
    watcher, last_gc, memory = status.get("watcher"), status.get("lastGC"), status.get("memory")
    trend = _number(last_gc, "usage_trend")
    return WorkerFigures(
        pid=record.pid,
        started=record.started.timestamp(),
        last_seen=record.last_seen.timestamp(),
        heap_bytes=_integer(watcher, "heap_bytes"),
        baseline_bytes=_integer(last_gc, "estimated_base"),
        usage_trend_ratio=None if trend is None else trend / 100,
        leak_events=_integer(watcher, "leak_events"),
        leak_rate_bytes_per_second=_leak_rate(status.get("lastLeak")),
        errors=_integer(watcher, "errors"),
        memory_limit_bytes=_integer(memory, "limit_bytes"),
        memory_headroom_bytes=_integer(memory, "headroom_bytes"),
        profiles=dict.fromkeys(PROFILE_STATES, 0) | dict(profiles or {}),
    )


def live_worker_figures(store: WorkerStore) -> list[WorkerFigures]:
    """The figures of every live worker in ``store``, by pid."""
    counts = store.profile_counts()
    per_worker: dict[int, dict[str, int]] = {}
    for (pid, state), count in counts.items():
        per_worker.setdefault(pid, {})[state] = count
    return [
        worker_figures(record, per_worker.get(record.pid))
        for record in store.workers()
        if not record.exited
    ]
