"""memwatch for FastAPI: the memwatch HTTP API as an ``APIRouter``.

::

    from fastapi import FastAPI
    from memwatch.auth import bearer_token
    from memwatch_fastapi import memwatch_lifespan, memwatch_router

    app = FastAPI(lifespan=memwatch_lifespan())
    app.include_router(memwatch_router(auth=bearer_token(os.environ["MEMWATCH_TOKEN"])))

Everything but translation lives in :class:`memwatch.http.MemwatchAPI`:
routing, auth, validation, problem+json errors and headers. This module turns
a Starlette request into a :class:`memwatch.http.Request`, the answer into a
Starlette response, runs census-heavy routes in the thread pool, and documents
each route in OpenAPI with the core's own JSON Schemas.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from memwatch.http import MemwatchAPI, Request, Response, Route
from memwatch.schemas import load_schema
from memwatch.watcher import default_watcher

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from memwatch.auth import Authorizer
    from memwatch.watcher import Watcher

__all__ = ["memwatch_lifespan", "memwatch_router", "openapi_schema"]

_PARAM = re.compile(r"\{(\w+)\}")

# What each route of memwatch.http.ROUTES answers on success: status and body schemas.
_SUCCESS: dict[str, tuple[int, tuple[str, ...]]] = {
    "status": (200, ("status",)),
    "get_profile": (200, ("profile",)),
    "delete_profile": (200, ("message",)),
    "list_profiles": (200, ("profile_id_list", "profile_list")),
    "start_profile": (201, ("profile",)),
    "end_profile": (200, ("profile",)),
    "force_gc": (200, ("gc_result",)),
}
_QUERY: dict[str, list[dict[str, Any]]] = {
    "list_profiles": [
        {
            "name": "details",
            "in": "query",
            "required": False,
            "description": "`true` (or `1`) for the full profiles instead of their ids.",
            "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
        }
    ],
}


def openapi_schema(name: str) -> dict[str, Any]:
    """One of the core's JSON Schemas, made self-contained for embedding in an OpenAPI document.

    The shipped schemas are standalone resources (``$id``, ``$schema``, refs to
    their own ``#/$defs``). Embedded in an OpenAPI document, ``#/$defs/...``
    would resolve against the document's root, so each ref is replaced by the
    definition it names (the schemas are not recursive) and ``$id`` /
    ``$schema`` are dropped: the result is plain OpenAPI 3.1 Schema Object.

    Args:
        name: One of :data:`memwatch.schemas.SCHEMA_NAMES`.
    """
    schema = load_schema(name)
    defs: dict[str, Any] = schema.pop("$defs", {})
    schema.pop("$id", None)
    schema.pop("$schema", None)
    inlined: dict[str, Any] = _inline(schema, defs)
    return inlined


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    rest = {key: _inline(value, defs) for key, value in node.items() if key != "$ref"}
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **rest}
    return rest if ref is None else {"$ref": ref, **rest}


def _responses(route: Route) -> tuple[int, dict[int | str, dict[str, Any]]]:
    status, names = _SUCCESS.get(route.name, (200, ()))
    schemas = [openapi_schema(name) for name in names]
    body: dict[str, Any] = {"anyOf": schemas} if len(schemas) > 1 else schemas[0] if schemas else {}
    problem = {"application/problem+json": {"schema": openapi_schema("problem")}}
    return status, {
        status: {"content": {"application/json": {"schema": body}}},
        "4XX": {"description": "An RFC 9457 problem", "content": problem},
    }


def memwatch_router(
    *, auth: Authorizer, prefix: str = "/ah", watcher: Watcher | None = None
) -> APIRouter:
    """The memwatch API as a router to mount with ``app.include_router(...)``.

    Args:
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.http.Request`. Required: nothing
            is exposed by accident.
        prefix: Where the routes live (``/ah/memoryProfile/status`` ...).
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`, started on first use.

    Returns:
        A router with one documented route per endpoint of the HTTP contract,
        and an undocumented fallback that gives the rest of the prefix the
        core's 404/405 problem+json.
    """
    api = MemwatchAPI(auth=auth, watcher=watcher, prefix=prefix)
    router = APIRouter(prefix=api.prefix, tags=["memwatch"])
    for route in api.routes:
        status, responses = _responses(route)
        query = _QUERY.get(route.name)
        router.add_api_route(
            route.template,
            _endpoint(api, route.template, heavy=route.heavy),
            methods=[route.method],
            name=f"memwatch.{route.name}",
            operation_id=f"memwatch_{route.name}",
            status_code=status,
            response_class=StarletteResponse,
            responses=responses,
            openapi_extra={"parameters": query} if query else None,
        )
    if api.prefix:  # at the root a fallback would swallow the app's own 404s and 405s
        # An ASGI app (not a function) as a plain Starlette route matches every
        # method, extension methods (PROPFIND, TRACE...) included.
        router.add_route(
            api.prefix + "/{rest:path}",
            _AnyMethod(_endpoint(api, "/{rest}", heavy=False)),  # type: ignore[arg-type]  # Starlette takes ASGI apps too
            include_in_schema=False,
        )
    return router


class _AnyMethod:
    """An ASGI app around an endpoint, so Starlette routes every method to it."""

    def __init__(self, endpoint: Callable[..., Awaitable[StarletteResponse]]) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = StarletteRequest(scope, receive)
        response = await self.endpoint(request, **request.path_params)
        await response(scope, receive, send)


def _endpoint(
    api: MemwatchAPI, template: str, *, heavy: bool
) -> Callable[..., Awaitable[StarletteResponse]]:
    async def endpoint(request: StarletteRequest, **params: str) -> StarletteResponse:
        # Rebuilt from what the router matched, so root_path and mounts cannot skew it.
        path = api.prefix + template.format(**params)
        core = await to_core_request(request, path=path)
        response = await run_in_threadpool(api.handle, core) if heavy else api.handle(core)
        return to_starlette_response(response)

    # FastAPI reads the signature: declare the path parameters so OpenAPI lists them.
    request = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=StarletteRequest
    )
    parameters = [
        request,
        *(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str)
            for name in _PARAM.findall(template)
        ),
    ]
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return endpoint


async def to_core_request(request: StarletteRequest, *, path: str | None = None) -> Request:
    """Translate a Starlette request into the core's :class:`~memwatch.http.Request`."""
    return Request(
        method=request.method,
        path=path if path is not None else request.url.path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=request.headers.items(),
        client=request.client.host if request.client else None,
        body=await request.body(),
    )


def to_starlette_response(response: Response) -> StarletteResponse:
    """Translate the core's :class:`~memwatch.http.Response` into a Starlette response."""
    translated = StarletteResponse(response.body, status_code=response.status)
    for name, value in response.headers:
        translated.headers.append(name, value)
    return translated


def memwatch_lifespan(
    watcher: Watcher | None = None,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that starts the watcher at startup and stops it at shutdown.

    Use it as the app's lifespan, ``FastAPI(lifespan=memwatch_lifespan())``,
    or inside your own: ``async with memwatch_lifespan()(app): yield``.

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
