"""Metrics of every live worker: the figures, the Prometheus exposition, OpenTelemetry's."""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from memwatch.extras import MissingExtraError
from memwatch.models import Profile
from memwatch.store import MemoryStore
from memwatch.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from pathlib import Path

GONE_PID = 2**22 + 31


def status(heap: int, *, leaks: int = 0, growth: int = 0, memory: bool = False) -> dict[str, Any]:
    """A worker's status as the watcher stores it (the JSON of GET .../status)."""
    body: dict[str, Any] = {
        "lastEvent": "leak" if leaks else "stats",
        "lastGC": {"estimated_base": heap - 1000, "usage_trend": 12.5},
        "lastLeak": {
            "timestamp": "2026-11-25T12:00:20Z" if leaks else "",
            "start": "2026-11-25T12:00:00Z" if leaks else "",
            "end": "2026-11-25T12:00:20Z" if leaks else "",
            "growth": growth,
            "reason": "",
        },
        "watcher": {"heap_bytes": heap, "errors": 2, "leak_events": leaks},
    }
    if memory:
        body["memory"] = {"limit_bytes": 512 * 2**20, "headroom_bytes": 100 * 2**20}
    return body


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    """A host store with two live workers (this process and its parent) and one gone."""
    host = SQLiteStore(tmp_path)
    host.record_worker(os.getpid(), status(5_000_000, leaks=3, growth=2_000_000, memory=True))
    host.record_worker(os.getppid(), status(7_000_000))
    host.record_worker(GONE_PID, status(9_000_000))
    for name, state in (("a", "complete"), ("b", "complete"), ("c", "running")):
        host.put(Profile(id=name, state=state, trigger="manual", started=None, pid=os.getpid()))  # type: ignore[arg-type]
    return host


def test_figures_come_from_live_workers_stored_status(store: SQLiteStore) -> None:
    """Each live worker's figures come from its status in base units; gone workers are left out."""
    figures = {f.pid: f for f in store.live_figures()}
    assert set(figures) == {os.getpid(), os.getppid()}
    mine, parents = figures[os.getpid()], figures[os.getppid()]
    assert (mine.heap_bytes, mine.baseline_bytes, mine.usage_trend_ratio) == (
        5_000_000,
        4_999_000,
        0.125,
    )
    assert (mine.leak_events, mine.errors) == (3, 2)
    assert mine.leak_rate_bytes_per_second == 100_000.0
    assert (mine.memory_limit_bytes, mine.memory_headroom_bytes) == (512 * 2**20, 100 * 2**20)
    assert mine.profiles == {"running": 1, "complete": 2, "failed": 0}
    assert parents.leak_rate_bytes_per_second == 0.0
    assert parents.memory_limit_bytes is None
    assert parents.profiles == {"running": 0, "complete": 0, "failed": 0}


def test_prometheus_exposition_names_every_live_worker_by_pid(store: SQLiteStore) -> None:
    """The text exposition parses, follows the naming conventions, and labels every series pid."""
    parser = pytest.importorskip("prometheus_client.parser", reason="needs memwatch[prometheus]")
    from memwatch.prometheus import render_metrics  # noqa: PLC0415 - needs the extra

    families = {
        f.name: f for f in parser.text_string_to_metric_families(render_metrics(store).decode())
    }
    assert {
        "memwatch_heap_bytes",
        "memwatch_heap_baseline_bytes",
        "memwatch_usage_trend_ratio",
        "memwatch_leak_events",
        "memwatch_leak_rate_bytes_per_second",
        "memwatch_profiles",
        "memwatch_errors",
        "memwatch_memory_limit_bytes",
        "memwatch_memory_headroom_bytes",
    } <= set(families)
    assert families["memwatch_leak_events"].type == "counter"
    assert families["memwatch_heap_bytes"].type == "gauge"
    samples = [s for family in families.values() for s in family.samples]
    assert all("pid" in s.labels and set(s.labels) <= {"pid", "state"} for s in samples)
    assert {s.labels["pid"] for s in samples} == {str(os.getpid()), str(os.getppid())}
    leaks = {s.labels["pid"]: s.value for s in families["memwatch_leak_events"].samples}
    assert leaks == {str(os.getpid()): 3.0, str(os.getppid()): 0.0}
    assert [s.name for s in families["memwatch_leak_events"].samples] == [
        "memwatch_leak_events_total"
    ] * 2
    limits = families["memwatch_memory_limit_bytes"].samples
    assert [(s.labels["pid"], s.value) for s in limits] == [(str(os.getpid()), 512.0 * 2**20)]
    running = {
        (s.labels["pid"], s.labels["state"]): s.value for s in families["memwatch_profiles"].samples
    }
    assert running[(str(os.getpid()), "complete")] == 2.0


