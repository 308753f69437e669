"""The SQLite host store on a real file: the memory store's answers, bounded, never failing."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import stat
from typing import TYPE_CHECKING

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from memwatch.converter import dumps
from memwatch.models import Profile
from memwatch.store import (
    WORKER_EXITED,
    HandOver,
    MemoryProfileStore,
    ProfileStore,
    Store,
    StoreUnavailableError,
    WorkerStore,
    sqlite_db,
)
from memwatch.store.fallback import FallbackStore
from memwatch.store.sqlite import FILE_NAME, SQLiteStore
from memwatch.store.sqlite_db import StoreVersionError

if TYPE_CHECKING:
    from pathlib import Path

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
# A pid no process can have: above any kernel's pid_max (2**22).
GONE_PID = 2**22 + 17


def make_profile(profile_id: str, state: str = "complete", pid: int = 0) -> Profile:
    return Profile(id=profile_id, state=state, trigger="manual", started=NOW, pid=pid)  # type: ignore[arg-type]


class Clock:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sqlite_store_is_both_stores(tmp_path: Path) -> None:
    """The SQLite store satisfies the profile, worker and combined protocols, and is shared."""
    store = SQLiteStore(tmp_path)
    assert isinstance(store, ProfileStore)
    assert isinstance(store, WorkerStore)
    assert isinstance(store, Store)
    assert store.shared is True


def test_profiles_round_trip_and_keep_their_place(tmp_path: Path) -> None:
    """A profile reads back equal; replacing it keeps its place; listings agree with bodies."""
    store = SQLiteStore(tmp_path)
    running = attrs.evolve(make_profile("a", "running", pid=os.getpid()), ended=None)
    store.put(running)
    store.put(make_profile("b"))
    ended = attrs.evolve(running, state="complete", ended=NOW + dt.timedelta(seconds=3))
    store.put(ended)
    assert store.get("a") == ended
    assert [p.id for p in store.list()] == ["a", "b"]
    assert [(s.id, s.pid, s.state, s.ended) for s in store.summaries()] == [
        ("a", os.getpid(), "complete", ended.ended),
        ("b", 0, "complete", None),
    ]
    assert store.profile_counts() == {(os.getpid(), "complete"): 1, (0, "complete"): 1}
    assert store.get("missing") is None
    assert store.delete("b") is True
    assert store.delete("b") is False
    assert len(store) == 1
    store.clear()
    assert store.list() == []


def test_a_second_store_on_the_same_directory_sees_the_same_profiles(tmp_path: Path) -> None:
    """Two stores on one directory (as two workers would be) read each other's writes."""
    first, second = SQLiteStore(tmp_path), SQLiteStore(tmp_path)
    first.put(make_profile("x", pid=11))
    assert second.get("x") == make_profile("x", pid=11)
    assert second.delete("x")
    assert first.list() == []


def test_file_and_directory_are_private_and_wal(tmp_path: Path) -> None:
    """The directory is made 0700, the file 0600, and the journal is WAL."""
    directory = tmp_path / "new" / "store"
    SQLiteStore(directory).put(make_profile("a"))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / FILE_NAME).stat().st_mode) == 0o600
    with contextlib.closing(sqlite3.connect(directory / FILE_NAME)) as raw, raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)


def _set_version(path: Path, version: int) -> None:
    with contextlib.closing(sqlite3.connect(path / FILE_NAME)) as raw, raw:
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))


def test_a_newer_schema_is_refused_with_both_versions_named(tmp_path: Path) -> None:
    """A file written by a newer memwatch is not misread: the error names its version and ours."""
    SQLiteStore(tmp_path).put(make_profile("a"))
    _set_version(tmp_path, 7)
    with pytest.raises(
        StoreVersionError, match=r"schema 7 is newer than this memwatch reads \(1\)"
    ):
        SQLiteStore(tmp_path).list()


def test_an_older_schema_is_migrated_step_by_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older file runs the known steps to the current version and keeps its profiles."""
    SQLiteStore(tmp_path).put(make_profile("a"))
    _set_version(tmp_path, 0)
    monkeypatch.setattr(sqlite_db, "_MIGRATIONS", {0: ("CREATE TABLE step_zero (x INTEGER)",)})
    assert [p.id for p in SQLiteStore(tmp_path).list()] == ["a"]
    with contextlib.closing(sqlite3.connect(tmp_path / FILE_NAME)) as raw, raw:
        assert raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
        assert raw.execute("SELECT COUNT(*) FROM step_zero").fetchone() == (0,)


def test_an_older_schema_without_a_migration_is_refused(tmp_path: Path) -> None:
    """An older file with no step from its version is refused, not rewritten."""
    SQLiteStore(tmp_path).put(make_profile("a"))
    _set_version(tmp_path, 0)
    with pytest.raises(StoreVersionError, match="schema 0 is older than any"):
        SQLiteStore(tmp_path).get("a")


def test_someone_elses_database_is_left_alone(tmp_path: Path) -> None:
    """A database with tables but no memwatch schema version is refused."""
    with contextlib.closing(sqlite3.connect(tmp_path / FILE_NAME)) as raw, raw:
        raw.execute("CREATE TABLE invoices (n INTEGER)")
    with pytest.raises(StoreVersionError, match="not a memwatch store"):
        SQLiteStore(tmp_path).list()


def test_a_corrupt_file_raises_the_typed_error_with_fixed_words(tmp_path: Path) -> None:
    """Garbage where the database should be reads as "database corrupt", not sqlite's text."""
    (tmp_path / FILE_NAME).write_bytes(b"this is not a database, " * 400)
    with pytest.raises(StoreUnavailableError) as caught:
        SQLiteStore(tmp_path).put(make_profile("a"))
    assert caught.value.reason == "database corrupt"


