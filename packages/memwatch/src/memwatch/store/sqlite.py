"""The host store: every worker's profiles and status in one SQLite file, bounded on disk.

Each worker process opens the same file (see :mod:`memwatch.store.location`
for where it lives). Profiles are rows with their listing columns indexed and
the profile JSON (:mod:`memwatch.converter`) as the body; workers are rows
with their last status; a request (end this profile, start one) is a row the
worker it names picks up.

Retention (defaults): at most 200 profiles, none finished more than 7 days
ago, at most 64 MiB of profile JSON, the oldest finished going first and a
running one never; at most 64 exited workers, none gone for more than a day.
So the file stays the same size however many workers come and go.

One connection per process, guarded by a lock: SQLite serialises writers
anyway, and a lock keeps the file descriptors to one per store whatever the
thread count. A forked child never touches its parent's connection (closing it
could release locks the parent holds); it opens its own on first use.

Every :mod:`sqlite3` error becomes
:class:`~memwatch.store.protocol.StoreUnavailableError` with a fixed reason: a
locked or corrupt database never fails a request with a traceback
(:class:`memwatch.store.fallback.FallbackStore` falls back to memory).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memwatch.converter import dumps, loads
from memwatch.models import Profile, ProfileSummary
from memwatch.store import sqlite_workers
from memwatch.store.protocol import (
    HandOver,
    StoreUnavailableError,
    WorkerRecord,
)
from memwatch.store.sqlite_db import describe_error, open_database

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterator, Mapping

    from memwatch.store.figures import WorkerFigures

__all__ = ["FILE_NAME", "SQLiteStore"]

FILE_NAME = "memwatch.sqlite3"

_MIB = 1024 * 1024
_DAY = 86400.0

# A request its owner has not taken in this long is abandoned (the asker stopped waiting).
_REQUEST_AGE = 300.0

_COLUMNS = "id, pid, state, trigger, started, ended, size, stored, body"


def _micros(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    return round(value.timestamp() * 1_000_000)


def _from_micros(value: int | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=value)


class SQLiteStore:
    """Profiles, workers and requests of every process of a host, in one SQLite file.

    Implements :class:`~memwatch.store.protocol.ProfileStore` and
    :class:`~memwatch.store.protocol.WorkerStore`. Nothing is opened until first use.

    Args:
        directory: Where the file (``memwatch.sqlite3``) lives; created 0700 if missing.
        max_profiles: Profiles kept, the oldest finished evicted first.
        max_age: Seconds a finished profile is kept after it was last written (``None``: forever).
        max_bytes: Bytes of profile JSON kept (``None``: no bound).
        max_exited_workers: Exited workers' rows kept, the longest gone pruned first.
        exited_worker_age: Seconds an exited worker's row is kept.
        busy_timeout: Seconds to wait for another process's write before "database locked".
        clock: Wall clock, in seconds since the epoch; tests inject one.
    """

    shared = True

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_profiles: int = 200,
        max_age: float | None = 7 * _DAY,
        max_bytes: int | None = 64 * _MIB,
        max_exited_workers: int = 64,
        exited_worker_age: float = _DAY,
        busy_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Configure the store; the file is opened on first use."""
        if max_profiles < 1:
            msg = f"max_profiles must be at least 1, got {max_profiles}"
            raise ValueError(msg)
        self.path = Path(directory) / FILE_NAME
        self.max_profiles = max_profiles
        self.max_age = max_age
        self.max_bytes = max_bytes
        self.max_exited_workers = max_exited_workers
        self.exited_worker_age = exited_worker_age
        self.busy_timeout = busy_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._owner = os.getpid()
        _stores.add(self)

    # -- connection ------------------------------------------------------------

    def _forget_parent_connection(self) -> None:
        """In a forked child: a fresh lock, and the parent's connection kept but never used."""
        self._owner = os.getpid()
        self._lock = threading.Lock()
        if self._conn is not None:
            _inherited.append(self._conn)
            self._conn = None

    @contextlib.contextmanager
    def _session(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, in a transaction when ``write``; errors reworded."""
        if self._owner != os.getpid():
            self._forget_parent_connection()
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = open_database(self.path, self.busy_timeout)
                    # A store dropped without close() still closes its own connection
                    # (Python 3.13 warns about an unclosed one), never a parent's.
                    weakref.finalize(self, _close_in, self._conn, os.getpid())
                conn = self._conn
                if write:
                    conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                if conn.in_transaction:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(describe_error(exc)) from exc

    def close(self) -> None:
        """Close this process's connection; the next use opens it again."""
        with self._lock:
            if self._conn is not None and self._owner == os.getpid():
                self._conn.close()
            self._conn = None

    # -- profiles --------------------------------------------------------------

    def put(self, profile: Profile) -> None:
        """Insert or replace ``profile`` in its place, then evict beyond the bounds."""
        body = dumps(profile)
        with self._session(write=True) as db:
            self._write_profile(db, profile, body)
            self._evict(db, keep=profile.id)

    def _write_profile(self, db: sqlite3.Connection, profile: Profile, body: bytes) -> None:
        db.execute(
            f"INSERT INTO profiles ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - a constant column list
            "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, state = excluded.state, "
            "trigger = excluded.trigger, started = excluded.started, ended = excluded.ended, "
            "size = excluded.size, stored = excluded.stored, body = excluded.body",
            (
                profile.id,
                profile.pid,
                profile.state,
                profile.trigger,
                _micros(profile.started),
                _micros(profile.ended),
                len(body),
                self._clock(),
                body,
            ),
        )

    def _evict(self, db: sqlite3.Connection, keep: str) -> None:
        finished = "state != 'running' AND id != ?"
        if self.max_age is not None:
            db.execute(
                f"DELETE FROM profiles WHERE {finished} AND stored < ?",  # noqa: S608 - constant
                (keep, self._clock() - self.max_age),
            )
        (count,) = db.execute("SELECT COUNT(*) FROM profiles").fetchone()
        if count > self.max_profiles:
            db.execute(
                "DELETE FROM profiles WHERE seq IN "  # noqa: S608 - constant
                f"(SELECT seq FROM profiles WHERE {finished} ORDER BY seq LIMIT ?)",
                (keep, count - self.max_profiles),
            )
        if self.max_bytes is not None:
            (total,) = db.execute("SELECT COALESCE(SUM(size), 0) FROM profiles").fetchone()
            excess = total - self.max_bytes
            victims: list[tuple[int]] = []
            rows = db.execute(
                f"SELECT seq, size FROM profiles WHERE {finished} ORDER BY seq",  # noqa: S608
                (keep,),
            )
            for seq, size in rows:
                if excess <= 0:
                    break
                victims.append((seq,))
                excess -= size
            db.executemany("DELETE FROM profiles WHERE seq = ?", victims)
        db.execute(
            "DELETE FROM requests WHERE (action = 'end' AND profile_id NOT IN "
            "(SELECT id FROM profiles WHERE state = 'running')) OR requested < ?",
            (self._clock() - _REQUEST_AGE,),
        )

    def get(self, profile_id: str) -> Profile | None:
        """The stored profile with that id, or ``None``."""
        with self._session() as db:
            row = db.execute("SELECT body FROM profiles WHERE id = ?", (profile_id,)).fetchone()
        return None if row is None else _decode(row[0])

    def delete(self, profile_id: str) -> bool:
        """Remove the profile with that id (and any request about it)."""
        with self._session(write=True) as db:
            deleted = db.execute("DELETE FROM profiles WHERE id = ?", (profile_id,)).rowcount
            db.execute("DELETE FROM requests WHERE profile_id = ?", (profile_id,))
        return deleted > 0

    def list(self) -> builtins.list[Profile]:
        """Every stored profile, oldest first."""
        with self._session() as db:
            rows = db.execute("SELECT body FROM profiles ORDER BY seq").fetchall()
        return [_decode(body) for (body,) in rows]

    def clear(self) -> None:
        """Remove every profile and request of every worker."""
        with self._session(write=True) as db:
            db.execute("DELETE FROM profiles")
            db.execute("DELETE FROM requests")

    def __len__(self) -> int:
        """How many profiles are stored."""
        with self._session() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM profiles").fetchone()
        return int(count)

    def summaries(self) -> builtins.list[ProfileSummary]:
        """Every profile's listing line, oldest first, from the indexed columns alone."""
        with self._session() as db:
            rows = db.execute(
                "SELECT id, pid, state, trigger, started, ended FROM profiles ORDER BY seq"
            ).fetchall()
        return [
            ProfileSummary(pid_, pid, state, trigger, _from_micros(started), _from_micros(ended))
            for pid_, pid, state, trigger, started, ended in rows
        ]

    def profile_counts(self) -> dict[tuple[int, str], int]:
        """How many profiles each worker has in each state."""
        with self._session() as db:
            rows = db.execute("SELECT pid, state, COUNT(*) FROM profiles GROUP BY pid, state")
            return {(pid, state): count for pid, state, count in rows}

    # -- workers and requests ----------------------------------------------------

    def record_worker(self, pid: int, status: Mapping[str, Any]) -> None:
        """Store worker ``pid``'s latest status; prune exited workers beyond the bounds."""
        with self._session(write=True) as db:
            sqlite_workers.record(db, pid, status, self._clock())
            sqlite_workers.prune(db, self._clock(), self.max_exited_workers, self.exited_worker_age)

    def worker_exited(self, pid: int) -> None:
        """Mark worker ``pid`` exited; its running profiles fail with ``"worker exited"``."""
        with self._session(write=True) as db:
            sqlite_workers.mark_exited(db, [pid], self._clock())

    def workers(self) -> builtins.list[WorkerRecord]:
        """Every worker the store knows, by pid; those found gone are marked exited first."""
        with self._session() as db:
            gone = sqlite_workers.find_gone(db)
        if gone:
            with self._session(write=True) as db:
                sqlite_workers.mark_exited(db, gone, self._clock())
        with self._session() as db:
            return sqlite_workers.read_all(db)

    def live_figures(self) -> builtins.list[WorkerFigures]:
        """The metrics figures of every live worker, by pid, read from columns (no JSON)."""
        with self._session() as db:
            live, gone = sqlite_workers.live_figures(db)
        if gone:
            with self._session(write=True) as db:
                sqlite_workers.mark_exited(db, gone, self._clock())
        return live

    def worker(self, pid: int) -> WorkerRecord | None:
        """The record of worker ``pid``, or ``None``."""
        with self._session() as db:
            return sqlite_workers.read_one(db, pid)

    def owner_alive(self, pid: int) -> bool:
        """True while worker ``pid`` has not exited; marks it exited when found gone."""
        with self._session() as db:
            alive = sqlite_workers.alive(db, pid)
        if not alive:
            with self._session(write=True) as db:
                sqlite_workers.mark_exited(db, [pid], self._clock())
        return alive

    def hand_over(self, request: HandOver) -> None:
        """Leave ``request`` for its owner."""
        with self._session(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO requests (profile_id, action, owner, requested) "
                "VALUES (?, ?, ?, ?)",
                (request.profile_id, request.action, request.owner, self._clock()),
            )

    def requests_for(self, owner: int) -> builtins.list[HandOver]:
        """The requests left for ``owner``, oldest first."""
        with self._session() as db:
            rows = db.execute(
                "SELECT action, profile_id FROM requests WHERE owner = ? ORDER BY requested",
                (owner,),
            ).fetchall()
        return [HandOver(action, profile_id, owner) for action, profile_id in rows]

    def drop_request(self, profile_id: str) -> None:
        """Forget the request about ``profile_id``."""
        with self._session(write=True) as db:
            db.execute("DELETE FROM requests WHERE profile_id = ?", (profile_id,))


def _decode(body: bytes) -> Profile:
    try:
        return loads(body, Profile)
    except Exception as exc:
        # Only memwatch writes these rows: one that does not read back is damage.
        raise StoreUnavailableError("profile unreadable") from exc


# -- fork safety ---------------------------------------------------------------------

_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()

# Connections a forked child inherited, kept so that they are never closed there (even when
# their store is dropped): closing one could end the parent's view of the WAL. One per fork.
_inherited: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    # Runs in the forking thread before any other thread exists in the child, so no
    # lock a parent thread held at fork time can be met (the lazy check covers forks
    # made without os.fork, which skip this hook).
    for store in list(_stores):
        store._forget_parent_connection()  # noqa: SLF001 - the module owns its stores' fork handling


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_in(conn: sqlite3.Connection, pid: int) -> None:
    """Close ``conn`` if this is the process that opened it (a forked child keeps it open)."""
    if os.getpid() == pid:
        conn.close()
