"""The in-memory stores: one process's profiles, and that process as its only worker.

The default when a service runs as one process: nothing touches the disk, and
the bound is small because nobody else reads these profiles.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING, Any

import attrs

from memwatch.models import ProfileSummary
from memwatch.store.figures import WorkerFigures, figures_from_status, make_figures
from memwatch.store.processes import is_alive, process_identity
from memwatch.store.protocol import WORKER_EXITED, HandOver, WorkerRecord

if TYPE_CHECKING:
    from collections.abc import Mapping

    from memwatch.models import Profile
    from memwatch.store.protocol import ProfileStore

__all__ = ["MemoryProfileStore", "MemoryStore", "MemoryWorkerStore"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class MemoryProfileStore:
    """A bounded, thread-safe in-memory store.

    When a new profile would exceed ``max_profiles``, the oldest finished
    (complete or failed) profiles are evicted; a running profile is never
    evicted, so the store may briefly hold more than ``max_profiles`` when
    every stored profile is running.
    """

    def __init__(self, max_profiles: int = 20) -> None:
        """Keep at most ``max_profiles`` finished profiles.

        Raises:
            ValueError: if ``max_profiles`` is less than 1.
        """
        if max_profiles < 1:
            msg = f"max_profiles must be at least 1, got {max_profiles}"
            raise ValueError(msg)
        self.max_profiles = max_profiles
        self._profiles: OrderedDict[str, Profile] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, profile: Profile) -> None:
        """Insert or replace ``profile``, evicting the oldest finished ones beyond the bound."""
        with self._lock:
            self._profiles[profile.id] = profile
            excess = len(self._profiles) - self.max_profiles
            if excess <= 0:
                return
            evictable = [
                pid
                for pid, stored in self._profiles.items()
                if stored.state != "running" and pid != profile.id
            ]
            for pid in evictable[:excess]:
                del self._profiles[pid]

    def get(self, profile_id: str) -> Profile | None:
        """The stored profile with that id, or ``None``."""
        with self._lock:
            return self._profiles.get(profile_id)

    def delete(self, profile_id: str) -> bool:
        """Remove the profile with that id; ``False`` if there was none."""
        with self._lock:
            return self._profiles.pop(profile_id, None) is not None

    def list(self) -> list[Profile]:
        """Every stored profile, oldest first."""
        with self._lock:
            return list(self._profiles.values())

    def clear(self) -> None:
        """Remove every profile."""
        with self._lock:
            self._profiles.clear()

    def __len__(self) -> int:
        """How many profiles are stored."""
        with self._lock:
            return len(self._profiles)


class MemoryWorkerStore:
    """The workers of one process's store: that process, and any it heard of in-process.

    Its listing and counts read the profile store it is given. ``shared`` is
    False: no other process reads it, so no request ever waits here.
    """

    shared = False

    def __init__(self, profiles: ProfileStore) -> None:
        """Serve the workers of ``profiles``."""
        self._profile_store = profiles
        self._workers_lock = threading.Lock()
        self._workers: dict[int, WorkerRecord] = {}
        self._starts: dict[int, int] = {}
        self._figures: dict[int, tuple[float | None, ...]] = {}
        self._requests: OrderedDict[str, HandOver] = OrderedDict()

    def summaries(self) -> list[ProfileSummary]:
        """Every stored profile's listing line, oldest first."""
        return [
            ProfileSummary(p.id, p.pid, p.state, p.trigger, p.started, p.ended)
            for p in self._profile_store.list()
        ]

    def profile_counts(self) -> dict[tuple[int, str], int]:
        """How many profiles each worker has in each state."""
        return dict(Counter((p.pid, p.state) for p in self._profile_store.list()))

    def record_worker(self, pid: int, status: Mapping[str, Any]) -> None:
        """Keep ``status`` as worker ``pid``'s latest."""
        now = _utcnow()
        with self._workers_lock:
            known = self._workers.get(pid)
            started = now if known is None or known.exited else known.started
            if known is None or known.exited:
                self._starts[pid] = process_identity(pid).start_ticks
            self._workers[pid] = WorkerRecord(pid, started, now, exited=False, status=dict(status))
            self._figures[pid] = figures_from_status(status)

    def worker_exited(self, pid: int) -> None:
        """Mark worker ``pid`` exited and fail its running profiles."""
        with self._workers_lock:
            known = self._workers.get(pid)
            if known is not None:
                self._workers[pid] = attrs.evolve(known, exited=True)
        for profile in self._profile_store.list():
            if profile.pid == pid and profile.state == "running":
                self._profile_store.put(
                    attrs.evolve(profile, state="failed", ended=_utcnow(), error=WORKER_EXITED)
                )

    def workers(self) -> list[WorkerRecord]:
        """Every worker heard of, by pid; those found gone are marked exited first."""
        with self._workers_lock:
            gone = [
                pid
                for pid, record in self._workers.items()
                if not record.exited and not is_alive(pid, self._starts.get(pid, 0))
            ]
        for pid in gone:
            self.worker_exited(pid)
        with self._workers_lock:
            return [self._workers[pid] for pid in sorted(self._workers)]

    def live_figures(self) -> list[WorkerFigures]:
        """The metrics figures of every live worker, by pid."""
        counts: dict[int, dict[str, int]] = {}
        for (pid, state), count in self.profile_counts().items():
            counts.setdefault(pid, {})[state] = count
        live = []
        for record in self.workers():
            if not record.exited:
                with self._workers_lock:
                    figures = self._figures.get(record.pid, ())
                live.append(
                    make_figures(
                        record.pid,
                        record.started.timestamp(),
                        record.last_seen.timestamp(),
                        figures,
                        counts.get(record.pid),
                    )
                )
        return live

    def worker(self, pid: int) -> WorkerRecord | None:
        """The record of worker ``pid``, or ``None``."""
        with self._workers_lock:
            return self._workers.get(pid)

    def hand_over(self, request: HandOver) -> None:
        """Keep ``request`` for its owner."""
        with self._workers_lock:
            self._requests[request.profile_id] = request

    def requests_for(self, owner: int) -> list[HandOver]:
        """The requests left for ``owner``, oldest first."""
        with self._workers_lock:
            return [r for r in self._requests.values() if r.owner == owner]

    def drop_request(self, profile_id: str) -> None:
        """Forget the request about ``profile_id``."""
        with self._workers_lock:
            self._requests.pop(profile_id, None)

    def owner_alive(self, pid: int) -> bool:
        """True while worker ``pid`` is alive and has not said goodbye."""
        with self._workers_lock:
            known = self._workers.get(pid)
            start = self._starts.get(pid, 0)
        if known is not None and known.exited:
            return False
        return is_alive(pid, start)


class MemoryStore(MemoryProfileStore, MemoryWorkerStore):
    """One process's profiles and workers, in memory: the store of a single-process service."""

    def __init__(self, max_profiles: int = 20) -> None:
        """Keep at most ``max_profiles`` finished profiles."""
        MemoryProfileStore.__init__(self, max_profiles)
        MemoryWorkerStore.__init__(self, self)
