"""memwatch for Tornado: the memwatch HTTP API as a list of ``URLSpec``.

::

    from memwatch.auth import bearer_token
    from memwatch_tornado import memwatch_handlers
    from tornado.web import Application

    auth = bearer_token(os.environ["MEMWATCH_TOKEN"])
    app = Application(memwatch_handlers(auth=auth) + [(r"/", MainHandler)])

Everything but translation lives in :class:`memwatch.http.MemwatchAPI`:
routing, auth, validation, problem+json errors and headers. This module turns
a Tornado request into a :class:`memwatch.http.Request`, writes the answer
back, and runs census-heavy routes in the IOLoop's executor.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tornado.ioloop import IOLoop
from tornado.routing import URLSpec
from tornado.web import RequestHandler

from memwatch.http import MemwatchAPI, Request, Response

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from memwatch.auth import Authorizer
    from memwatch.watcher import Watcher

__all__ = ["MemwatchHandler", "memwatch_handlers", "to_core_request"]

_PARAM = re.compile(r"\{(\w+)\}")


def memwatch_handlers(
    *, auth: Authorizer, prefix: str = "/ah", watcher: Watcher | None = None
) -> list[URLSpec]:
    """The memwatch API as URL specs for ``Application(...)`` or ``app.add_handlers(...)``.

    Args:
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.http.Request`. Required: nothing
            is exposed by accident.
        prefix: Where the routes live (``/ah/memoryProfile/status`` ...).
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`, started on first use.

    Returns:
        One named spec per path of the HTTP contract (``memwatch.<route name>``),
        then a fallback that gives the rest of the prefix the core's 404/405.
    """
    api = MemwatchAPI(auth=auth, watcher=watcher, prefix=prefix)
    base = re.escape(api.prefix.rstrip("/"))
    kwargs = {"api": api}
    specs: dict[str, URLSpec] = {}
    for route in api.routes:
        if route.template not in specs:
            parts = _PARAM.split(route.template)  # literal, name, literal, name, ...
            pattern = base + "".join(
                f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
            )
            specs[route.template] = URLSpec(
                pattern, MemwatchHandler, kwargs, name=f"memwatch.{route.name}"
            )
    if api.prefix:  # at the root a fallback would shadow every route after it
        specs[""] = URLSpec(base + r"(?:/.*)?", MemwatchHandler, kwargs)
    return list(specs.values())


def to_core_request(request: HTTPServerRequest) -> Request:
    """Translate a Tornado request into the core's :class:`~memwatch.http.Request`."""
    return Request(
        method=request.method or "GET",
        path=unquote(request.path),  # decoded, as WSGI and ASGI servers give it
        query=request.query,
        headers=list(request.headers.get_all()),
        client=request.remote_ip,
        body=request.body,
    )


class MemwatchHandler(RequestHandler):
    """Serves every memwatch route: the core routes, this handler translates."""

    # Every method goes to the core, which answers the ones it does not serve
    # with 405 and an Allow header; methods outside this tuple get Tornado's
    # 405, rendered as problem+json by write_error.
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, api: MemwatchAPI) -> None:
        """Keep the API this handler serves (Tornado passes the spec's kwargs)."""
        self.api = api

    async def _serve(self) -> None:
        request = to_core_request(self.request)
        route = self.api.route_for(request.method, request.path)
        if route is not None and route.heavy:
            response = await IOLoop.current().run_in_executor(None, self.api.handle, request)
        else:
            response = self.api.handle(request)
        self._send(response)

    def _send(self, response: Response) -> None:
        # The headers are Tornado's defaults here: a new handler starts with them and
        # send_error clears what was set before write_error. Another clear() would
        # format the Date header again, a tenth of a status request's time.
        self.clear_header("Content-Type")
        self.set_status(response.status)
        for name, value in response.headers:
            self.add_header(name, value)
        # Tornado refuses any body, even b"", on a 204 or 304.
        self.finish(response.body or None)

    async def get(self, *_args: str, **_kwargs: str) -> None:  # noqa: D102 - see _serve
        await self._serve()

    head = post = delete = patch = put = options = get

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
            self._send(self.api.handle(to_core_request(self.request)))
        else:
            self._send(self.api.problem(status_code, "memwatch could not answer this request."))
