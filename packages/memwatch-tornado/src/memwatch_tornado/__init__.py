"""memwatch for Tornado: the memwatch HTTP API as a list of routing rules.

::

    from memwatch.auth import bearer_token
    from memwatch_tornado import memwatch_handlers
    from tornado.web import Application

    auth = bearer_token(os.environ["MEMWATCH_TOKEN"])
    app = Application(memwatch_handlers(auth=auth) + [(r"/", MainHandler)])

The watcher starts when :func:`memwatch_handlers` builds the rules (each forked
worker restarts its own).

Everything but translation lives in :class:`memwatch.http.MemwatchAPI`:
routing, auth, validation, problem+json errors and headers. This module turns
a Tornado request into a :class:`memwatch.wire.Request`, writes the answer
back, and runs census-heavy routes in the IOLoop's executor. The handler
streams request bodies and answers one that has a body before it arrives:
Tornado otherwise buffers a body (up to ``max_body_size``) before a handler
runs, and sends ``100 Continue`` for it, whoever sent it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tornado.ioloop import IOLoop
from tornado.routing import Matcher, Rule, URLSpec
from tornado.web import RequestHandler, stream_request_body

from memwatch.http import MemwatchAPI
from memwatch.wire import Request, Response

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from memwatch.auth import Authorizer
    from memwatch.watcher import Watcher

__all__ = ["MemwatchHandler", "memwatch_handlers", "to_core_request", "to_tornado_response"]


def memwatch_handlers(
    *, auth: Authorizer, prefix: str = "/ah", watcher: Watcher | None = None
) -> list[Rule]:
    """The memwatch API as rules for ``Application(...)`` or ``app.add_handlers(...)``.

    Starts the watcher.

    Args:
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.wire.Request`. Required: nothing
            is exposed by accident.
        prefix: Where the routes live (``/ah/memoryProfile/status`` ...).
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`.

    Returns:
        One named ``URLSpec`` per path of the HTTP contract (``memwatch.<route
        name>``, for ``reverse_url``), then a rule for every other path the API
        owns (:meth:`~memwatch.http.MemwatchAPI.owns`, on the decoded path), so
        the core answers them with its 404/405.
    """
    api = MemwatchAPI(auth=auth, watcher=watcher, prefix=prefix)
    kwargs = {"api": api}
    specs: dict[str, Rule] = {}
    for route in api.routes:
        if route.template not in specs:
            pattern = re.escape(api.prefix) + route.path(
                lambda name: f"(?P<{name}>[^/]+)", re.escape
            )
            specs[route.template] = URLSpec(
                pattern, MemwatchHandler, kwargs, name=f"memwatch.{route.name}"
            )
    if api.prefix:  # at the root a fallback would shadow every route after it
        specs[""] = Rule(_OwnedBy(api), MemwatchHandler, kwargs)
    api.start()
    return list(specs.values())


class _OwnedBy(Matcher):
    """Matches the requests whose decoded path the API owns (Tornado routes on the raw one)."""

    def __init__(self, api: MemwatchAPI) -> None:
        self.api = api

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return {} if self.api.owns(unquote(request.path)) else None


def to_core_request(request: HTTPServerRequest) -> Request:
    """Translate a Tornado request into the core's :class:`~memwatch.wire.Request`, body unread."""
    return Request(
        method=request.method or "GET",
        path=unquote(request.path),  # decoded, as WSGI and ASGI servers give it
        query=request.query,
        headers=list(request.headers.get_all()),
        client=request.remote_ip,
    )


def to_tornado_response(response: Response, handler: RequestHandler) -> None:
    """Write the core's :class:`~memwatch.wire.Response` through ``handler`` and finish it.

    Tornado has no response object: a handler writes its answer.
    """
    # The headers are Tornado's defaults here: a new handler starts with them and
    # send_error clears what was set before write_error. Another clear() would
    # format the Date header again, a tenth of a status request's time.
    handler.clear_header("Content-Type")
    handler.set_status(response.status)
    for name, value in response.headers:
        handler.add_header(name, value)
    # Tornado refuses any body, even b"", on a 204 or 304.
    handler.finish(response.body or None)


@stream_request_body
class MemwatchHandler(RequestHandler):
    """Serves every memwatch route: the core routes, this handler translates."""

    # Every method goes to the core, which answers the ones it does not serve
    # with 405 and an Allow header; methods outside this tuple get Tornado's
    # 405, rendered as problem+json by write_error.
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, api: MemwatchAPI) -> None:
        """Keep the API this handler serves (Tornado passes the spec's kwargs)."""
        self.api = api

    async def prepare(self) -> None:
        """Answer a request that carries a body now, before the body arrives.

        Tornado then reads none of it (it would otherwise send ``100 Continue``
        and read it all, dropped chunk by chunk) and closes the connection, which
        ``Connection: close`` tells the client. Bodiless requests keep their
        connection and are answered by the method.
        """
        headers = self.request.headers
        if headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in headers:
            await self._serve(("Connection", "close"))

    async def _serve(self, *extra: tuple[str, str]) -> None:
        request = to_core_request(self.request)
        route = self.api.route_for(request.method, request.path)
        if route is not None and route.heavy:
            response = await IOLoop.current().run_in_executor(None, self.api.handle, request)
        else:
            response = self.api.handle(request)
        to_tornado_response(
            Response(response.status, (*response.headers, *extra), response.body), self
        )

    async def get(self, *_args: str, **_kwargs: str) -> None:  # noqa: D102 - see _serve
        await self._serve()

    head = post = delete = patch = put = options = get

    def data_received(self, chunk: bytes) -> None:
        """Drop body chunks: no route reads one, and none arrive once ``prepare`` answered."""

    def decode_argument(self, value: bytes, name: str | None = None) -> str:  # noqa: ARG002 - Tornado's signature
        """Decode a path argument without failing: the core answers an undecodable id with 404."""
        return value.decode("utf-8", "replace")

    def check_xsrf_cookie(self) -> None:
        """Skip Tornado's XSRF check: memwatch's auth never rests on cookies."""

    def write_error(self, status_code: int, **_kwargs: Any) -> None:
        """Render Tornado's own errors as the core's problem+json.

        A method Tornado refuses before any handler method runs (outside
        ``SUPPORTED_METHODS``) goes to the core, which answers it with 405 and
        ``Allow`` after auth; anything else (a failure in this adapter) becomes
        a problem with Tornado's status.
        """
        if status_code == 405:
            response = self.api.handle(to_core_request(self.request))
        else:
            response = self.api.problem(status_code, "memwatch could not answer this request.")
        to_tornado_response(response, self)
