"""What the watcher needs from a store: the profiles, and the workers of a host.

Two interfaces, because a third-party profile store need not know about workers:

- :class:`ProfileStore` keeps profiles (the seed's five operations plus a cheap
  listing and the counts metrics need);
- :class:`WorkerStore` keeps one row per worker process (its last status, when it
  was last seen, whether it exited) and the requests one worker hands to
  another: end the profile you own, or start one in your heap.

The in-memory stores (:mod:`memwatch.store.memory`) implement them for one
process; the SQLite store (:mod:`memwatch.store.sqlite`) implements both for
every process of a host at once.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from memwatch.models import Profile, ProfileSummary
    from memwatch.store.figures import WorkerFigures

__all__ = [
    "WORKER_EXITED",
    "HandOver",
    "ProfileStore",
    "Store",
    "StoreUnavailableError",
    "WorkerRecord",
    "WorkerStore",
    "new_profile_id",
]

_RESERVED_IDS = frozenset({"status"})

WORKER_EXITED = "worker exited"
"""The error of a profile whose worker exited while it was running."""


def new_profile_id() -> str:
    """A fresh profile id: 8 URL-safe characters (48 random bits), never a reserved word."""
    while True:
        candidate = secrets.token_urlsafe(6)
        if candidate not in _RESERVED_IDS and not candidate.startswith("-"):
            return candidate


class StoreUnavailableError(Exception):
    """The store cannot answer now: its database is locked, corrupt, unreadable or too new.

    The message is memwatch's own fixed wording (``"database locked"``,
    ``"database corrupt"``, ...), never the text of the underlying error, so it may
    be shown in a status. :class:`memwatch.store.fallback.FallbackStore` turns it
    into "fell back to memory".

    Attributes:
        reason: The fixed wording, also the exception's message.
    """

    def __init__(self, reason: str) -> None:
        """Say, in memwatch's own words, why the store cannot answer."""
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class WorkerRecord:
    """One worker process of the host as the store last heard of it.

    Attributes:
        pid: The worker's process id.
        started: When the worker first wrote to the store.
        last_seen: When it last wrote its status.
        exited: True once it said goodbye, or another worker found it gone.
        status: Its last status, as the JSON object ``GET .../status`` answered
            (``{}`` before its first write).
    """

    pid: int
    started: dt.datetime
    last_seen: dt.datetime
    exited: bool
    status: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class HandOver:
    """A request one worker leaves in the store for the worker that must act on it.

    Attributes:
        action: ``"end"``: end the running profile ``profile_id`` you own;
            ``"start"``: start a profile with the id ``profile_id`` in your heap.
        profile_id: The profile the request is about (for ``"start"``, the id
            the asking worker chose, so it can wait for that profile to appear).
        owner: The pid of the worker that must act.
    """

    action: Literal["start", "end"]
    profile_id: str
    owner: int


@runtime_checkable
class ProfileStore(Protocol):
    """Where profiles are kept.

    Implementations must be thread-safe (requests and the watcher's thread use
    the store at once) and bound their own size; a running profile is never
    evicted.
    """

    def put(self, profile: Profile) -> None:
        """Insert ``profile``, or replace the stored one with the same id in its place."""

    def get(self, profile_id: str) -> Profile | None:
        """The stored profile with that id, or ``None``."""

    def delete(self, profile_id: str) -> bool:
        """Remove the profile with that id; ``False`` if there was none."""

    def list(self) -> list[Profile]:
        """Every stored profile, oldest first."""

    def clear(self) -> None:
        """Remove every profile."""


@runtime_checkable
class WorkerStore(Protocol):
    """The workers of a host, their last status, and the requests handed between them.

    A worker is named by its pid. ``shared`` is True when other processes read
    and write the same store (then every worker answers for every worker).
    """

    @property
    def shared(self) -> bool:
        """True when other processes read and write the same store."""

    def summaries(self) -> list[ProfileSummary]:
        """Every stored profile's listing line, oldest first, without reading the bodies."""

    def profile_counts(self) -> dict[tuple[int, str], int]:
        """How many profiles each worker has in each state: ``{(pid, state): count}``."""

    def record_worker(self, pid: int, status: Mapping[str, Any]) -> None:
        """Store ``status`` as worker ``pid``'s latest, and note that it is alive now."""

    def worker_exited(self, pid: int) -> None:
        """Mark worker ``pid`` exited; its running profiles fail with ``"worker exited"``."""

    def workers(self) -> list[WorkerRecord]:
        """Every worker the store knows, by pid; workers found gone are marked exited first."""

    def worker(self, pid: int) -> WorkerRecord | None:
        """The record of worker ``pid``, or ``None``."""

    def live_figures(self) -> list[WorkerFigures]:
        """The metrics figures of every live worker, by pid (cheap: read at every scrape)."""

    def hand_over(self, request: HandOver) -> None:
        """Leave ``request`` for its owner, which polls for requests about once a second."""

    def requests_for(self, owner: int) -> list[HandOver]:
        """The requests other workers left for ``owner``, oldest first."""

    def drop_request(self, profile_id: str) -> None:
        """Forget the request about ``profile_id`` (it was handled)."""

    def owner_alive(self, pid: int) -> bool:
        """True while worker ``pid`` can still act on a request."""


@runtime_checkable
class Store(ProfileStore, WorkerStore, Protocol):
    """A store of both: what :func:`memwatch.store.location.choose_store` returns."""
