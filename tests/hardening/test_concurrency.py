"""Concurrent readers, profiles and collections on every adapter: no deadlock, nothing lost.

Threads (one httpx client each) read status while another thread starts and
ends profiles and a third forces collections; then the same with concurrent
coroutines on one async client. Every wait has a timeout, so a deadlock
fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import httpx

from memwatch.auth import bearer_token
from memwatch.testing import AUTH_HEADERS as AUTH
from memwatch.testing import TOKEN
from memwatch.testing.contract import assert_valid

READERS = 6
PROFILES = 8
FORCED = 10
JOIN_SECONDS = 120


def test_threads_read_status_while_profiles_and_collections_run(serve, watcher):  # noqa: C901, PLR0915 - one scenario, its threads inline
    """Readers see monotonic counters; every profile started is listed complete; no thread hangs."""
    server = serve(auth=bearer_token(TOKEN), watcher=watcher)
    stop = threading.Event()
    failures: list[str] = []
    seen: list[list[tuple[int, int]]] = [[] for _ in range(READERS)]
    started_ids: list[str] = []

    def read(slot: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client:
            while not stop.is_set():
                response = client.get("/ah/memoryProfile/status")
                if response.status_code != 200:
                    failures.append(f"status {response.status_code}: {response.text[:200]}")
                    return
                body = response.json()
                seen[slot].append((body["watcher"]["collections"], body["lastGC"]["num_full_gc"]))

    def post_until_not_busy(client: httpx.Client, path: str) -> httpx.Response:
        # A census meeting a forced collection (single-flight together) is told to retry.
        for _ in range(400):
            response = client.post(path)
            if response.status_code != 429 or "Retry-After" not in response.headers:
                return response
            time.sleep(0.05)
        return response

    def profile() -> None:
        with httpx.Client(base_url=server.base_url, timeout=60, headers=AUTH) as client:
            for _ in range(PROFILES):
                started = post_until_not_busy(client, "/ah/memoryProfile")
                if started.status_code != 201:
                    failures.append(f"start {started.status_code}: {started.text[:200]}")
                    return
                profile_id = started.json()["id"]
                started_ids.append(profile_id)
                ended = post_until_not_busy(client, f"/ah/memoryProfile/{profile_id}/end")
                if ended.status_code != 200 or ended.json()["state"] != "complete":
                    failures.append(f"end {ended.status_code}: {ended.text[:200]}")
                    return

    def collect() -> None:
        with httpx.Client(base_url=server.base_url, timeout=60, headers=AUTH) as client:
            for _ in range(FORCED):
                response = post_until_not_busy(client, "/ah/memory/gc")
                if response.status_code != 200:
                    failures.append(f"gc {response.status_code}: {response.text[:200]}")
                for _ in range(50):
                    gc.collect(0)

    workers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(READERS)]
    writers = [threading.Thread(target=profile, daemon=True), threading.Thread(target=collect)]
    for thread in [*workers, *writers]:
        thread.start()
    for thread in writers:
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), f"{thread.name} did not finish: deadlock?"
    stop.set()
    for thread in workers:
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), "a status reader did not finish: deadlock?"
    assert not failures, failures
    assert len(started_ids) == PROFILES
    for readings in seen:
        assert readings, "a reader never got an answer"
        assert readings == sorted(readings, key=lambda r: r[0]), "collections went backwards"
        assert [r[1] for r in readings] == sorted(r[1] for r in readings)
    listed = server.client.get("/ah/memory", params={"details": "true"}, headers=AUTH)
    profiles = assert_valid("profile_list", listed.content)["memoryProfiles"]
    assert [p["id"] for p in profiles] == started_ids
    assert {p["state"] for p in profiles} == {"complete"}
    final = assert_valid("status", server.client.get("/ah/memoryProfile/status", headers=AUTH).text)
    assert final["lastGC"]["num_full_gc"] >= FORCED
    assert final["watcher"]["collections"] >= FORCED * 51
    assert final["watcher"]["errors"] == 0


def test_concurrent_coroutines(serve, watcher):
    """Many concurrent requests from one event loop: every answer is valid, every profile kept."""
    server = serve(auth=bearer_token(TOKEN), watcher=watcher)

    async def scenario() -> tuple[list[httpx.Response], list[httpx.Response], list[httpx.Response]]:
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(
            base_url=server.base_url, timeout=60, headers=AUTH, limits=limits
        ) as client:

            async def profile_cycle() -> httpx.Response:
                # Censuses are single-flight: a concurrent start may be told 429/409; retry.
                for _ in range(200):
                    started = await client.post("/ah/memoryProfile")
                    if started.status_code == 201:
                        return await client.post(f"/ah/memoryProfile/{started.json()['id']}/end")
                    assert started.status_code in {409, 429}, started.text
                    await asyncio.sleep(0.05)
                raise AssertionError("never got to start a profile")

            reads = [client.get("/ah/memoryProfile/status") for _ in range(150)]
            lists = [client.get("/ah/memory") for _ in range(50)]
            gcs = [client.post("/ah/memory/gc") for _ in range(10)]
            cycles = [profile_cycle() for _ in range(4)]
            answers = await asyncio.gather(*reads, *lists)
            forced = await asyncio.gather(*gcs)
            ended = await asyncio.gather(*cycles)
            return list(answers), list(forced), list(ended)

    answers, forced, ended = asyncio.run(asyncio.wait_for(scenario(), JOIN_SECONDS))
    assert {r.status_code for r in answers} == {200}
    # Forced collections are single-flight: those that met another are told when to retry.
    assert {r.status_code for r in forced} <= {200, 429}
    assert all("Retry-After" in r.headers for r in forced if r.status_code == 429)
    assert [r.status_code for r in ended] == [200] * 4
    assert {r.json()["state"] for r in ended} == {"complete"}
    listed = server.client.get("/ah/memory", headers=AUTH).json()["memoryProfiles"]
    assert sorted(listed) == sorted(r.json()["id"] for r in ended)


CONCURRENT_GC = 12


def test_concurrent_forced_collections_are_single_flight(serve, watcher):
    """While one POST /ah/memory/gc collects, the others are 429 with Retry-After, at once."""
    server = serve(auth=bearer_token(TOKEN), watcher=watcher)
    collecting, release = threading.Event(), threading.Event()
    holder: list[int] = []

    def hold_the_first_forced_collection(phase: str, info: dict[str, int]) -> None:
        # The first full collection in a server thread (a forced one) is kept running
        # until the test lets go; the test's own thread never collects fully meanwhile.
        if phase != "start" or info["generation"] != 2 or collecting.is_set():
            return
        if threading.current_thread() is threading.main_thread():
            return
        holder.append(threading.get_ident())
        collecting.set()
        release.wait(JOIN_SECONDS)

    first: list[httpx.Response] = []

    def post_gc() -> None:
        with httpx.Client(base_url=server.base_url, timeout=JOIN_SECONDS, headers=AUTH) as client:
            first.append(client.post("/ah/memory/gc"))

    gc.callbacks.append(hold_the_first_forced_collection)
    try:
        runner = threading.Thread(target=post_gc)
        runner.start()
        assert collecting.wait(30), "the first forced collection never started"

        async def the_others() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=server.base_url, timeout=JOIN_SECONDS, headers=AUTH
            ) as client:
                return list(
                    await asyncio.gather(
                        *(client.post("/ah/memory/gc") for _ in range(CONCURRENT_GC))
                    )
                )

        started = time.monotonic()
        others = asyncio.run(asyncio.wait_for(the_others(), JOIN_SECONDS))
        refused_in = time.monotonic() - started
    finally:
        release.set()
        gc.callbacks.remove(hold_the_first_forced_collection)
    runner.join(JOIN_SECONDS)
    assert not runner.is_alive()
    assert [r.status_code for r in first] == [200]
    assert_valid("gc_result", first[0].content)
    assert [r.status_code for r in others] == [429] * CONCURRENT_GC
    for response in others:
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert int(response.headers["Retry-After"]) >= 1
    assert refused_in < 10  # refused at once, not each after a collection of its own
