"""Prometheus metrics for every live worker of the host (extra ``memwatch[prometheus]``).

:class:`MemwatchCollector` is a custom collector for the service's own
registry; :func:`render_metrics` is the text exposition ``GET /ah/metrics``
serves. Both read the workers table (:mod:`memwatch.store.figures`), so whichever
worker is scraped, every live worker of the host is reported, each series
labelled ``pid``. That is what prometheus_client's multiprocess mode cannot do
(it drops custom collectors, and its per-pid files grow with worker churn).

Names follow Prometheus conventions: base units in the name, ``_total`` on
counters. Labels are ``pid`` (and ``state`` on ``memwatch_profiles``) only:
type names and source lines stay on the HTTP API, where their number cannot
blow up a time-series database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import attrs

from memwatch.extras import require
from memwatch.store.figures import PROFILE_STATES, WorkerFigures

require("prometheus_client", "prometheus")

from prometheus_client.core import (  # noqa: E402 - after the guard
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4  # noqa: E402 - after the guard
from prometheus_client.registry import Collector  # noqa: E402 - after the guard

if TYPE_CHECKING:
    from collections.abc import Iterable

    from memwatch.store import WorkerStore

__all__ = ["CONTENT_TYPE", "MemwatchCollector", "render_metrics"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The media type of :func:`render_metrics`' body: text format 0.0.4, read by every Prometheus."""


@attrs.frozen
class _Metric:
    """One metric family: its name (counters without ``_total``), kind, help and figure."""

    name: str
    kind: Literal["gauge", "counter"]
    documentation: str
    read: Callable[[WorkerFigures], float | None]


_METRICS = (
    _Metric(
        "memwatch_heap_bytes",
        "gauge",
        "Latest heap reading of the worker, in bytes.",
        lambda f: f.heap_bytes,
    ),
    _Metric(
        "memwatch_heap_baseline_bytes",
        "gauge",
        "The leak detector's estimate of the heap's baseline, in bytes.",
        lambda f: f.baseline_bytes,
    ),
    _Metric(
        "memwatch_usage_trend_ratio",
        "gauge",
        "How far the recent baseline sits above the long-run one (0.25 is 25%).",
        lambda f: f.usage_trend_ratio,
    ),
    _Metric(
        "memwatch_leak_rate_bytes_per_second",
        "gauge",
        "Growth rate of the latest leak the worker reported; 0 before any.",
        lambda f: f.leak_rate_bytes_per_second,
    ),
    _Metric(
        "memwatch_memory_limit_bytes",
        "gauge",
        "The memory limit the worker runs under, where one is known.",
        lambda f: f.memory_limit_bytes,
    ),
    _Metric(
        "memwatch_memory_headroom_bytes",
        "gauge",
        "Bytes left before the memory limit, where one is known.",
        lambda f: f.memory_headroom_bytes,
    ),
    _Metric(
        "memwatch_worker_start_time_seconds",
        "gauge",
        "When the worker started reporting, in seconds since the epoch.",
        lambda f: f.started,
    ),
    _Metric(
        "memwatch_worker_last_seen_time_seconds",
        "gauge",
        "When the worker last stored its status, in seconds since the epoch.",
        lambda f: f.last_seen,
    ),
    _Metric(
        "memwatch_leak_events",
        "counter",
        "Leak events the worker reported.",
        lambda f: f.leak_events,
    ),
    _Metric(
        "memwatch_errors",
        "counter",
        "Errors caught inside the worker's watcher.",
        lambda f: f.errors,
    ),
)

_PROFILES_HELP = "Stored profiles of the worker by state."


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
        return _families([])

    def collect(self) -> Iterable[Metric]:
        """The metric families with one sample per live worker."""
        return _families(self._store.live_figures())


def _families(figures: list[WorkerFigures]) -> list[Metric]:
    families: list[Metric] = []
    for metric in _METRICS:
        family_type = GaugeMetricFamily if metric.kind == "gauge" else CounterMetricFamily
        family = family_type(metric.name, metric.documentation, labels=["pid"])
        for worker in figures:
            value = metric.read(worker)
            if value is not None:
                family.add_metric([str(worker.pid)], value)
        families.append(family)
    profiles = GaugeMetricFamily("memwatch_profiles", _PROFILES_HELP, labels=["pid", "state"])
    for worker in figures:
        for state in PROFILE_STATES:
            profiles.add_metric([str(worker.pid), state], worker.profiles.get(state, 0))
    families.append(profiles)
    return families


def render_metrics(store: WorkerStore) -> bytes:
    """The text exposition (format 0.0.4) of every live worker's figures, for ``GET /ah/metrics``.

    Written directly rather than through a registry: the same families as
    :class:`MemwatchCollector`, at a fraction of ``generate_latest``'s cost per
    sample (a scrape has ten series per worker). The tests parse both and
    compare them.
    """
    figures = store.live_figures()
    lines: list[str] = []
    for metric in _METRICS:
        name = f"{metric.name}_total" if metric.kind == "counter" else metric.name
        lines.append(f"# HELP {name} {metric.documentation}\n# TYPE {name} {metric.kind}")
        for worker in figures:
            value = metric.read(worker)
            if value is not None:
                lines.append(f'{name}{{pid="{worker.pid}"}} {value!r}')
    lines.append(f"# HELP memwatch_profiles {_PROFILES_HELP}\n# TYPE memwatch_profiles gauge")
    for worker in figures:
        for state in PROFILE_STATES:
            count = worker.profiles.get(state, 0)
            lines.append(f'memwatch_profiles{{pid="{worker.pid}",state="{state}"}} {count}')
    lines.append("")
    return "\n".join(lines).encode()
