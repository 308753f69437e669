"""The ASGI middleware passes the conformance suite under uvicorn: bare, Starlette, Litestar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Litestar, MediaType, get
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from memwatch.asgi import MemwatchMiddleware
from memwatch.testing import ConformanceSuite, asgi_app, healthy, leak

if TYPE_CHECKING:
    from starlette.requests import Request


def starlette_app() -> Starlette:
    """A Starlette app with the suite's two routes."""

    def leaking(_request: Request) -> PlainTextResponse:
        return PlainTextResponse(leak())

    def healthy_route(_request: Request) -> PlainTextResponse:
        return PlainTextResponse(healthy())

    return Starlette(routes=[Route("/leak", leaking), Route("/healthy", healthy_route)])


def litestar_app() -> Litestar:
    """A Litestar app with the suite's two routes."""

    @get("/leak", media_type=MediaType.TEXT, sync_to_thread=False)
    def leaking() -> str:
        return leak()

    @get("/healthy", media_type=MediaType.TEXT, sync_to_thread=False)
    def healthy_route() -> str:
        return healthy()

    return Litestar(route_handlers=[leaking, healthy_route])


class TestPlainASGIUnderUvicorn(ConformanceSuite):
    server = "uvicorn"
    event_loop = True

    def make_app(self, **memwatch: Any) -> Any:
        return MemwatchMiddleware(asgi_app, **memwatch)


class TestStarletteUnderUvicorn(TestPlainASGIUnderUvicorn):
    def make_app(self, **memwatch: Any) -> Any:
        return MemwatchMiddleware(starlette_app(), **memwatch)


class TestLitestarUnderUvicorn(TestPlainASGIUnderUvicorn):
    def make_app(self, **memwatch: Any) -> Any:
        return MemwatchMiddleware(litestar_app(), **memwatch)
