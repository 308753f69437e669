"""memwatch for FastAPI: the memwatch HTTP API as an ``APIRouter``.

::

    from fastapi import FastAPI
    from memwatch.auth import bearer_token
    from memwatch_fastapi import memwatch_router

    app = FastAPI()
    app.include_router(memwatch_router(auth=bearer_token(os.environ["MEMWATCH_TOKEN"])))

The watcher starts when :func:`memwatch_router` builds the router (each forked
worker restarts its own); :func:`memwatch_lifespan` also stops it at shutdown.

Everything but translation lives in :class:`memwatch.http.MemwatchAPI`:
routing, auth, validation, problem+json errors and headers. This module turns
a Starlette request into a :class:`memwatch.wire.Request` (never reading the
body, so an unauthenticated client is neither buffered nor sent ``100
Continue``), the answer into a Starlette response, runs census-heavy routes in
the thread pool, and documents each route in OpenAPI from the route table
(:mod:`memwatch_fastapi.openapi`).
"""

from __future__ import annotations

import contextlib
import inspect
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from memwatch.http import MemwatchAPI
from memwatch.watcher import default_watcher
from memwatch.wire import Request
from memwatch_fastapi.openapi import openapi_schema, parameters, responses

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from memwatch.auth import Authorizer
    from memwatch.routes import Route
    from memwatch.watcher import Watcher
    from memwatch.wire import Response

__all__ = [
    "memwatch_lifespan",
    "memwatch_router",
    "openapi_schema",
    "to_core_request",
    "to_fastapi_response",
    "to_starlette_response",
]


def memwatch_router(
    *, auth: Authorizer, prefix: str = "/ah", watcher: Watcher | None = None
) -> APIRouter:
    """The memwatch API as a router to mount with ``app.include_router(...)``; starts the watcher.

    Args:
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.wire.Request`. Required: nothing
            is exposed by accident.
        prefix: Where the routes live (``/ah/memoryProfile/status`` ...).
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`.

    Returns:
        A router with one documented route per endpoint of the HTTP contract,
        and undocumented fallbacks that give the prefix itself and the rest of
        it the core's 404/405 problem+json.
    """
    api = MemwatchAPI(auth=auth, watcher=watcher, prefix=prefix)
    router = APIRouter(prefix=api.prefix, tags=["memwatch"])
    for route in api.routes:
        query = parameters(route)
        router.add_api_route(
            route.path(lambda name: f"{{{name}}}"),
            _route_endpoint(api, route),
            methods=[route.method],
            name=f"memwatch.{route.name}",
            operation_id=f"memwatch_{route.name}",
            status_code=route.status,
            response_class=StarletteResponse,
            responses=responses(route),
            openapi_extra={"parameters": query} if query else None,
        )
    if api.prefix:  # at the root a fallback would swallow the app's own 404s and 405s
        # ASGI apps (not functions) as plain Starlette routes match every method,
        # extension methods (PROPFIND, TRACE...) included. The bare prefix needs its
        # own, or Starlette would redirect /ah to /ah/ with a 307.
        fallback = _AnyMethod(api)
        router.add_route(api.prefix, fallback, include_in_schema=False)  # type: ignore[arg-type]  # Starlette takes ASGI apps too
        router.add_route(api.prefix + "/{rest:path}", fallback, include_in_schema=False)  # type: ignore[arg-type]
    api.start()
    return router


class _AnyMethod:
    """An ASGI app that hands any request under the prefix to the core, off the loop if heavy."""

    def __init__(self, api: MemwatchAPI) -> None:
        self.api = api

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = StarletteRequest(scope, receive)
        rest = request.path_params.get("rest")
        path = self.api.prefix if rest is None else f"{self.api.prefix}/{rest}"
        response = await _answer(self.api, to_core_request(request, path=path))
        await response(scope, receive, send)


async def _answer(api: MemwatchAPI, request: Request) -> StarletteResponse:
    route = api.route_for(request.method, request.path)
    if route is not None and route.heavy:
        return to_fastapi_response(await run_in_threadpool(api.handle, request))
    return to_fastapi_response(api.handle(request))


def _route_endpoint(api: MemwatchAPI, route: Route) -> Callable[..., Awaitable[StarletteResponse]]:
    async def endpoint(request: StarletteRequest, **params: str) -> StarletteResponse:
        # Rebuilt from what the router matched, so root_path and mounts cannot skew it.
        path = api.prefix + route.path(params.__getitem__)
        return await _answer(api, to_core_request(request, path=path))

    # FastAPI reads the signature: declare the path parameters so OpenAPI lists them.
    request = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=StarletteRequest
    )
    keyword = inspect.Parameter.KEYWORD_ONLY
    declared = [inspect.Parameter(name, keyword, annotation=str) for name in route.parameters]
    endpoint.__signature__ = inspect.Signature([request, *declared])  # type: ignore[attr-defined]
    return endpoint


def to_core_request(request: StarletteRequest, *, path: str | None = None) -> Request:
    """Translate a Starlette request into the core's :class:`~memwatch.wire.Request`, body unread.

    Args:
        request: The Starlette (or FastAPI) request.
        path: The path to hand the core; ``None`` means ``request.url.path``.
    """
    return Request(
        method=request.method,
        path=path if path is not None else request.url.path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=request.headers.items(),
        client=request.client.host if request.client else None,
    )


def to_fastapi_response(response: Response) -> StarletteResponse:
    """Translate the core's :class:`~memwatch.wire.Response` into a Starlette response."""
    translated = StarletteResponse(response.body, status_code=response.status)
    for name, value in response.headers:
        translated.headers.append(name, value)
    return translated


to_starlette_response = to_fastapi_response
"""The former name of :func:`to_fastapi_response`."""


def memwatch_lifespan(
    watcher: Watcher | None = None,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that starts the watcher at startup and stops it at shutdown.

    :func:`memwatch_router` already starts the watcher; this adds the stop. Use
    it as the app's lifespan, ``FastAPI(lifespan=memwatch_lifespan())``, or
    inside your own: ``async with memwatch_lifespan()(app): yield``.

    Args:
        watcher: The watcher to run; ``None`` means the process-wide default.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        running = watcher if watcher is not None else default_watcher()
        running.start()
        try:
            yield
        finally:
            running.stop()

    return lifespan
