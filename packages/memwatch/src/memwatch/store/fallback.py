"""A host store that falls back to memory when its database cannot answer.

Chosen over making the watcher catch store errors: the watcher and the HTTP
layer then call one store that always answers, and the one place that knows
how a store fails is here. The fallback is for the rest of the process's
life: a database that was locked past its busy timeout or found corrupt once
is not trusted again, and a worker that flips back and forth would show
profiles appearing and vanishing. ``fallback_reason`` says why, in memwatch's
fixed words, for the status to show; the ``memwatch`` logger says it once.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from memwatch.store.memory import MemoryStore
from memwatch.store.protocol import StoreUnavailableError

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Mapping

    from memwatch.models import Profile, ProfileSummary
    from memwatch.store.figures import WorkerFigures
    from memwatch.store.protocol import HandOver, Store, WorkerRecord

__all__ = ["FallbackStore"]

logger = logging.getLogger("memwatch")

T = TypeVar("T")


class FallbackStore:
    """Serve from ``primary`` until it cannot answer (``StoreUnavailableError``), then from memory.

    Args:
        primary: The store to use while it answers (usually a
            :class:`~memwatch.store.sqlite.SQLiteStore`).
        max_profiles: The bound of the in-memory store it falls back to.
    """

    def __init__(self, primary: Store, *, max_profiles: int = 20) -> None:
        """Wrap ``primary``; nothing is opened until first use."""
        self.primary = primary
        self._max_profiles = max_profiles
        self._fallback: MemoryStore | None = None
        self._lock = threading.Lock()
        self.fallback_reason = ""

    @property
    def active(self) -> Store:
        """The primary store while it answers; the memory store after a fallback."""
        return self.primary if self._fallback is None else self._fallback

    @property
    def shared(self) -> bool:
        """True while other processes see what this one stores."""
        return self._fallback is None and self.primary.shared

    def _call(self, operation: Callable[[Store], T]) -> T:
        if self._fallback is None:
            try:
                return operation(self.primary)
            except StoreUnavailableError as exc:
                self._fall_back(exc.reason)
        assert self._fallback is not None  # noqa: S101 - set by _fall_back
        return operation(self._fallback)

    def _fall_back(self, reason: str) -> None:
        with self._lock:
            if self._fallback is not None:
                return
            self.fallback_reason = reason
            self._fallback = MemoryStore(self._max_profiles)
        logger.warning("memwatch: the profile store fell back to memory: %s", reason)

    def put(self, profile: Profile) -> None:
        """Insert or replace ``profile``."""
        self._call(lambda store: store.put(profile))

    def get(self, profile_id: str) -> Profile | None:
        """The stored profile with that id, or ``None``."""
        return self._call(lambda store: store.get(profile_id))

    def delete(self, profile_id: str) -> bool:
        """Remove the profile with that id; ``False`` if there was none."""
        return self._call(lambda store: store.delete(profile_id))

    def list(self) -> builtins.list[Profile]:
        """Every stored profile, oldest first."""
        return self._call(lambda store: store.list())

    def clear(self) -> None:
        """Remove every profile."""
        self._call(lambda store: store.clear())

    def summaries(self) -> builtins.list[ProfileSummary]:
        """Every stored profile's listing line, oldest first."""
        return self._call(lambda store: store.summaries())

    def profile_counts(self) -> dict[tuple[int, str], int]:
        """How many profiles each worker has in each state."""
        return self._call(lambda store: store.profile_counts())

    def record_worker(self, pid: int, status: Mapping[str, Any]) -> None:
        """Store worker ``pid``'s latest status."""
        self._call(lambda store: store.record_worker(pid, status))

    def worker_exited(self, pid: int) -> None:
        """Mark worker ``pid`` exited."""
        self._call(lambda store: store.worker_exited(pid))

    def workers(self) -> builtins.list[WorkerRecord]:
        """Every worker the store knows."""
        return self._call(lambda store: store.workers())

    def live_figures(self) -> builtins.list[WorkerFigures]:
        """The metrics figures of every live worker."""
        return self._call(lambda store: store.live_figures())

    def worker(self, pid: int) -> WorkerRecord | None:
        """The record of worker ``pid``, or ``None``."""
        return self._call(lambda store: store.worker(pid))

    def hand_over(self, request: HandOver) -> None:
        """Leave ``request`` for its owner."""
        self._call(lambda store: store.hand_over(request))

    def requests_for(self, owner: int) -> builtins.list[HandOver]:
        """The requests left for ``owner``."""
        return self._call(lambda store: store.requests_for(owner))

    def drop_request(self, profile_id: str) -> None:
        """Forget the request about ``profile_id``."""
        self._call(lambda store: store.drop_request(profile_id))

    def owner_alive(self, pid: int) -> bool:
        """True while worker ``pid`` can act on a request."""
        return self._call(lambda store: store.owner_alive(pid))
