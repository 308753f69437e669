"""memwatch for any ASGI 3 application: a middleware that answers under the prefix.

::

    from memwatch.asgi import MemwatchMiddleware
    from memwatch.auth import bearer_token

    app = MemwatchMiddleware(app, auth=bearer_token(os.environ["MEMWATCH_TOKEN"]))

ASGI is a protocol, not a framework: this works for Starlette, Litestar,
Quart, Django's ``get_asgi_application()`` or a bare coroutine, under any ASGI
server. An ``http`` request whose path is under the prefix
(:meth:`~memwatch.http.MemwatchAPI.owns`) is answered by
:meth:`memwatch.http.MemwatchAPI.handle`; heavy routes (a census, a full
collection) run in a worker thread so the event loop keeps serving. Every
other scope (the app's own requests, websockets, lifespan) goes to the wrapped
app with the server's own ``receive`` and ``send``: streaming bodies pass
through as they are.

The watcher starts when the middleware is built, so a server that never sends
the lifespan scope still gets a running watcher. When the server does send it,
``lifespan.startup`` starts the watcher again (a no-op unless it was stopped)
and ``lifespan.shutdown`` stops it; the messages still reach the app.

``receive`` is never called for memwatch's routes: no route takes a body, and
reading one before auth would let an unauthenticated client make the process
buffer it (and make the server answer ``Expect: 100-continue``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from memwatch.http import MemwatchAPI
from memwatch.wire import Request

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from memwatch.auth import Authorizer
    from memwatch.watcher import Watcher

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["MemwatchMiddleware", "to_core_request"]


def to_core_request(scope: Scope) -> Request:
    """Translate an ASGI ``http`` scope into the core's :class:`~memwatch.wire.Request`."""
    client = scope.get("client")
    return Request(
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=[
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        ],
        client=client[0] if client else None,
    )


class MemwatchMiddleware:
    """An ASGI app that serves memwatch's API under ``prefix`` and ``app`` everywhere else.

    Args:
        app: The ASGI 3 application to wrap.
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.wire.Request`. Required: nothing
            is exposed by accident.
        prefix: Where the routes live (``/ah/memoryProfile/status`` ...).
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: Authorizer,
        prefix: str = "/ah",
        watcher: Watcher | None = None,
    ) -> None:
        """Wrap ``app`` and start the watcher."""
        self.app = app
        self.api = MemwatchAPI(auth=auth, watcher=watcher, prefix=prefix)
        self.api.start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a memwatch request, or hand the scope to the wrapped app untouched."""
        if scope["type"] == "http" and self.api.owns(scope["path"]):
            await self._answer(scope, send)
        elif scope["type"] == "lifespan":
            await self.app(scope, self._watching(receive), send)
        else:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> None:
        request = to_core_request(scope)
        route = self.api.route_for(request.method, request.path)
        if route is not None and route.heavy:
            response = await asyncio.to_thread(self.api.handle, request)
        else:
            response = self.api.handle(request)
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers
        ]
        if request.method != "HEAD":  # a HEAD's length would be the GET's, never made
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    def _watching(self, receive: Receive) -> Receive:
        """``receive`` for the lifespan scope: start and stop the watcher with the server."""

        async def receive_lifespan() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.api.start()
            elif message["type"] == "lifespan.shutdown":
                self.api.watcher.stop()
            return message

        return receive_lifespan