def test_the_memory_store_gives_the_same_figures(store: SQLiteStore) -> None:
    """A single process's memory store reports the same figures for the same statuses."""
    memory = MemoryStore()
    for record in store.workers():
        memory.record_worker(record.pid, record.status)
    for profile in store.list():
        memory.put(profile)

    def comparable(figures: list[Any]) -> list[Any]:
        return [attrs.evolve(f, started=0, last_seen=0) for f in figures]

    assert comparable(memory.live_figures()) == comparable(store.live_figures())


def test_the_written_exposition_equals_the_collectors(store: SQLiteStore) -> None:
    """render_metrics' own text parses to exactly the collector's families through a registry."""
    prometheus_client = pytest.importorskip(
        "prometheus_client", reason="needs memwatch[prometheus]"
    )
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    from memwatch.prometheus import MemwatchCollector, render_metrics  # noqa: PLC0415

    registry = prometheus_client.CollectorRegistry()
    registry.register(MemwatchCollector(store))
    through_registry = prometheus_client.generate_latest(registry).decode()
    written = render_metrics(store).decode()
    assert list(text_string_to_metric_families(written)) == list(
        text_string_to_metric_families(through_registry)
    )


def test_prometheus_collector_registers_on_the_services_registry(store: SQLiteStore) -> None:
    """Registered on a registry, the collector is scraped with that registry's other metrics."""
    prometheus_client = pytest.importorskip(
        "prometheus_client", reason="needs memwatch[prometheus]"
    )
    from memwatch.prometheus import MemwatchCollector  # noqa: PLC0415 - needs the extra

    registry = prometheus_client.CollectorRegistry()
    prometheus_client.Counter("app_requests", "requests", registry=registry).inc()
    registry.register(MemwatchCollector(store))
    text = prometheus_client.generate_latest(registry).decode()
    assert "app_requests_total 1.0" in text
    assert f'memwatch_heap_bytes{{pid="{os.getppid()}"}} 7e+06' in text


def test_opentelemetry_instruments_report_every_live_worker(store: SQLiteStore) -> None:
    """Through the SDK's in-memory reader: memwatch.* names, semconv units, process.pid each."""
    sdk_metrics = pytest.importorskip("opentelemetry.sdk.metrics", reason="needs opentelemetry-sdk")
    export = importlib.import_module("opentelemetry.sdk.metrics.export")
    from memwatch.otel import register_instruments  # noqa: PLC0415 - needs the extra

    reader = export.InMemoryMetricReader()
    provider = sdk_metrics.MeterProvider(metric_readers=[reader])
    register_instruments(store, provider)
    data = reader.get_metrics_data()
    metrics = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    units = {name: metric.unit for name, metric in metrics.items()}
    assert units["memwatch.heap.usage"] == "By"
    assert units["memwatch.heap.usage_trend"] == "1"
    assert units["memwatch.leak.rate"] == "By/s"
    assert units["memwatch.leak.events"] == "{event}"
    points = {
        name: {p.attributes["process.pid"]: p.value for p in metric.data.data_points}
        for name, metric in metrics.items()
        if name != "memwatch.profiles"
    }
    assert points["memwatch.heap.usage"] == {os.getpid(): 5_000_000, os.getppid(): 7_000_000}
    assert points["memwatch.leak.events"] == {os.getpid(): 3, os.getppid(): 0}
    assert metrics["memwatch.leak.events"].data.is_monotonic
    assert points["memwatch.memory.limit"] == {os.getpid(): 512 * 2**20}
    profiles = {
        (p.attributes["process.pid"], p.attributes["memwatch.profile.state"]): p.value
        for p in metrics["memwatch.profiles"].data.data_points
    }
    assert profiles[(os.getpid(), "running")] == 1
    provider.shutdown()


@pytest.mark.parametrize(("module", "extra"), [("prometheus", "prometheus"), ("otel", "otel")])
def test_a_missing_extra_says_which_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, extra: str
) -> None:
    """Without the third-party library, importing the integration names the extra to install."""
    blocked = "prometheus_client" if module == "prometheus" else "opentelemetry.metrics"
    monkeypatch.setitem(sys.modules, blocked, None)
    monkeypatch.delitem(sys.modules, f"memwatch.{module}", raising=False)
    with pytest.raises(MissingExtraError, match=rf"pip install 'memwatch\[{extra}\]'") as caught:
        importlib.import_module(f"memwatch.{module}")
    assert caught.value.extra == extra
