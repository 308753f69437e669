"""memwatch's errors: the exceptions it raises, and how it reports the ones it catches.

The exceptions it raises to its callers are mapped by the HTTP layer to a
problem+json status each. Errors it catches and goes on from (a failing probe,
census, store or listener) are described by :func:`describe_error`, the one
format for every such error: memwatch's own words and the exception's type,
never the exception's message, which goes to the ``memwatch`` logger only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CensusBusyError",
    "ErrorLog",
    "MemwatchError",
    "ProfileConflictError",
    "ProfileNotFoundError",
    "WorkerNotFoundError",
    "WorkerTimeoutError",
    "describe_error",
    "type_name",
]

logger = logging.getLogger("memwatch")


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
    """A census or a forced full collection is already running in this process (HTTP 429).

    Both are single-flight, together: a second one would double the pause (and
    a census's memory) for no new information.
    """

    def __init__(self, retry_after: float) -> None:
        """Say how long to wait before trying again, in seconds."""
        super().__init__(
            f"a heap census or forced collection is already running; retry in {retry_after:g} s"
        )
        self.retry_after = retry_after


class WorkerNotFoundError(MemwatchError, LookupError):
    """No live worker of this host has that pid (HTTP 404)."""

    def __init__(self, pid: int) -> None:
        """Name the pid that was not found."""
        super().__init__(f"no live memwatch worker with pid {pid} on this host")
        self.pid = pid


class WorkerTimeoutError(MemwatchError):
    """The worker a request was handed to did not act on it in time (HTTP 503).

    It may still: the request stays in the store until the worker takes it or
    it expires, so asking again later finds the result.
    """

    def __init__(self, pid: int, waited: float) -> None:
        """Name the worker and how long the request waited."""
        super().__init__(f"worker {pid} did not act on the request within {waited:g} s")
        self.pid = pid
        self.retry_after = max(1.0, round(waited / 2, 1))


# -- errors memwatch catches and goes on from ------------------------------------

#: Longest description kept for the status.
_MAX_DESCRIPTION = 200


def type_name(exc: BaseException) -> str:
    """The exception's type as a diff names types: ``module.QualName`` outside builtins."""
    cls = type(exc)
    qualname = getattr(cls, "__qualname__", None)
    name = qualname if isinstance(qualname, str) else "<unnamed>"
    module = getattr(cls, "__module__", None)
    if isinstance(module, str) and module != "builtins":
        return f"{module}.{name}"
    return name


def describe_error(exc: BaseException, context: str) -> str:
    """What memwatch shows of an error it caught: where (its own words) and the exception's type.

    The exception's message and traceback never go into the description: they
    may hold an application's secrets (a webhook URL, a DSN) and the status is
    readable by anyone allowed to read it (``read_only(...)`` included). They go
    to the ``memwatch`` logger instead (:class:`ErrorLog`).

    Args:
        exc: The exception caught.
        context: memwatch's own fixed words for where it happened (``"census"``,
            ``"leak listener page_on_call"``).

    Returns:
        ``"<context>: <Type>"``, at most 200 characters, always encodable as UTF-8.
    """
    # A lone surrogate in a type's name must not make the status unserializable.
    text = f"{context}: {type_name(exc)}".encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > _MAX_DESCRIPTION:
        text = text[: _MAX_DESCRIPTION - 3] + "..."
    return text


class ErrorLog:
    """Errors memwatch caught and went on from: counted, the latest described, the details logged.

    The count and the description are for the status; the exception's message
    and traceback go to the ``memwatch`` logger, the first at once and then at
    most one every ``log_every`` seconds, so an error repeated on every
    collection never floods the log.

    Args:
        log_every: Seconds between two logged tracebacks.
        clock: Monotonic seconds; tests inject their own.
    """

    def __init__(
        self, *, log_every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Start with no errors."""
        self.log_every = log_every
        self._clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._last = ""
        self._logged_at = -math.inf

    @property
    def count(self) -> int:
        """Errors noted so far."""
        return self._count

    @property
    def last(self) -> str:
        """The latest of them, as :func:`describe_error` gives it; ``""`` before any."""
        return self._last

    def note(self, exc: BaseException, context: str) -> str:
        """Count ``exc``, keep its description, log its details if due; return the description."""
        text = describe_error(exc, context)
        with self._lock:
            self._count += 1
            self._last = text
            count = self._count
        self.log(exc, text, count=count)
        return text

    def log(self, exc: BaseException, description: str, *, count: int) -> None:
        """Log ``exc`` with its traceback if none was logged for ``log_every`` seconds.

        For errors counted elsewhere too (the collector counts its own, inside
        gc callbacks, where nothing may log).
        """
        now = self._clock()
        with self._lock:
            if now - self._logged_at < self.log_every:
                return
            self._logged_at = now
        logger.warning(
            "memwatch: error #%d, %s (went on; the next is logged in %gs at the earliest)",
            count,
            description,
            self.log_every,
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    def reset(self) -> None:
        """Forget every error (a forked child starts with none)."""
        self._lock = threading.Lock()
        self._count = 0
        self._last = ""
        self._logged_at = -math.inf
