"""Where captured profiles live: an interface and a bounded in-memory default."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from memwatch.models import Profile

__all__ = ["MemoryProfileStore", "ProfileStore", "new_profile_id"]

_RESERVED_IDS = frozenset({"status"})


def new_profile_id() -> str:
    """A fresh profile id: 8 URL-safe characters (48 random bits), never a reserved word."""
    while True:
        candidate = secrets.token_urlsafe(6)
        if candidate not in _RESERVED_IDS and not candidate.startswith("-"):
            return candidate


@runtime_checkable
class ProfileStore(Protocol):
    """What the watcher needs from a profile store.

    Implementations must be thread-safe: requests and the watcher's background
    thread use the store concurrently. They must bound their own size.
    """

    def put(self, profile: Profile) -> None:
        """Insert ``profile``, or replace the stored one with the same id."""

    def get(self, profile_id: str) -> Profile | None:
        """The stored profile with that id, or ``None``."""

    def delete(self, profile_id: str) -> bool:
        """Remove the profile with that id; ``False`` if there was none."""

    def list(self) -> list[Profile]:
        """Every stored profile, oldest first."""

    def clear(self) -> None:
        """Remove every profile (a forked child starts with none)."""


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
