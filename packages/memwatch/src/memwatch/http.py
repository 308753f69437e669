"""memwatch's HTTP API, once, for every framework.

A :class:`~memwatch.wire.Request` (method, path, query, headers, client
address) goes in; a :class:`~memwatch.wire.Response` (status, headers, body
bytes) comes out of :meth:`MemwatchAPI.handle`. Routing on the table of
:mod:`memwatch.routes`, parameter validation, auth, problem+json errors and
serialization all live here, so an adapter only translates its framework's
request and response objects, and calls :meth:`MemwatchAPI.start` when it is
mounted so that the watcher samples before anyone asks.

Adapters should forward *every* request under the prefix
(:meth:`MemwatchAPI.owns`), whatever its method, to :meth:`MemwatchAPI.handle`:
unknown paths, wrong methods and ``OPTIONS`` then get memwatch's own
problem+json answers instead of the framework's HTML pages.
:data:`memwatch.routes.ROUTES` and :meth:`MemwatchAPI.route_for` tell an async adapter which
requests are *heavy* (a census or a full collection) and belong off the event
loop.

Decisions the contract leaves open, and what this layer does:

- Auth runs before routing, so an unauthorized client learns nothing about
  which paths exist (404 outside the prefix excepted), except for the
  dashboard's static files (``public`` rows, and ``GET {prefix}/`` for a client
  that prefers HTML): they hold no data and a browser cannot send a token.
- ``HEAD`` works on every GET route: the GET's status and headers, no body.
  ``OPTIONS`` answers 204 with ``Allow`` and no body (so no ``Content-Type``).
- Request bodies are never read: no route takes one, adapters leave them
  unread (so an unauthenticated client cannot make the server buffer them),
  and a client that sends ``{}`` with a POST is not punished for it.
- Profile ids are 1-64 characters of ``A-Z a-z 0-9 _ -``; any other id is a 404
  whose detail quotes at most 64 characters of it.
- Unknown query parameters are ignored; ``details`` on ``GET /memory`` accepts
  ``true``/``false``/``1``/``0`` in any case, and anything else is a 400.
- Method names are case-sensitive, as HTTP says: ``get`` is not ``GET``.
- Every response carries ``Cache-Control: no-store``, ``Memwatch-Pid`` (the
  process that answered) and ``X-Content-Type-Options: nosniff``.
- An unexpected exception never escapes :meth:`MemwatchAPI.handle`: it becomes a
  500 problem with a generic detail, is logged once with its traceback on the
  ``memwatch`` logger, and is counted in :attr:`MemwatchAPI.internal_errors`.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import threading
from http import HTTPStatus
from typing import TYPE_CHECKING

import attrs

from memwatch.auth import Authorizer, authorize
from memwatch.converter import dumps
from memwatch.dashboard import FILES, PAGE, DashboardFile, asset, prefers_html
from memwatch.errors import CensusBusyError, ProfileConflictError, ProfileNotFoundError
from memwatch.fragments import FieldwiseEncoder
from memwatch.host_api import ERRORS as HOST_ERRORS
from memwatch.host_api import metrics, pid_query, problem_for, profile_lines, status, workers
from memwatch.index import route_index
from memwatch.models import Message, Problem, ProfileList, Status
from memwatch.query import BadQueryError, flag, quote
from memwatch.routes import ROUTES, QueryParameter, Resource, Route, resolve
from memwatch.wire import JSON, PROBLEM_JSON, Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from memwatch.watcher import Watcher

# The wire types and the route table live in memwatch.wire and memwatch.routes;
# they are re-exported so that ``from memwatch.http import Request, ROUTES`` keeps working.
__all__ = [
    "JSON",
    "PROBLEM_JSON",
    "ROUTES",
    "MemwatchAPI",
    "QueryParameter",
    "Request",
    "Response",
    "Route",
]

logger = logging.getLogger("memwatch")

_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_RETRY_AFTER = 3600

_AUTH_CHOICES = """\
MemwatchAPI needs an explicit auth choice, e.g. MemwatchAPI(auth=...) with one of:
  memwatch.auth.bearer_token(secret)  clients send 'Authorization: Bearer <secret>'
  memwatch.auth.loopback_only()       only clients on this machine, never through a proxy
  memwatch.auth.read_only(inner)      inner decides; POST and DELETE are refused
  memwatch.auth.allow_all()           anyone who can reach the service (unsafe)
  any callable taking a memwatch.wire.Request (see memwatch.auth)"""


@attrs.frozen
class _Answer:
    """What a route's handler returns: the body (a model, or bytes as they are) and extra headers.

    The status and ``Content-Type`` come from the route's row of the table.
    """

    body: object
    headers: tuple[tuple[str, str], ...] = ()
    media_type: str | None = None  # None: the route's own


def _retry_after(seconds: float) -> str:
    if not math.isfinite(seconds):
        return str(_MAX_RETRY_AFTER) if seconds > 0 else "1"
    return str(min(_MAX_RETRY_AFTER, max(1, math.ceil(seconds))))


class MemwatchAPI:
    """The framework-neutral HTTP API: a route table and one :meth:`handle`.

    Args:
        auth: Who may use the API; required. See :mod:`memwatch.auth`.
        watcher: The watcher to serve; ``None`` means
            :func:`memwatch.watcher.default_watcher`, resolved on the first request
            that needs it.
        prefix: The path the routes live under; ``""`` mounts them at the root.

    Raises:
        TypeError: if ``auth`` is missing or not callable (the message lists the choices).
        ValueError: if ``prefix`` is not ``""`` or a path starting with ``/``.
    """

    def __init__(
        self,
        *,
        auth: Authorizer | None = None,
        watcher: Watcher | None = None,
        prefix: str = "/ah",
    ) -> None:
        """Build the API; the watcher starts at :meth:`start` or the first request."""
        if auth is None:
            raise TypeError(_AUTH_CHOICES)
        if not callable(auth):
            raise TypeError(f"auth must be callable, got {type(auth).__name__}.\n{_AUTH_CHOICES}")
        prefix = prefix.rstrip("/")
        if prefix and (not prefix.startswith("/") or re.search(r"[\s?#{}]", prefix)):
            raise ValueError(
                f"prefix must be '' or a path starting with '/' (no spaces, ?, #, braces), "
                f"got {prefix!r}"
            )
        self._auth = auth
        # Status is asked for most; only its parts that changed since the last one are serialized.
        self._status_body = FieldwiseEncoder(Status)
        self._watcher = watcher
        self._watcher_lock = threading.Lock()
        self._errors_lock = threading.Lock()
        self._internal_errors = 0
        self.prefix: str = prefix
        self.routes: tuple[Route, ...] = ROUTES
        self._handlers: dict[str, Callable[[Request, dict[str, str]], _Answer]] = {
            "status": self._status,
            "get_profile": self._get_profile,
            "delete_profile": self._delete_profile,
            "list_profiles": self._list_profiles,
            "start_profile": self._start_profile,
            "end_profile": self._end_profile,
            "force_gc": self._force_gc,
            "workers": self._workers,
            "metrics": self._metrics,
            "samples": self._samples,
            "index": self._index,
            **{file.route: functools.partial(self._file, file) for file in FILES},
        }

    def __repr__(self) -> str:
        """Show the prefix and the auth choice (built-in authorizers hide their secrets)."""
        return f"MemwatchAPI(prefix={self.prefix!r}, auth={self._auth!r})"

    @property
    def watcher(self) -> Watcher:
        """The watcher this API serves (the process-wide default unless one was given)."""
        if self._watcher is None:
            from memwatch.watcher import default_watcher  # noqa: PLC0415 - lazy: it starts a watcher

            with self._watcher_lock:
                # default_watcher() is process-wide: a second caller gets the same one.
                self._watcher = self._watcher or default_watcher()
        return self._watcher

    def start(self) -> Watcher:
        """Start the watcher this API serves (resolving the default one); idempotent.

        Adapters call it when they are mounted, so detection, auto-capture and
        listeners run from then on, not from the first API request. In a forked
        child the watcher restarts on its own (see :mod:`memwatch.watcher`).

        Returns:
            The running watcher.
        """
        return self.watcher.start()

    @property
    def internal_errors(self) -> int:
        """Unexpected exceptions turned into 500 responses so far."""
        return self._internal_errors

    # -- routing ---------------------------------------------------------------

    def owns(self, path: str) -> bool:
        """True when ``path`` (decoded, without the query) is under the prefix.

        Adapters send every such request to :meth:`handle`, whatever the
        framework's router thought of it, and leave every other to the app.
        """
        return path == self.prefix or path.startswith(self.prefix + "/")

    def _relative(self, path: str) -> list[str] | None:
        if not self.owns(path):
            return None
        return path[len(self.prefix) :].split("/")[1:]

    def route_for(self, method: str, path: str) -> Route | None:
        """The route ``handle`` would run for this request, or ``None`` (an error or OPTIONS).

        ``HEAD`` maps to the GET route. Adapters use it to run heavy routes off the
        event loop; it neither authorizes nor validates the id.
        """
        segments = self._relative(path)
        resolved = None if segments is None else resolve(segments)
        return None if resolved is None else resolved[0].methods.get(method)

    # -- responses -------------------------------------------------------------

    def _headers(
        self, content_type: str | None, extra: Iterable[tuple[str, str]] = ()
    ) -> tuple[tuple[str, str], ...]:
        base = [("Content-Type", content_type)] if content_type else []
        base += [
            ("Cache-Control", "no-store"),
            ("Memwatch-Pid", str(os.getpid())),
            ("X-Content-Type-Options", "nosniff"),
        ]
        return (*base, *extra)

    def _problem(self, status: int, detail: str, extra: Iterable[tuple[str, str]] = ()) -> Response:
        problem = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail)
        return Response(status, self._headers(PROBLEM_JSON, extra), dumps(problem))

    def problem(
        self, status: int, detail: str, headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        """A problem+json response with memwatch's headers, for an error the framework raised.

        Adapters use it where their framework answers before ``handle`` can (Tornado's
        ``write_error``), so those errors look like every other memwatch error.

        Args:
            status: An HTTP error status (400-599).
            detail: What the client is told.
            headers: Extra headers, e.g. ``Allow``.
        """
        return self._problem(status, detail, headers)

    # -- handling --------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request. Never raises: unexpected errors become a 500 problem."""
        try:
            response = self._dispatch(request)
        except Exception:
            with self._errors_lock:
                self._internal_errors += 1
            logger.exception(
                "memwatch: unexpected error answering %s %s",
                quote(request.method),
                quote(request.path),
            )
            response = self._problem(
                500, "memwatch failed to answer this request; the server log has details."
            )
        if request.method == "HEAD":
            # HEAD answers what GET would, headers included, without the body.
            return attrs.evolve(response, body=b"")
        return response

    def _dispatch(self, request: Request) -> Response:
        segments = self._relative(request.path)
        if segments is None:
            return self._problem(404, f"No memwatch route matches {quote(request.path)}.")
        resolved = resolve(segments)
        route = resolved[0].methods.get(request.method) if resolved else None
        public = route is not None and (route.public or self._wants_page(route, request))
        denial = None if public else authorize(self._auth, request)
        if denial is not None:
            return self._problem(denial.status, denial.detail, denial.headers)
        if resolved is None:
            return self._problem(404, f"No memwatch route matches {quote(request.path)}.")
        return self._dispatch_resource(request, *resolved)

    def _dispatch_resource(
        self, request: Request, resource: Resource, params: dict[str, str]
    ) -> Response:
        if request.method == "OPTIONS":
            return Response(204, self._headers(None, resource.allow))
        route = resource.methods.get(request.method)
        if route is None:
            return self._problem(
                405,
                f"{quote(request.method)} is not allowed here; allowed: {resource.allow[0][1]}.",
                resource.allow,
            )
        profile_id = params.get("id")
        if profile_id is not None and not _ID_PATTERN.fullmatch(profile_id):
            return self._problem(404, f"No memory profile with id {quote(profile_id)}.")
        return self._run(route, request, params)

    def _run(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        try:
            answer = self._handlers[route.name](request, params)
        except BadQueryError as exc:
            return self._problem(400, exc.detail)
        except ProfileNotFoundError as exc:
            return self._problem(404, f"No memory profile with id {quote(exc.profile_id)}.")
        except ProfileConflictError as exc:
            return self._problem(409, f"{exc}.")
        except CensusBusyError as exc:
            return self._problem(429, f"{exc}.", [("Retry-After", _retry_after(exc.retry_after))])
        except HOST_ERRORS as exc:
            return self._problem(*problem_for(exc))
        body = answer.body if isinstance(answer.body, bytes) else dumps(answer.body)
        media_type = answer.media_type or route.media_type
        return Response(route.status, self._headers(media_type, answer.headers), body)

    def _status(self, request: Request, _params: dict[str, str]) -> _Answer:
        answer = status(self.watcher, pid_query(request.query))
        return _Answer(answer if isinstance(answer, bytes) else self._status_body.encode(answer))

    def _get_profile(self, _request: Request, params: dict[str, str]) -> _Answer:
        return _Answer(self.watcher.get_profile(params["id"]))

    def _delete_profile(self, _request: Request, params: dict[str, str]) -> _Answer:
        self.watcher.delete_profile(params["id"])
        return _Answer(Message(f"Deleted profile {params['id']}"))

    def _list_profiles(self, request: Request, _params: dict[str, str]) -> _Answer:
        if flag(request.query, "details"):
            return _Answer(ProfileList(memory_profiles=tuple(self.watcher.list_profiles())))
        return _Answer(profile_lines(self.watcher))

    def _start_profile(self, request: Request, _params: dict[str, str]) -> _Answer:
        profile = self.watcher.start_profile(
            pid_query(request.query), trace=flag(request.query, "trace")
        )
        return _Answer(profile, (("Location", f"{self.prefix}/memoryProfile/{profile.id}"),))

    def _end_profile(self, _request: Request, params: dict[str, str]) -> _Answer:
        return _Answer(self.watcher.end_profile(params["id"]))

    def _force_gc(self, _request: Request, _params: dict[str, str]) -> _Answer:
        return _Answer(self.watcher.force_gc())

    def _workers(self, _request: Request, _params: dict[str, str]) -> _Answer:
        return _Answer(workers(self.watcher))

    def _metrics(self, _request: Request, _params: dict[str, str]) -> _Answer:
        return _Answer(metrics(self.watcher))

    def _samples(self, _request: Request, _params: dict[str, str]) -> _Answer:
        return _Answer(self.watcher.samples())

    @staticmethod
    def _wants_page(route: Route, request: Request) -> bool:
        return route.name == "index" and prefers_html(request.get_header("accept"))

    def _index(self, request: Request, params: dict[str, str]) -> _Answer:
        if prefers_html(request.get_header("accept")):
            return self._file(PAGE, request, params)
        # Would this client's writes pass? The dashboard hides its write buttons if not.
        writable = authorize(self._auth, attrs.evolve(request, method="POST")) is None
        return _Answer(route_index(self.routes, self.prefix, writable=writable))

    @staticmethod
    def _file(file: DashboardFile, _request: Request, _params: dict[str, str]) -> _Answer:
        served = asset(file.name)
        if served is None:  # every DashboardFile ships in the package: a broken install
            raise FileNotFoundError(f"the dashboard's {file.name} is missing from memwatch")
        return _Answer(served.body, served.headers, served.media_type)
