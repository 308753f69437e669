"""Faults inside memwatch never hurt the service: a raising probe, census, store or gc callback.

Each test serves the adapter's app on a real server with a watcher whose part
fails; the app's own route keeps answering, the fault shows in status, and
nothing is printed once per collection (stderr is captured at the file
descriptor, so the server threads' output counts too).
"""

from __future__ import annotations

import gc
import logging
import os

from memwatch import census as census_module
from memwatch.auth import bearer_token, read_only
from memwatch.store import MemoryProfileStore
from memwatch.testing import AUTH_HEADERS as AUTH
from memwatch.testing import TOKEN
from memwatch.testing.contract import assert_problem, assert_valid
from memwatch.watcher import Watcher

COLLECTIONS = 300
SECRET = "SECRET-WEBHOOK-TOKEN-5f2c"
MIB = 1024 * 1024


class RaisingProbe:
    """A heap probe that fails every time it is read (in the gc callback and in polls)."""

    name = "raising"

    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> int:
        self.reads += 1
        raise OSError("probe exploded")


class FlakyStore(MemoryProfileStore):
    """A profile store whose writes fail while ``broken`` is set."""

    def __init__(self) -> None:
        super().__init__(max_profiles=100)
        self.broken = False

    def put(self, profile):
        if self.broken:
            raise ConnectionError("store unreachable")
        super().put(profile)


def _status(client):
    response = client.get("/ah/memoryProfile/status", headers=AUTH)
    assert response.status_code == 200
    return assert_valid("status", response.content)


def _service_keeps_answering(client, times=50):
    for _ in range(times):
        response = client.get("/healthy")
        assert response.status_code == 200
        assert response.text == "made 100"


def _memwatch_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "memwatch" in line or "Exception ignored" in line]


def test_probe_raising_in_the_gc_callback(serve, capfd, caplog):
    """A probe that raises in every collection is counted in status and printed at most once."""
    probe = RaisingProbe()
    caplog.set_level(logging.WARNING, logger="memwatch")
    with Watcher(probe=probe, sample_interval=0.001, auto_capture=False) as watcher:
        client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
        _service_keeps_answering(client)
        for _ in range(COLLECTIONS):
            gc.collect(0)
        _service_keeps_answering(client)
        status = _status(client)
        # Forcing a collection reads the probe outside the callback: a 500, not a crash.
        forced = client.post("/ah/memory/gc", headers=AUTH)
        assert_problem(500, forced.headers, forced.content, pid=os.getpid())
        assert watcher.running
    assert probe.reads >= COLLECTIONS
    assert status["watcher"]["errors"] >= COLLECTIONS
    assert status["watcher"]["last_error"] == "gc callback: OSError"
    assert status["watcher"]["running"] is True
    err = capfd.readouterr().err
    assert "Exception ignored" not in err
    assert len(_memwatch_lines(err)) <= 2, err[-2000:]
    logged = [r for r in caplog.records if r.name == "memwatch" and r.exc_info is not None]
    assert len(logged) <= 2  # the first error, then one a minute: never one per collection


def test_census_raising_midway(serve, watcher, monkeypatch, capfd):
    """A census that raises halfway fails its profile, shows in status and leaves gc enabled."""
    client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
    started = client.post("/ah/memoryProfile", headers=AUTH)
    assert started.status_code == 201
    # Sizing runs once per type (the ids are copied in one block at the end).
    real_sizes = census_module.shallow_bytes
    calls = {"n": 0}

    def sizes_then_fail(tp, objects):
        calls["n"] += 1
        if calls["n"] > 20:  # some types tallied already: the failure is mid-census
            raise MemoryError(f"census ran out of room at {SECRET}")
        return real_sizes(tp, objects)

    monkeypatch.setattr(census_module, "shallow_bytes", sizes_then_fail)
    ended = client.post(f"/ah/memoryProfile/{started.json()['id']}/end", headers=AUTH)
    assert ended.status_code == 200
    profile = assert_valid("profile", ended.content)
    assert profile["state"] == "failed"
    assert profile["error"] == "census: MemoryError"
    assert SECRET not in ended.text
    assert gc.isenabled()
    calls["n"] = 0
    # A census failing at the start is a 500 problem, and nothing is left half-started.
    failed_start = client.post("/ah/memoryProfile", headers=AUTH)
    assert_problem(500, failed_start.headers, failed_start.content, pid=os.getpid())
    assert gc.isenabled()
    assert watcher._profiler._baselines == {}
    _service_keeps_answering(client)
    status = _status(client)
    assert status["watcher"]["errors"] == 2
    assert status["watcher"]["last_error"] == "profile start: MemoryError"
    listed = client.get("/ah/memory?details=true", headers=AUTH)
    assert listed.status_code == 200
    assert SECRET not in listed.text
    monkeypatch.undo()
    # The census lock was released: the next profile starts.
    assert client.post("/ah/memoryProfile", headers=AUTH).status_code == 201
    assert "Traceback" not in capfd.readouterr().err.split("memwatch: unexpected error")[0]


