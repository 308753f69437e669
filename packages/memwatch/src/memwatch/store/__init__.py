"""Where profiles and the workers of a host live.

- :mod:`memwatch.store.protocol`: the interfaces (``ProfileStore``,
  ``WorkerStore``) and profile ids;
- :mod:`memwatch.store.memory`: one process's store, in memory (the default
  for a service that runs as one process);
- :mod:`memwatch.store.sqlite`: one SQLite file shared by every worker of a
  host, bounded on disk;
- :mod:`memwatch.store.fallback`: the SQLite store falling back to memory when
  its database cannot answer;
- :mod:`memwatch.store.location`: which of them a service gets, and where.
"""

from __future__ import annotations

from memwatch.models import ProfileSummary
from memwatch.store.memory import MemoryProfileStore, MemoryStore, MemoryWorkerStore
from memwatch.store.protocol import (
    WORKER_EXITED,
    HandOver,
    ProfileStore,
    Store,
    StoreUnavailableError,
    WorkerRecord,
    WorkerStore,
    new_profile_id,
)

__all__ = [
    "WORKER_EXITED",
    "HandOver",
    "MemoryProfileStore",
    "MemoryStore",
    "MemoryWorkerStore",
    "ProfileStore",
    "ProfileSummary",
    "Store",
    "StoreUnavailableError",
    "WorkerRecord",
    "WorkerStore",
    "new_profile_id",
]