def test_a_locked_database_raises_within_the_busy_timeout(tmp_path: Path) -> None:
    """A writer holding the lock past the busy timeout gives "database locked"."""
    store = SQLiteStore(tmp_path, busy_timeout=0.05)
    store.put(make_profile("a"))
    raw = sqlite3.connect(tmp_path / FILE_NAME, isolation_level=None)
    raw.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            store.put(make_profile("b"))
        assert caught.value.reason == "database locked"
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    store.put(make_profile("b"))
    assert len(store) == 2


def test_fallback_store_answers_from_memory_and_says_why(tmp_path: Path) -> None:
    """Over a corrupt file the fallback store keeps working in memory and names the reason."""
    (tmp_path / FILE_NAME).write_bytes(b"\x00garbage" * 1000)
    store = FallbackStore(SQLiteStore(tmp_path))
    assert store.shared is True
    store.put(make_profile("a", pid=os.getpid()))
    assert store.fallback_reason == "database corrupt"
    assert store.shared is False
    assert [p.id for p in store.list()] == ["a"]
    store.record_worker(os.getpid(), {"lastEvent": "stats"})
    assert [w.status for w in store.workers()] == [{"lastEvent": "stats"}]


def test_fallback_store_passes_through_while_the_database_answers(tmp_path: Path) -> None:
    """A healthy database is used as is: another store on the file sees the writes."""
    store = FallbackStore(SQLiteStore(tmp_path))
    store.put(make_profile("a"))
    assert store.fallback_reason == ""
    assert SQLiteStore(tmp_path).get("a") == make_profile("a")


def test_finished_profiles_expire_by_age(tmp_path: Path) -> None:
    """A finished profile older than max_age goes at the next write; a running one stays."""
    clock = Clock()
    store = SQLiteStore(tmp_path, max_age=60.0, clock=clock)
    store.put(make_profile("old"))
    store.put(make_profile("run", "running"))
    clock.now += 61
    store.put(make_profile("new"))
    assert [p.id for p in store.list()] == ["run", "new"]


def test_profile_bytes_are_bounded_oldest_finished_first(tmp_path: Path) -> None:
    """Beyond max_bytes of JSON the oldest finished profiles go until the store fits."""
    size = len(dumps(make_profile("p0000")))
    store = SQLiteStore(tmp_path, max_bytes=size * 3)
    for i in range(6):
        store.put(make_profile(f"p{i:04d}"))
    assert [p.id for p in store.list()] == ["p0003", "p0004", "p0005"]


def test_worker_records_and_exit_fail_running_profiles(tmp_path: Path) -> None:
    """A worker's status reads back; at its exit its running profile fails, a finished one stays."""
    store = SQLiteStore(tmp_path)
    me = os.getpid()
    store.record_worker(me, {"lastEvent": "leak"})
    store.put(make_profile("run", "running", pid=me))
    store.put(make_profile("done", pid=me))
    record = store.worker(me)
    assert record is not None
    assert (record.pid, record.exited, record.status) == (me, False, {"lastEvent": "leak"})
    assert store.owner_alive(me)
    store.worker_exited(me)
    failed = store.get("run")
    assert failed is not None
    assert (failed.state, failed.error) == ("failed", WORKER_EXITED)
    assert failed.ended is not None
    assert store.get("done") == make_profile("done", pid=me)
    assert not store.owner_alive(me)
    assert [w.exited for w in store.workers()] == [True]


def test_a_worker_found_gone_is_marked_exited_by_whoever_lists(tmp_path: Path) -> None:
    """A worker that died without a word (SIGKILL) is marked exited; its running profile fails."""
    store = SQLiteStore(tmp_path)
    store.record_worker(GONE_PID, {})
    store.put(make_profile("orphan", "running", pid=GONE_PID))
    store.put(make_profile("lonely", "running", pid=GONE_PID + 1))
    assert [(w.pid, w.exited) for w in store.workers()] == [(GONE_PID, True)]
    assert {p.id: (p.state, p.error) for p in store.list()} == {
        "orphan": ("failed", WORKER_EXITED),
        "lonely": ("failed", WORKER_EXITED),
    }


