"""OpenTelemetry metrics for every live worker of the host (extra ``memwatch[otel]``).

:func:`register_instruments` creates observable instruments on a meter of the
given (or the global) meter provider; the SDK and its exporter are the
service's choice. Like :mod:`memwatch.prometheus` they read the workers table
(:mod:`memwatch.store.figures`), so any one worker reports every live worker, each
data point carrying ``process.pid``.

Names are ``memwatch.*`` and units follow the semantic conventions' UCUM
forms: ``By`` for bytes, ``By/s`` for a rate, ``1`` for a ratio, ``s`` for
seconds since the epoch, and ``{event}``-style annotations for counts.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from memwatch.extras import require
from memwatch.store.figures import PROFILE_STATES

require("opentelemetry.metrics", "otel")

from opentelemetry import metrics  # noqa: E402 - after the guard

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from memwatch.store import WorkerStore
    from memwatch.store.figures import WorkerFigures

__all__ = ["METER_NAME", "register_instruments"]

METER_NAME = "memwatch"

#: Seconds one read of the store serves every instrument's callback in a collection.
_FIGURES_MAX_AGE = 0.5


_GAUGES: tuple[tuple[str, str, str, Callable[[WorkerFigures], float | None]], ...] = (
    ("memwatch.heap.usage", "By", "Latest heap reading of the worker.", lambda f: f.heap_bytes),
    (
        "memwatch.heap.baseline",
        "By",
        "The leak detector's estimate of the heap's baseline.",
        lambda f: f.baseline_bytes,
    ),
    (
        "memwatch.heap.usage_trend",
        "1",
        "How far the recent baseline sits above the long-run one (0.25 is 25%).",
        lambda f: f.usage_trend_ratio,
    ),
    (
        "memwatch.leak.rate",
        "By/s",
        "Growth rate of the latest leak the worker reported; 0 before any.",
        lambda f: f.leak_rate_bytes_per_second,
    ),
    (
        "memwatch.memory.limit",
        "By",
        "The memory limit the worker runs under, where one is known.",
        lambda f: f.memory_limit_bytes,
    ),
    (
        "memwatch.memory.headroom",
        "By",
        "Bytes left before the memory limit, where one is known.",
        lambda f: f.memory_headroom_bytes,
    ),
)

_COUNTERS: tuple[tuple[str, str, str, Callable[[WorkerFigures], float | None]], ...] = (
    (
        "memwatch.leak.events",
        "{event}",
        "Leak events the worker reported.",
        lambda f: f.leak_events,
    ),
    (
        "memwatch.errors",
        "{error}",
        "Errors caught inside the worker's watcher.",
        lambda f: f.errors,
    ),
)


class _Figures:
    """The live workers' figures, read once for all the callbacks of one collection."""

    def __init__(self, store: WorkerStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._figures: list[WorkerFigures] = []

    def current(self) -> list[WorkerFigures]:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= _FIGURES_MAX_AGE:
                self._figures = self._store.live_figures()
                self._read_at = now
            return self._figures


def _observer(
    figures: _Figures, read: Callable[[WorkerFigures], float | None]
) -> Callable[[metrics.CallbackOptions], Iterable[metrics.Observation]]:
    def observe(_: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for worker in figures.current():
            value = read(worker)
            if value is not None:
                yield metrics.Observation(value, {"process.pid": worker.pid})

    return observe


def _observe_profiles(figures: _Figures) -> Callable[..., Iterable[metrics.Observation]]:
    def observe(_: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for worker in figures.current():
            for state in PROFILE_STATES:
                attributes: dict[str, str | int] = {
                    "process.pid": worker.pid,
                    "memwatch.profile.state": state,
                }
                yield metrics.Observation(worker.profiles.get(state, 0), attributes)

    return observe


def register_instruments(
    store: WorkerStore, meter_provider: metrics.MeterProvider | None = None
) -> metrics.Meter:
    """Create memwatch's observable instruments, reading ``store`` at each collection.

    Args:
        store: The workers table to read (the watcher's store).
        meter_provider: Where to create them (default: the global meter provider).

    Returns:
        The ``memwatch`` meter the instruments were created on.
    """
    from memwatch import __version__  # noqa: PLC0415 - the package imports nothing optional

    provider = meter_provider or metrics.get_meter_provider()
    meter = provider.get_meter(METER_NAME, __version__)
    figures = _Figures(store)
    for name, unit, description, read in _GAUGES:
        meter.create_observable_gauge(
            name, callbacks=[_observer(figures, read)], unit=unit, description=description
        )
    for name, unit, description, read in _COUNTERS:
        meter.create_observable_counter(
            name, callbacks=[_observer(figures, read)], unit=unit, description=description
        )
    meter.create_observable_up_down_counter(
        "memwatch.profiles",
        callbacks=[_observe_profiles(figures)],
        unit="{profile}",
        description="Stored profiles of the worker by state.",
    )
    return meter
