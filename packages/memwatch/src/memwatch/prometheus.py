"""Prometheus metrics for every live worker of the host (extra ``memwatch[prometheus]``).

:class:`MemwatchCollector` is a custom collector for the service's own
registry; :func:`render_metrics` is the text exposition ``GET /ah/metrics``
serves. Both read the workers table (:mod:`memwatch.fleet`), so whichever
worker is scraped, every live worker of the host is reported, each series
labelled ``pid``. That is what prometheus_client's multiprocess mode cannot do
(it drops custom collectors, and its per-pid files grow with worker churn).

Names follow Prometheus conventions: base units in the name, ``_total`` on
counters. Labels are ``pid`` (and ``state`` on ``memwatch_profiles``) only:
type names and source lines stay on the HTTP API, where their number cannot
blow up a time-series database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memwatch.extras import require
from memwatch.fleet import PROFILE_STATES, live_worker_figures

require("prometheus_client", "prometheus")

from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402 - after the guard
from prometheus_client.core import (  # noqa: E402 - after the guard
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4  # noqa: E402 - after the guard
from prometheus_client.registry import Collector  # noqa: E402 - after the guard

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from memwatch.fleet import WorkerFigures
    from memwatch.store import WorkerStore

__all__ = ["CONTENT_TYPE", "MemwatchCollector", "render_metrics"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The media type of :func:`render_metrics`' body: text format 0.0.4, read by every Prometheus."""

_GAUGES: tuple[tuple[str, str, Callable[[WorkerFigures], float | None]], ...] = (
    ("memwatch_heap_bytes", "Latest heap reading of the worker, in bytes.", lambda f: f.heap_bytes),
    (
        "memwatch_heap_baseline_bytes",
        "The leak detector's estimate of the heap's baseline, in bytes.",
        lambda f: f.baseline_bytes,
    ),
    (
        "memwatch_usage_trend_ratio",
        "How far the recent baseline sits above the long-run one (0.25 is 25%).",
        lambda f: f.usage_trend_ratio,
    ),
    (
        "memwatch_leak_rate_bytes_per_second",
        "Growth rate of the latest leak the worker reported; 0 before any.",
        lambda f: f.leak_rate_bytes_per_second,
    ),
    (
        "memwatch_memory_limit_bytes",
        "The memory limit the worker runs under, where one is known.",
        lambda f: f.memory_limit_bytes,
    ),
    (
        "memwatch_memory_headroom_bytes",
        "Bytes left before the memory limit, where one is known.",
        lambda f: f.memory_headroom_bytes,
    ),
    (
        "memwatch_worker_start_time_seconds",
        "When the worker started reporting, in seconds since the epoch.",
        lambda f: f.started,
    ),
    (
        "memwatch_worker_last_seen_time_seconds",
        "When the worker last stored its status, in seconds since the epoch.",
        lambda f: f.last_seen,
    ),
)

_COUNTERS: tuple[tuple[str, str, Callable[[WorkerFigures], float | None]], ...] = (
    ("memwatch_leak_events", "Leak events the worker reported.", lambda f: f.leak_events),
    ("memwatch_errors", "Errors caught inside the worker's watcher.", lambda f: f.errors),
)


class MemwatchCollector(Collector):
    """Every live worker's memwatch figures, for a prometheus_client registry.

    Register it on the service's registry (``REGISTRY.register(MemwatchCollector(store))``)
    in one worker or all: each scrape reads the store afresh.

    Args:
        store: The workers table to read (the watcher's store).
    """

    def __init__(self, store: WorkerStore) -> None:
        """Read figures from ``store`` at each scrape."""
        self._store = store

    def describe(self) -> Iterable[Metric]:
        """The metric families, without samples (so registering never reads the store)."""
        return self._families([])

    def collect(self) -> Iterable[Metric]:
        """The metric families with one sample per live worker."""
        return self._families(live_worker_figures(self._store))

    @staticmethod
    def _families(figures: list[WorkerFigures]) -> list[Metric]:
        families: list[Metric] = []
        for name, documentation, read in _GAUGES:
            gauge = GaugeMetricFamily(name, documentation, labels=["pid"])
            _add(gauge, figures, read)
            families.append(gauge)
        for name, documentation, read in _COUNTERS:
            counter = CounterMetricFamily(name, documentation, labels=["pid"])
            _add(counter, figures, read)
            families.append(counter)
        profiles = GaugeMetricFamily(
            "memwatch_profiles", "Stored profiles of the worker by state.", labels=["pid", "state"]
        )
        for worker in figures:
            for state in PROFILE_STATES:
                profiles.add_metric([str(worker.pid), state], worker.profiles.get(state, 0))
        families.append(profiles)
        return families


def _add(
    family: GaugeMetricFamily | CounterMetricFamily,
    figures: list[WorkerFigures],
    read: Callable[[WorkerFigures], float | None],
) -> None:
    for worker in figures:
        value = read(worker)
        if value is not None:
            family.add_metric([str(worker.pid)], value)


def render_metrics(store: WorkerStore) -> bytes:
    """The text exposition of every live worker's figures, as ``GET /ah/metrics`` serves it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MemwatchCollector(store))
    return generate_latest(registry)
