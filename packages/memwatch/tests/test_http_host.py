"""The workers' routes in one process: status ?pid=, the workers list, metrics, and their errors."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import pytest

from memwatch.auth import allow_all
from memwatch.http import MemwatchAPI
from memwatch.routes import PROMETHEUS_TEXT
from memwatch.store.fallback import FallbackStore
from memwatch.store.sqlite import FILE_NAME, SQLiteStore
from memwatch.testing.contract import assert_problem, assert_valid
from memwatch.watcher import Watcher
from memwatch.wire import Request

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PID = os.getpid()
GONE_PID = 2**22 + 77


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[MemwatchAPI, Watcher]]:
    """An API over a watcher on a host store in ``tmp_path``, polled once."""
    watcher = Watcher(background=False, store=FallbackStore(SQLiteStore(tmp_path)))
    with watcher:
        watcher.poll()
        yield MemwatchAPI(auth=allow_all(), watcher=watcher), watcher


def get(api: MemwatchAPI, path: str, query: str = "", method: str = "GET") -> Any:
    return api.handle(Request(method, path, query=query))


def test_status_names_its_store_and_counts_leaks(host: tuple[MemwatchAPI, Watcher]) -> None:
    """The live status says it keeps its profiles in the shared SQLite store, and counts leaks."""
    api, _ = host
    body = assert_valid("status", get(api, "/ah/memoryProfile/status").body)
    assert body["store"] == {"kind": "sqlite", "shared": True, "fallback": ""}
    assert body["watcher"]["leak_events"] == 0


def test_status_of_a_worker_is_what_it_stored(host: tuple[MemwatchAPI, Watcher]) -> None:
    """?pid= answers the worker's stored status; an unknown pid is a 404, a bad one a 400."""
    api, _ = host
    stored = get(api, "/ah/memoryProfile/status", f"pid={PID}")
    assert stored.status == 200
    assert assert_valid("status", stored.body)["process"]["pid"] == PID
    missing = get(api, "/ah/memoryProfile/status", f"pid={GONE_PID}")
    assert (
        f"pid {GONE_PID}" in assert_problem(404, missing.headers, missing.body, pid=PID)["detail"]
    )
    for bad in ("pid=-3", "pid=abc", "pid=0", "pid=1&pid=2", "pid=" + "9" * 30):
        response = get(api, "/ah/memoryProfile/status", bad)
        assert "'pid'" in assert_problem(400, response.headers, response.body, pid=PID)["detail"]


def test_workers_lists_this_worker_alive(host: tuple[MemwatchAPI, Watcher]) -> None:
    """GET /ah/workers lists this process, alive, with its heap reading."""
    api, watcher = host
    body = assert_valid("workers", get(api, "/ah/workers").body)
    (me,) = body["workers"]
    assert (me["pid"], me["alive"]) == (PID, True)
    assert me["heap_bytes"] == watcher.status().watcher.heap_bytes


def test_starting_in_an_unknown_worker_is_a_404(host: tuple[MemwatchAPI, Watcher]) -> None:
    """POST ?pid= naming no live worker is a 404; naming this one starts it here."""
    api, _ = host
    response = get(api, "/ah/memoryProfile", f"pid={GONE_PID}", method="POST")
    assert_problem(404, response.headers, response.body, pid=PID)
    here = get(api, "/ah/memoryProfile", f"pid={PID}", method="POST")
    assert here.status == 201
    assert assert_valid("profile", here.body)["pid"] == PID


def test_metrics_are_prometheus_text_with_this_pid(host: tuple[MemwatchAPI, Watcher]) -> None:
    """GET /ah/metrics answers the text exposition, this worker's series labelled with its pid."""
    pytest.importorskip("prometheus_client", reason="needs memwatch[prometheus]")
    api, _ = host
    response = get(api, "/ah/metrics")
    assert response.status == 200
    assert response.content_type == PROMETHEUS_TEXT
    assert f'memwatch_leak_events_total{{pid="{PID}"}} 0' in response.body.decode()


def test_metrics_without_prometheus_client_is_a_501_naming_the_extra(
    host: tuple[MemwatchAPI, Watcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without prometheus_client the route answers 501 with the pip command, not a 500."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "memwatch.prometheus", raising=False)
    api, _ = host
    response = get(api, "/ah/metrics")
    problem = assert_problem(501, response.headers, response.body, pid=PID)
    assert "memwatch[prometheus]" in problem["detail"]


def test_a_corrupt_store_falls_back_and_says_so(tmp_path: Path) -> None:
    """Over a corrupt database every route still answers; status shows memory and the reason."""
    (tmp_path / FILE_NAME).write_bytes(b"not sqlite" * 500)
    with Watcher(background=False, store=FallbackStore(SQLiteStore(tmp_path))) as watcher:
        watcher.poll()
        api = MemwatchAPI(auth=allow_all(), watcher=watcher)
        started = get(api, "/ah/memoryProfile", method="POST")
        assert started.status == 201
        body = assert_valid("status", get(api, "/ah/memoryProfile/status").body)
        assert body["store"] == {"kind": "memory", "shared": False, "fallback": "database corrupt"}
        listed = assert_valid("profile_id_list", get(api, "/ah/memory").body)
        assert listed["memoryProfiles"] == [started.json()["id"]]
        assert assert_valid("workers", get(api, "/ah/workers").body)["workers"][0]["pid"] == PID
