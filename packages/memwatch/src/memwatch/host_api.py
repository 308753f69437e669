"""What the HTTP API answers about the host's workers: bodies and errors, framework-neutral.

:class:`memwatch.http.MemwatchAPI` routes to these functions and turns what
they raise into problem+json with :func:`problem_for`; they read the watcher's
:class:`~memwatch.host.HostLink`. Kept apart from the API's routing so that
the routes of the workers issue are one module, not a third of http.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from memwatch.errors import WorkerNotFoundError, WorkerTimeoutError
from memwatch.extras import MissingExtraError
from memwatch.models import ProfileIdList

if TYPE_CHECKING:
    from memwatch.host_models import WorkerList
    from memwatch.models import Profile, Status
    from memwatch.watcher import Watcher

__all__ = [
    "ERRORS",
    "QueryError",
    "metrics",
    "pid_query",
    "problem_for",
    "profile_lines",
    "start_profile",
    "status",
    "workers",
]

_MAX_QUERY_FIELDS = 64
_PID_DIGITS = 10


class QueryError(ValueError):
    """A query parameter that cannot be read (HTTP 400); ``detail`` says which and why."""

    def __init__(self, detail: str) -> None:
        """Say what is wrong with the query, in the words the client will see."""
        super().__init__(detail)
        self.detail = detail


def pid_query(query: str) -> int | None:
    """The ``pid`` query parameter: a worker's process id, or ``None`` when it is absent.

    Raises:
        QueryError: it is not a positive integer, or is given twice with different values.
    """
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS)
    except ValueError:
        raise QueryError(
            f"The query string has more than {_MAX_QUERY_FIELDS} parameters."
        ) from None
    values = {value for name, value in pairs if name == "pid"}
    if not values:
        return None
    if len(values) > 1:
        raise QueryError("Query parameter 'pid' was given conflicting values.")
    (value,) = values
    if not (value.isdigit() and value.isascii() and 0 < len(value) <= _PID_DIGITS and int(value)):
        shown = value if len(value) <= 20 else value[:20] + "..."
        raise QueryError(
            f"Query parameter 'pid' must be a process id (a positive integer); got {shown!r}."
        )
    return int(value)


def status(watcher: Watcher, pid: int | None) -> Status | bytes:
    """This worker's live status, or worker ``pid``'s last stored one (as the JSON it wrote).

    With ``pid`` every worker gives the same answer, the one that worker is named
    by included: what it stored last (at most a sample interval old).

    Raises:
        WorkerNotFoundError: the store knows no worker with that pid.
    """
    if pid is None:
        return watcher.status()
    return json.dumps(watcher.host.status_of(pid), separators=(",", ":")).encode()


def start_profile(watcher: Watcher, pid: int | None) -> Profile:
    """Start a manual profile here, or in worker ``pid`` (handed over through the store)."""
    return watcher.start_profile(pid)


def profile_lines(watcher: Watcher) -> ProfileIdList:
    """``GET /ah/memory``: every worker's profile ids, and their lines naming each one's pid.

    Read from the store's listing columns, not the profiles' bodies.
    """
    lines = tuple(watcher.host.summaries())
    return ProfileIdList(memory_profiles=tuple(line.id for line in lines), profiles=lines)


def workers(watcher: Watcher) -> WorkerList:
    """``GET /ah/workers``: every worker of the host the store knows."""
    return watcher.host.worker_list()


def metrics(watcher: Watcher) -> bytes:
    """``GET /ah/metrics``: the Prometheus text exposition of every live worker.

    Raises:
        MissingExtraError: prometheus_client is not installed.
    """
    return watcher.host.metrics()


ERRORS = (QueryError, WorkerNotFoundError, WorkerTimeoutError, MissingExtraError)
"""What these routes raise that :func:`problem_for` answers."""


def problem_for(exc: Exception) -> tuple[int, str, tuple[tuple[str, str], ...]]:
    """The status, detail and extra headers of the problem for one of :data:`ERRORS`."""
    if isinstance(exc, QueryError):
        return 400, exc.detail, ()
    if isinstance(exc, WorkerNotFoundError):
        return 404, f"No live memwatch worker with pid {exc.pid} on this host.", ()
    if isinstance(exc, WorkerTimeoutError):
        retry = (("Retry-After", str(max(1, round(exc.retry_after)))),)
        return 503, f"{exc}; it may still, so ask again later.", retry
    if isinstance(exc, MissingExtraError):
        return 501, f"Metrics need prometheus_client: pip install 'memwatch[{exc.extra}]'.", ()
    return 500, "memwatch failed to answer this request; the server log has details.", ()