def test_store_raising(serve, capfd):
    """A store that fails makes a 500 problem, keeps no orphan baseline, and shows in status."""
    store = FlakyStore()
    with Watcher(sample_interval=0.5, auto_capture=False, store=store) as watcher:
        client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
        store.broken = True
        for _ in range(3):
            response = client.post("/ah/memoryProfile", headers=AUTH)
            assert_problem(500, response.headers, response.content, pid=os.getpid())
        assert watcher._profiler._baselines == {}
        _service_keeps_answering(client)
        status = _status(client)
        assert status["watcher"]["errors"] == 3
        assert status["watcher"]["last_error"] == "profile start: ConnectionError"
        store.broken = False
        started = client.post("/ah/memoryProfile", headers=AUTH)
        assert started.status_code == 201
        ids = client.get("/ah/memory", headers=AUTH).json()["memoryProfiles"]
        assert ids == [started.json()["id"]]
    assert "Exception ignored" not in capfd.readouterr().err


def test_exception_inside_the_gc_callback_is_never_raised_into_the_collection(serve, capfd):
    """A callback whose clock fails is caught inside: collections go on, status says why."""
    ticks = {"n": 0}

    def failing_clock() -> float:
        ticks["n"] += 1
        if ticks["n"] > 5:
            raise RuntimeError("clock stopped")
        return float(ticks["n"])

    watcher = Watcher(sample_interval=1.0, auto_capture=False, clock=failing_clock)
    # The watcher's constructor and start read the clock; every collection after that raises.
    watcher.start()
    try:
        client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
        before = watcher._collector.errors
        for _ in range(COLLECTIONS):
            gc.collect(0)
        _service_keeps_answering(client)
        status = _status(client)
    finally:
        watcher.stop()
    assert watcher._collector.errors - before >= COLLECTIONS - 5  # the first ticks are good
    assert status["watcher"]["last_error"] == "gc callback: RuntimeError"
    assert status["watcher"]["collections"] >= COLLECTIONS
    err = capfd.readouterr().err
    assert "Exception ignored" not in err
    assert err.count("clock stopped") <= 2


class GrowingProbe:
    """A heap that grows 4 MiB at every reading: a leak the memwatch detector reports."""

    name = "growing"

    def __init__(self) -> None:
        self.value = 50 * MIB

    def read(self) -> int:
        self.value += 4 * MIB
        return self.value


def test_a_listeners_exception_text_never_reaches_a_reader(serve, caplog):
    """A listener's secret-bearing exception shows in status as its type only, even read-only."""
    caplog.set_level(logging.WARNING, logger="memwatch")

    def post_to_webhook(_report: object) -> None:
        raise ConnectionError(f"POST https://hooks.example/{SECRET} failed: 503")

    watcher = Watcher(
        mode="memwatch",
        detector_options={"consecutive_growth": 3},
        probe=GrowingProbe(),
        sample_interval=0.5,
        auto_capture=False,
    )
    watcher.on("leak", post_to_webhook)
    with watcher:
        client = serve(auth=read_only(bearer_token(TOKEN)), watcher=watcher).client
        for _ in range(4):
            watcher.force_gc()  # behind the API's back: read_only refuses POST
        response = client.get("/ah/memoryProfile/status", headers=AUTH)
        assert response.status_code == 200
        status = assert_valid("status", response.content)
        listed = client.get("/ah/memory?details=true", headers=AUTH)
    assert status["lastLeak"]["growth"] > 0
    assert status["watcher"]["errors"] >= 1
    assert status["watcher"]["last_error"].startswith("leak listener ")
    assert status["watcher"]["last_error"].endswith("post_to_webhook: ConnectionError")
    assert SECRET not in response.text
    assert SECRET not in listed.text
    assert SECRET in caplog.text  # the operator's log has it, with the traceback
