"""The ``workers`` table of the host store: who is alive, who exited, and what each last said.

Functions over a connection the caller holds (inside its transaction), so that
:class:`memwatch.store.sqlite.SQLiteStore` stays one class of one job.

A worker is alive while its pid names a running, non-zombie process that
started when the row says (``/proc/<pid>/stat``'s start time, so a reused pid
does not pass for it). A worker found gone is marked exited, and its running
profiles fail with ``"worker exited"``: their baseline census lived in its
memory and cannot be diffed any more. Exited rows are pruned by count and age,
so churn (``--max-requests``, deploys, OOM kills) never grows the table.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import attrs

from memwatch.converter import dumps, loads
from memwatch.models import Profile
from memwatch.store.figures import FIGURE_NAMES, WorkerFigures, figures_from_status, make_figures
from memwatch.store.processes import exists, is_alive, process_identity
from memwatch.store.protocol import WORKER_EXITED, WorkerRecord

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Mapping

__all__ = [
    "alive",
    "find_gone",
    "live_figures",
    "mark_exited",
    "prune",
    "read_all",
    "read_one",
    "record",
]


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


_FIGURES = ", ".join(FIGURE_NAMES)
_SET_FIGURES = ", ".join(f"{name} = ?" for name in FIGURE_NAMES)
_FIGURE_MARKS = ", ".join("?" for _ in FIGURE_NAMES)


def record(db: sqlite3.Connection, pid: int, status: Mapping[str, Any], now: float) -> None:
    """Write worker ``pid``'s status and its figures; a new process under a known pid starts anew.

    A row whose start time differs from the process now holding the pid belonged
    to a process that is gone: its running profiles fail first.
    """
    body = json.dumps(status, separators=(",", ":")).encode()
    figures = figures_from_status(status)
    ticks = process_identity(pid).start_ticks
    row = db.execute("SELECT start_ticks FROM workers WHERE pid = ?", (pid,)).fetchone()
    if row is not None and row[0] == ticks:
        db.execute(
            f"UPDATE workers SET last_seen = ?, status = ?, exited = 0, {_SET_FIGURES} "  # noqa: S608 - constant names
            "WHERE pid = ?",
            (now, body, *figures, pid),
        )
        return
    if row is not None and row[0] and ticks:
        _fail_running(db, [pid], now)
    db.execute(
        "INSERT OR REPLACE INTO workers "  # noqa: S608 - constant names
        f"(pid, start_ticks, started, last_seen, exited, status, {_FIGURES}) "
        f"VALUES (?, ?, ?, ?, 0, ?, {_FIGURE_MARKS})",
        (pid, ticks, now, now, body, *figures),
    )


def find_gone(db: sqlite3.Connection) -> list[int]:
    """Pids of workers not marked exited, and of running profiles' owners, that are gone."""
    rows = db.execute("SELECT pid, start_ticks FROM workers WHERE exited = 0").fetchall()
    gone = [pid for pid, ticks in rows if not is_alive(pid, ticks)]
    orphans = db.execute(
        "SELECT DISTINCT pid FROM profiles WHERE state = 'running' "
        "AND pid NOT IN (SELECT pid FROM workers WHERE exited = 0)"
    ).fetchall()
    gone.extend(pid for (pid,) in orphans if not is_alive(pid))
    return gone


def mark_exited(db: sqlite3.Connection, pids: Iterable[int], now: float) -> None:
    """Mark the workers exited and fail their running profiles."""
    pids = list(pids)
    db.executemany("UPDATE workers SET exited = 1 WHERE pid = ?", [(pid,) for pid in pids])
    db.executemany("DELETE FROM requests WHERE owner = ?", [(pid,) for pid in pids])
    _fail_running(db, pids, now)


def _fail_running(db: sqlite3.Connection, pids: list[int], now: float) -> None:
    ended = _utc(now)
    for pid in pids:
        rows = db.execute(
            "SELECT id, body FROM profiles WHERE pid = ? AND state = 'running'", (pid,)
        ).fetchall()
        for profile_id, body in rows:
            try:
                running = loads(body, Profile)
            except Exception:  # noqa: BLE001 - an unreadable row cannot be failed, only dropped
                db.execute("DELETE FROM profiles WHERE id = ?", (profile_id,))
                continue
            failed = attrs.evolve(running, state="failed", ended=ended, error=WORKER_EXITED)
            encoded = dumps(failed)
            db.execute(
                "UPDATE profiles SET state = 'failed', ended = ?, size = ?, stored = ?, body = ? "
                "WHERE id = ?",
                (round(now * 1_000_000), len(encoded), now, encoded, profile_id),
            )
            db.execute("DELETE FROM requests WHERE profile_id = ?", (profile_id,))


def prune(db: sqlite3.Connection, now: float, keep: int, max_age: float) -> None:
    """Mark gone workers exited, then drop exited rows beyond ``keep`` or older than ``max_age``."""
    gone = find_gone(db)
    if gone:
        mark_exited(db, gone, now)
    db.execute("DELETE FROM workers WHERE exited = 1 AND last_seen < ?", (now - max_age,))
    db.execute(
        "DELETE FROM workers WHERE pid IN (SELECT pid FROM workers WHERE exited = 1 "
        "ORDER BY last_seen DESC LIMIT -1 OFFSET ?)",
        (keep,),
    )


def _record(row: tuple[int, float, float, int, bytes]) -> WorkerRecord:
    pid, started, last_seen, exited, status = row
    return WorkerRecord(pid, _utc(started), _utc(last_seen), bool(exited), json.loads(status))


_SELECT = "SELECT pid, started, last_seen, exited, status FROM workers"


def read_all(db: sqlite3.Connection) -> list[WorkerRecord]:
    """Every worker row, by pid."""
    return [_record(row) for row in db.execute(f"{_SELECT} ORDER BY pid")]


def read_one(db: sqlite3.Connection, pid: int) -> WorkerRecord | None:
    """Worker ``pid``'s row, or ``None``."""
    row = db.execute(f"{_SELECT} WHERE pid = ?", (pid,)).fetchone()
    return None if row is None else _record(row)


def alive(db: sqlite3.Connection, pid: int) -> bool:
    """True while worker ``pid`` has not exited and its process still runs."""
    row = db.execute("SELECT start_ticks, exited FROM workers WHERE pid = ?", (pid,)).fetchone()
    if row is None:
        return is_alive(pid)
    ticks, exited = row
    return not exited and is_alive(pid, ticks)


def live_figures(db: sqlite3.Connection) -> tuple[list[WorkerFigures], list[int]]:
    """The figures of every live worker, from the columns alone; and the pids found gone.

    Liveness here is :func:`~memwatch.store.processes.exists` (a scrape runs this
    for every worker): a reused pid or a zombie is caught by the next status write.
    """
    rows = db.execute(
        f"SELECT pid, start_ticks, started, last_seen, {_FIGURES} FROM workers "  # noqa: S608 - constant
        "WHERE exited = 0 ORDER BY pid"
    ).fetchall()
    counts: dict[int, dict[str, int]] = {}
    for pid, state, count in db.execute(
        "SELECT pid, state, COUNT(*) FROM profiles GROUP BY pid, state"
    ):
        counts.setdefault(pid, {})[state] = count
    live, gone = [], []
    for pid, _ticks, started, last_seen, *figures in rows:
        if exists(pid):
            live.append(make_figures(pid, started, last_seen, figures, counts.get(pid)))
        else:
            gone.append(pid)
    return live, gone
