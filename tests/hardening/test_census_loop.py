"""A census of a large heap runs off the event loop, and stops at its time budget.

On a heap with a million extra gc-tracked objects, the FastAPI (uvicorn) and
Tornado loops keep answering a light route while a census runs in the
executor: the longest a light request waits is a fraction of the census. With
a tiny budget the census stops early and the diff says ``partial``.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from memwatch.auth import allow_all
from memwatch.watcher import Watcher

HEAP_OBJECTS = 1_000_000


@pytest.fixture
def large_heap():
    """A million gc-tracked objects (empty lists) alive for one test."""
    heap = [[] for _ in range(HEAP_OBJECTS)]
    yield heap
    heap.clear()


@pytest.mark.usefixtures("large_heap")
def test_census_does_not_block_the_loop(serve, adapter):
    """While a census of a 1M-object heap runs, the loop's longest stall stays well below it."""
    if adapter == "flask":
        pytest.skip("werkzeug's threaded server has no event loop to block")
    with Watcher(sample_interval=0.5, auto_capture=False, census_time_budget=None) as watcher:
        server = serve(auth=allow_all(), watcher=watcher)
        stop, latencies = threading.Event(), []

        def light() -> None:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                while not stop.is_set():
                    began = time.perf_counter()
                    assert client.get("/ah/memoryProfile/status").status_code == 200
                    latencies.append(time.perf_counter() - began)

        pinger = threading.Thread(target=light, daemon=True)
        pinger.start()
        time.sleep(0.2)
        baseline = len(latencies)
        began = time.perf_counter()
        started = server.client.post("/ah/memoryProfile")
        ended = server.client.post(f"/ah/memoryProfile/{started.json()['id']}/end")
        census_seconds = time.perf_counter() - began
        during = latencies[baseline:]
        stop.set()
        pinger.join(30)
        assert not pinger.is_alive()
    assert ended.status_code == 200
    diff = ended.json()["lastDiff"]
    assert diff["after"]["nodes"] >= HEAP_OBJECTS
    assert not diff["partial"]
    stall = max(during)
    print(  # noqa: T201 - the figure the issue asks for
        f"\n{adapter}: two censuses {census_seconds:.3f} s, {len(during)} light requests "
        f"meanwhile, longest {stall * 1000:.1f} ms"
    )
    assert len(during) >= 3
    assert stall < census_seconds / 2


@pytest.mark.usefixtures("large_heap")
def test_census_over_budget_says_partial(serve):
    """A census that runs out of its time budget stops early and the diff says partial."""
    budget = 0.005
    with Watcher(sample_interval=0.5, auto_capture=False, census_time_budget=budget) as watcher:
        client = serve(auth=allow_all(), watcher=watcher).client
        started = client.post("/ah/memoryProfile")
        assert started.status_code == 201
        ended = client.post(f"/ah/memoryProfile/{started.json()['id']}/end")
    assert ended.status_code == 200
    diff = ended.json()["lastDiff"]
    assert diff["partial"] is True
    assert diff["after"]["nodes"] < HEAP_OBJECTS
    assert diff["elapsed_seconds"] < 1.0
