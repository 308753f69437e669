"""Value objects of the host's bodies: ``GET /ah/workers`` and the worker it lists.

Beside :mod:`memwatch.models` (whose rules they follow: snake_case fields,
``metadata["json"]`` for a different JSON key, encodable strings) because they
describe the host's workers, not one process's heap.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from memwatch.converter import converter
from memwatch.encodable import encodable_strings, json_key
from memwatch.models import LeakReport

if TYPE_CHECKING:
    from memwatch.store import WorkerRecord

__all__ = ["Worker", "WorkerList", "worker_from_record"]


@attrs.frozen(field_transformer=encodable_strings)
class Worker:
    """One worker process of the host, as its last stored status describes it.

    Attributes:
        pid: The worker's process id.
        started: When it first wrote to the store.
        last_seen: When it last wrote its status (at most once per sample interval).
        alive: False once it exited, or was found gone (killed, OOM-killed).
        heap_bytes: Its latest heap reading.
        baseline_bytes: The detector's estimate of its heap's baseline (``lastGC.estimated_base``).
        usage_trend: How far its recent baseline sits above the long-run one, in percent.
        last_leak: Its latest leak report (empty before any).
    """

    pid: int
    started: dt.datetime
    last_seen: dt.datetime
    alive: bool
    heap_bytes: int = 0
    baseline_bytes: int = 0
    usage_trend: float = 0.0
    last_leak: LeakReport = json_key("lastLeak", factory=LeakReport)


@attrs.frozen(field_transformer=encodable_strings)
class WorkerList:
    """``GET /ah/workers``: every worker of the host the store knows, by pid."""

    workers: tuple[Worker, ...] = ()


def _section(status: dict[str, Any], key: str) -> dict[str, Any]:
    value = status.get(key)
    return value if isinstance(value, dict) else {}


def worker_from_record(record: WorkerRecord) -> Worker:
    """The :class:`Worker` of a stored worker record (its status as the watcher wrote it)."""
    status = record.status
    last_gc, watcher = _section(status, "lastGC"), _section(status, "watcher")
    try:
        last_leak = converter.structure(_section(status, "lastLeak"), LeakReport)
    except Exception:  # noqa: BLE001 - an older worker's status: show no leak rather than fail
        last_leak = LeakReport()
    return Worker(
        pid=record.pid,
        started=record.started,
        last_seen=record.last_seen,
        alive=not record.exited,
        heap_bytes=int(watcher.get("heap_bytes", 0) or 0),
        baseline_bytes=int(last_gc.get("estimated_base", 0) or 0),
        usage_trend=float(last_gc.get("usage_trend", 0.0) or 0.0),
        last_leak=last_leak,
    )
