"""Exceptions memwatch raises to its callers; the HTTP layer maps each to a problem+json status."""

from __future__ import annotations

__all__ = [
    "CensusBusyError",
    "MemwatchError",
    "ProfileConflictError",
    "ProfileNotFoundError",
]


class MemwatchError(Exception):
    """Base class of memwatch's own errors."""


class ProfileNotFoundError(MemwatchError, LookupError):
    """No stored profile has that id (HTTP 404)."""

    def __init__(self, profile_id: str) -> None:
        """Name the id that was not found."""
        super().__init__(f"no memory profile with id {profile_id!r}")
        self.profile_id = profile_id


class ProfileConflictError(MemwatchError):
    """The request conflicts with a profile's state (HTTP 409).

    Raised when a manual profile is already running, or when ending a profile
    that is not running.
    """

    def __init__(self, message: str, profile_id: str) -> None:
        """Say what conflicts and with which profile."""
        super().__init__(message)
        self.profile_id = profile_id


class CensusBusyError(MemwatchError):
    """A census is already running in this process (HTTP 429).

    Censuses are single-flight: a second one would double the pause and the
    memory for no new information.
    """

    def __init__(self, retry_after: float) -> None:
        """Say how long to wait before trying again, in seconds."""
        super().__init__(f"a heap census is already running; retry in {retry_after:g} s")
        self.retry_after = retry_after
