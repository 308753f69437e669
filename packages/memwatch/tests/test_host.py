"""Requests between workers through the host store: handed over, acted on by the owner, awaited."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import time
from typing import TYPE_CHECKING

import attrs
import pytest

from memwatch.errors import ProfileConflictError, WorkerNotFoundError, WorkerTimeoutError
from memwatch.host import HostLink
from memwatch.models import Profile
from memwatch.store import WORKER_EXITED, HandOver, MemoryStore
from memwatch.store.sqlite import SQLiteStore
from memwatch.watcher import Watcher
from scripted import ScriptedProbe

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

FORK = multiprocessing.get_context("fork")
NOW = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)


def _owner(directory: str, ready: multiprocessing.synchronize.Event) -> None:
    """A worker that ends and starts profiles in its own name when asked, polling every 50 ms."""
    store = SQLiteStore(directory)

    def act(request: HandOver) -> bool:
        if request.action == "start":
            store.put(Profile(request.profile_id, "running", "manual", NOW, pid=os.getpid()))
        else:
            running = store.get(request.profile_id)
            if running is not None:
                store.put(attrs.evolve(running, state="complete", ended=NOW))
        return True

    link = HostLink(store, store, status=lambda: {"pid": os.getpid()}, act=act, interval=0.2)
    link.poll()
    ready.set()
    while True:
        link.poll()
        time.sleep(0.05)


@pytest.fixture
def owner(tmp_path: Path):
    """A live owner worker on a host store in ``tmp_path``; killed at the end."""
    ready = FORK.Event()
    process = FORK.Process(target=_owner, args=(str(tmp_path), ready), daemon=True)
    process.start()
    assert ready.wait(10)
    yield process
    process.kill()
    process.join(5)


def _asker(tmp_path: Path) -> HostLink:
    store = SQLiteStore(tmp_path)
    return HostLink(store, store, status=dict, act=lambda _: True, interval=1.0)


def test_another_worker_ends_a_profile_for_the_asker(tmp_path: Path, owner) -> None:
    """The asker hands the end to the owner and answers with the owner's result."""
    asker = _asker(tmp_path)
    running = Profile("own1", "running", "manual", NOW, pid=owner.pid)
    asker.profiles.put(running)
    ended = asker.end_elsewhere(running, timeout=10)
    assert (ended.id, ended.state, ended.pid) == ("own1", "complete", owner.pid)
    assert asker.workers.requests_for(owner.pid) == []


def test_another_worker_starts_a_profile_in_its_own_heap(tmp_path: Path, owner) -> None:
    """Asked to start, the worker named by pid stores a running profile of its own."""
    asker = _asker(tmp_path)
    started = asker.start_elsewhere(owner.pid, timeout=10)
    assert (started.state, started.pid, started.trigger) == ("running", owner.pid, "manual")
    with pytest.raises(ProfileConflictError, match="already running in worker"):
        asker.start_elsewhere(owner.pid, timeout=10)


def test_a_dead_owners_profile_fails_instead_of_waiting(tmp_path: Path, owner) -> None:
    """If the owner was killed, ending its profile answers at once with it failed."""
    asker = _asker(tmp_path)
    running = Profile("orphan", "running", "manual", NOW, pid=owner.pid)
    asker.profiles.put(running)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(5)
    started = time.monotonic()
    failed = asker.end_elsewhere(running, timeout=10)
    assert time.monotonic() - started < 2
    assert (failed.state, failed.error) == ("failed", WORKER_EXITED)
    with pytest.raises(WorkerNotFoundError):
        asker.start_elsewhere(owner.pid, timeout=10)


def test_an_owner_that_does_not_answer_times_out(tmp_path: Path, owner) -> None:
    """A stopped (alive but silent) owner gives a timeout with a retry hint; the request stays."""
    asker = _asker(tmp_path)
    running = Profile("slow", "running", "manual", NOW, pid=owner.pid)
    asker.profiles.put(running)
    os.kill(owner.pid, signal.SIGSTOP)
    try:
        with pytest.raises(WorkerTimeoutError) as caught:
            asker.end_elsewhere(running, timeout=0.3)
        assert caught.value.retry_after >= 1
        assert asker.workers.requests_for(owner.pid) == [HandOver("end", "slow", owner.pid)]
    finally:
        os.kill(owner.pid, signal.SIGCONT)


def test_status_is_written_at_most_once_per_interval() -> None:
    """Polling often writes the status once per interval, and at once when asked."""
    clock = [0.0]
    writes: list[int] = []
    store = MemoryStore()

    def status() -> dict[str, int]:
        writes.append(1)
        return {"n": len(writes)}

    link = HostLink(
        store, store, status=status, act=lambda _: True, interval=5.0, clock=lambda: clock[0]
    )
    for step in range(100):
        clock[0] = step * 0.5
        link.poll()
    assert len(writes) == 10
    link.write_status_now()
    record = store.worker(os.getpid())
    assert record is not None
    assert record.status == {"n": 11}
    link.goodbye()
    assert store.worker(os.getpid()).exited  # type: ignore[union-attr]


def test_a_worker_that_starts_a_profile_before_its_first_poll_is_listed(tmp_path: Path) -> None:
    """Its profile's owner shows in the worker list at once, and is marked exited at its goodbye."""
    store = SQLiteStore(tmp_path)
    watcher = Watcher(probe=ScriptedProbe(), background=False, store=store).start()
    try:
        assert store.worker(os.getpid()) is None
        profile = watcher.start_profile()
        record = store.worker(os.getpid())
        assert record is not None, "the profile's owner was not listed"
        assert (record.exited, profile.pid) == (False, os.getpid())
        watcher.host.goodbye()
        assert store.worker(os.getpid()).exited  # type: ignore[union-attr]
        assert store.get(profile.id).state == "failed"  # type: ignore[union-attr]
    finally:
        watcher.stop()
