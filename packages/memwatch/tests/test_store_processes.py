"""The SQLite host store across real processes: forked writers at once, SIGKILL, worker churn."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import signal
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest

from memwatch.models import Profile
from memwatch.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from pathlib import Path

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
GONE_PID = 2**22 + 1000

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

FORK = multiprocessing.get_context("fork")


def make_profile(profile_id: str, pid: int, state: str = "complete") -> Profile:
    return Profile(id=profile_id, state=state, trigger="manual", started=NOW, pid=pid)  # type: ignore[arg-type]


def _write_many(store: SQLiteStore, prefix: str, count: int) -> None:
    for i in range(count):
        store.put(make_profile(f"{prefix}{i:04d}", os.getpid()))
        store.record_worker(os.getpid(), {"written": i + 1})


def _integrity(store: SQLiteStore) -> str:
    with contextlib.closing(sqlite3.connect(store.path)) as raw, raw:
        return str(raw.execute("PRAGMA integrity_check").fetchone()[0])


def test_forked_workers_write_at_once_through_the_parents_store(tmp_path: Path) -> None:
    """Four forked children and the parent write through one store object; nothing is lost."""
    store = SQLiteStore(tmp_path, max_profiles=10_000)
    store.put(make_profile("parent-first", os.getpid()))  # the parent's connection is open at fork
    children = [FORK.Process(target=_write_many, args=(store, f"c{n}-", 60)) for n in range(4)]
    for child in children:
        child.start()
    _write_many(store, "parent-", 60)
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    assert len(store) == 1 + 5 * 60
    pids = {child.pid for child in children}
    records = {w.pid: w for w in store.workers()}
    assert pids <= set(records)
    assert all(records[pid].status == {"written": 60} and records[pid].exited for pid in pids)
    assert records[os.getpid()].exited is False
    assert _integrity(store) == "ok"
    store.put(make_profile("parent-last", os.getpid()))  # and the parent's connection still works
    assert store.get("parent-last") is not None


def _write_and_report(directory: str, pipe: Connection) -> None:
    store = SQLiteStore(directory, max_profiles=10_000)
    store.record_worker(os.getpid(), {})
    store.put(make_profile("running-when-killed", os.getpid(), "running"))
    for i in range(100_000):
        store.put(make_profile(f"k{i:06d}", os.getpid()))
        pipe.send(i)


def test_a_worker_killed_mid_write_loses_no_committed_profile(tmp_path: Path) -> None:
    """SIGKILL while writing: every profile the worker stored is there; its running one fails."""
    receiver, sender = FORK.Pipe(duplex=False)
    child = FORK.Process(target=_write_and_report, args=(str(tmp_path), sender))
    child.start()
    acknowledged = -1
    while acknowledged < 200:
        acknowledged = receiver.recv()
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join(timeout=10)
    while receiver.poll():
        acknowledged = receiver.recv()
    store = SQLiteStore(tmp_path, max_profiles=10_000)
    ids = {p.id for p in store.list()}
    assert {f"k{i:06d}" for i in range(acknowledged + 1)} <= ids
    assert _integrity(store) == "ok"
    assert [(w.pid, w.exited) for w in store.workers()] == [(child.pid, True)]
    running = store.get("running-when-killed")
    assert running is not None
    assert (running.state, running.error) == ("failed", "worker exited")


def _file_bytes(store: SQLiteStore) -> int:
    wal = store.path.with_name(store.path.name + "-wal")
    return store.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _time_listing(store: SQLiteStore) -> float:
    started = time.perf_counter()
    store.list()
    store.workers()
    return time.perf_counter() - started


def test_worker_churn_keeps_the_file_and_the_listing_flat(tmp_path: Path) -> None:
    """500 workers come, write, leave a profile and go: file size and list time stop growing."""
    store = SQLiteStore(tmp_path, max_profiles=100, max_exited_workers=20)
    me = os.getpid()
    sizes: dict[int, int] = {}
    list_seconds: dict[int, float] = {}
    for n in range(500):
        pid = GONE_PID + n
        store.record_worker(pid, {"heap": n})
        store.put(make_profile(f"w{n:04d}", pid))
        store.put(make_profile(f"r{n:04d}", pid, "running"))
        store.record_worker(me, {"round": n})
        if n + 1 in (150, 500):
            sizes[n + 1] = _file_bytes(store)
            list_seconds[n + 1] = min(_time_listing(store) for _ in range(15))
    workers = store.workers()
    assert len(workers) <= 21
    assert len(store) <= 100
    assert sizes[500] <= sizes[150] * 1.25
    assert list_seconds[500] <= list_seconds[150] * 2 + 0.003
    print(f"churn: bytes {sizes}, list+workers seconds {list_seconds}")  # noqa: T201 - the figures
