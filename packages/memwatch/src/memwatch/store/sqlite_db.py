"""Opening a host store's SQLite file: permissions, pragmas, the schema version, error wording.

Decisions, with their reasons:

- **WAL** journal, ``synchronous=NORMAL``: readers never wait for the one writer,
  and a committed transaction survives the process being killed (SIGKILL, the
  OOM killer); only a power cut may lose the last transactions, which a
  diagnostics store can afford. ``journal_size_limit`` keeps the WAL file from
  staying at its largest size after a checkpoint.
- **A busy timeout** (2 s by default): another worker's write holds the lock
  for well under a millisecond; a lock held longer than the timeout means
  something is wrong, and the caller hears "database locked" instead of waiting.
- **A schema version table** (``meta``): a file written by a newer memwatch is
  refused, not misread; an older one is migrated step by step when a step is
  known, and refused with the versions named when none is.
- **The file is private**: created 0600 inside a 0700 directory, since profiles
  name the service's types and source lines.
"""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING

from memwatch.store.protocol import StoreUnavailableError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SCHEMA_VERSION", "StoreVersionError", "describe_error", "open_database"]

SCHEMA_VERSION = 1
"""The layout this memwatch reads and writes."""

_TABLES = (
    """CREATE TABLE IF NOT EXISTS profiles (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        pid INTEGER NOT NULL,
        state TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started INTEGER,
        ended INTEGER,
        size INTEGER NOT NULL,
        stored REAL NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS profiles_by_pid_state ON profiles (pid, state)",
    "CREATE INDEX IF NOT EXISTS profiles_by_state ON profiles (state, seq)",
    # Covers the listing (GET /ah/memory): with kilobytes of JSON per row, reading the
    # table itself visits a page per profile; the index holds 500 lines in a few pages.
    (
        "CREATE INDEX IF NOT EXISTS profiles_listing "
        "ON profiles (seq, id, pid, state, trigger, started, ended)"
    ),
    """CREATE TABLE IF NOT EXISTS workers (
        pid INTEGER PRIMARY KEY,
        start_ticks INTEGER NOT NULL,
        started REAL NOT NULL,
        last_seen REAL NOT NULL,
        exited INTEGER NOT NULL DEFAULT 0,
        status BLOB NOT NULL,
        heap_bytes INTEGER,
        baseline_bytes INTEGER,
        usage_trend_ratio REAL,
        leak_events INTEGER,
        leak_rate_bytes_per_second REAL,
        errors INTEGER,
        memory_limit_bytes INTEGER,
        memory_headroom_bytes INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS workers_by_exited ON workers (exited, last_seen)",
    """CREATE TABLE IF NOT EXISTS requests (
        profile_id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        owner INTEGER NOT NULL,
        requested REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS requests_by_owner ON requests (owner, requested)",
)

# Steps from version N to N + 1, applied in one transaction each. None yet: version 1 is
# the first layout. A version with no step from it is refused with both versions named.
_MIGRATIONS: dict[int, tuple[str, ...]] = {}

_WAL_LIMIT_BYTES = 4 * 1024 * 1024


class StoreVersionError(StoreUnavailableError):
    """The file's schema is one this memwatch cannot read: newer, or older with no migration."""


def describe_error(exc: BaseException) -> str:
    """The fixed wording for a database error, never the error's own text."""
    text = str(exc).lower()
    if isinstance(exc, StoreUnavailableError):
        return exc.reason
    if "locked" in text or "busy" in text:
        return "database locked"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return "database corrupt"
    if "full" in text:
        return "disk full"
    if "readonly" in text or "unable to open" in text or "i/o" in text or "permission" in text:
        return "database unreadable"
    return f"database error ({type(exc).__name__})"


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # SQLite would create the file with the umask's mode (often 0644); its -wal and
    # -shm files copy the database file's mode, so creating it 0600 covers all three.
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def open_database(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open (creating if needed) the store at ``path`` and bring its schema to this version.

    Raises:
        StoreVersionError: the schema is newer than this memwatch, or older with no migration.
        StoreUnavailableError: the file cannot be created, opened, or read as a database.
    """
    try:
        _create_private_file(path)
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise StoreUnavailableError(describe_error(exc)) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
        _ensure_schema(conn)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise StoreUnavailableError(describe_error(exc)) from exc
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            _refuse_foreign(conn)
            version = SCHEMA_VERSION
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),)
            )
        else:
            version = _migrate(conn, int(row[0]))
        for statement in _TABLES:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _refuse_foreign(conn: sqlite3.Connection) -> None:
    """A database with tables but no version of ours is someone else's file: leave it alone."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if names - {"meta", "sqlite_sequence"}:
        raise StoreVersionError("not a memwatch store (tables without a schema version)")


def _migrate(conn: sqlite3.Connection, version: int) -> int:
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"store schema {version} is newer than this memwatch reads ({SCHEMA_VERSION}); "
            "upgrade memwatch or use another MEMWATCH_DIR"
        )
    while version < SCHEMA_VERSION:
        steps = _MIGRATIONS.get(version)
        if steps is None:
            raise StoreVersionError(
                f"store schema {version} is older than any this memwatch migrates "
                f"(it reads {SCHEMA_VERSION}); move the file away to start afresh"
            )
        for statement in steps:
            conn.execute(statement)
        version += 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    return version