def test_a_reused_pid_starts_a_new_worker_and_fails_the_old_ones_profiles(tmp_path: Path) -> None:
    """A row whose process start time differs from the pid's process now is a gone worker."""
    store = SQLiteStore(tmp_path)
    me = os.getpid()
    store.record_worker(me, {"n": 1})
    store.put(make_profile("before", "running", pid=me))
    with contextlib.closing(sqlite3.connect(store.path)) as raw, raw:
        raw.execute(
            "UPDATE workers SET start_ticks = start_ticks + 1, started = 0 WHERE pid = ?", (me,)
        )
    assert not store.owner_alive(me)
    store.record_worker(me, {"n": 2})
    record = store.worker(me)
    assert record is not None
    assert (record.exited, record.status) == (False, {"n": 2})
    assert record.started.year > 1970
    assert store.get("before").state == "failed"  # type: ignore[union-attr]


def test_requests_go_to_their_owner_and_vanish_when_moot(tmp_path: Path) -> None:
    """A request is listed for its owner only; handled, ended, deleted or orphaned, it goes."""
    clock = Clock()
    store = SQLiteStore(tmp_path, clock=clock)
    me = os.getpid()
    for name in ("a", "b", "c"):
        store.put(make_profile(name, "running", pid=me))
    store.hand_over(HandOver("end", "a", me))
    store.hand_over(HandOver("end", "b", me))
    store.hand_over(HandOver("start", "new", me))
    store.hand_over(HandOver("end", "c", 1))
    assert store.requests_for(me) == [
        HandOver("end", "a", me),
        HandOver("end", "b", me),
        HandOver("start", "new", me),
    ]
    store.drop_request("a")
    store.put(make_profile("b", pid=me))  # ended: its end request is moot
    assert store.requests_for(me) == [HandOver("start", "new", me)]
    store.delete("c")
    assert store.requests_for(1) == []
    store.hand_over(HandOver("start", "gone", GONE_PID))
    store.worker_exited(GONE_PID)
    assert store.requests_for(GONE_PID) == []
    clock.now += 301
    store.put(make_profile("later"))
    assert store.requests_for(me) == []


def test_exited_workers_are_pruned_by_count_and_age(tmp_path: Path) -> None:
    """Exited rows beyond the count, or older than the age, go when a worker writes."""
    clock = Clock()
    store = SQLiteStore(tmp_path, max_exited_workers=3, exited_worker_age=100.0, clock=clock)
    for i in range(10):
        clock.now += 1
        store.record_worker(GONE_PID + i, {})
    store.record_worker(os.getpid(), {})
    assert [w.pid for w in store.workers()] == [os.getpid(), *range(GONE_PID + 7, GONE_PID + 10)]
    clock.now += 200
    store.record_worker(os.getpid(), {})
    assert [w.pid for w in store.workers()] == [os.getpid()]


class SQLiteMatchesMemory(RuleBasedStateMachine):
    """The SQLite store, read through a second store on its file, answers as the memory store."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile  # noqa: PLC0415 - one directory per run of the machine

        self._tmp = tempfile.TemporaryDirectory()
        self.sqlite = SQLiteStore(self._tmp.name, max_profiles=4, max_age=None, max_bytes=None)
        self.reader = SQLiteStore(self._tmp.name, max_profiles=4, max_age=None, max_bytes=None)
        self.memory = MemoryProfileStore(4)
        self.counter = 0

    def teardown(self) -> None:
        self.sqlite.close()
        self.reader.close()
        self._tmp.cleanup()

    @rule(running=st.booleans(), pid=st.integers(0, 3))
    def put_new(self, running: bool, pid: int) -> None:
        self.counter += 1
        profile = make_profile(f"p{self.counter}", "running" if running else "complete", pid)
        self.sqlite.put(profile)
        self.memory.put(profile)

    @precondition(lambda self: any(p.state == "running" for p in self.memory.list()))
    @rule(data=st.data(), failed=st.booleans())
    def finish(self, data: st.DataObject, failed: bool) -> None:
        running = [p for p in self.memory.list() if p.state == "running"]
        ended = attrs.evolve(
            data.draw(st.sampled_from(running)), state="failed" if failed else "complete"
        )
        self.sqlite.put(ended)
        self.memory.put(ended)

    @precondition(lambda self: bool(self.memory.list()))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from([p.id for p in self.memory.list()]))
        assert self.reader.delete(key) == self.memory.delete(key)

    @rule(key=st.sampled_from(["p1", "p2", "nope"]))
    def get(self, key: str) -> None:
        assert self.reader.get(key) == self.memory.get(key)

    @rule()
    def clear(self) -> None:
        self.sqlite.clear()
        self.memory.clear()

    @invariant()
    def lists_match(self) -> None:
        assert self.reader.list() == self.memory.list()

    @invariant()
    def summaries_and_counts_match_the_bodies(self) -> None:
        profiles = self.memory.list()
        assert [(s.id, s.pid, s.state) for s in self.reader.summaries()] == [
            (p.id, p.pid, p.state) for p in profiles
        ]
        assert sum(self.reader.profile_counts().values()) == len(profiles)


TestSQLiteMatchesMemory = SQLiteMatchesMemory.TestCase
TestSQLiteMatchesMemory.settings = settings(stateful_step_count=25, max_examples=30)
