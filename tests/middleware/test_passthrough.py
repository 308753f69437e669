"""What the middlewares leave alone: the app's requests, answers, streams, websockets, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from memwatch import asgi, wsgi
from memwatch.auth import allow_all
from memwatch.testing import SERVERS
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request


class ClosingBody:
    """A WSGI body that records whether the server closed it."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self):
        yield b"app "
        yield b"body"

    def close(self) -> None:
        self.closed = True


def test_wsgi_hands_the_server_the_apps_own_iterable_and_start_response():
    """Outside the prefix the app gets the server's start_response and its iterable goes back."""
    body = ClosingBody()
    seen: dict[str, Any] = {}

    def app(_environ, start_response):
        seen["start_response"] = start_response
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    def start_response(status, _headers, _exc_info=None):
        seen["status"] = status

    with Watcher(sample_interval=0.5, auto_capture=False) as watcher:
        middleware = wsgi.MemwatchMiddleware(app, auth=allow_all(), watcher=watcher)
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/ahead", "wsgi.input": io.BytesIO()}
        assert middleware(environ, start_response) is body
    assert seen["start_response"] is start_response


def test_wsgi_server_closes_the_apps_iterable_through_the_middleware():
    """Under waitress the app's body arrives whole and its close() is called."""
    body = ClosingBody()

    def app(_environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    with (
        Watcher(sample_interval=0.5, auto_capture=False) as watcher,
        SERVERS["waitress"](
            wsgi.MemwatchMiddleware(app, auth=allow_all(), watcher=watcher)
        ) as running,
    ):
        assert httpx.get(running.base_url + "/page").text == "app body"
    assert body.closed


def test_wsgi_never_reads_the_body_of_a_memwatch_request():
    """A memwatch request is answered with wsgi.input untouched."""

    class Unreadable(io.RawIOBase):
        def read(self, *_args):
            raise AssertionError("the body was read")

    with Watcher(sample_interval=0.5, auto_capture=False) as watcher:
        middleware = wsgi.MemwatchMiddleware(lambda *_: [], auth=allow_all(), watcher=watcher)
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/ah/memory/gc",
            "CONTENT_LENGTH": "10",
            "wsgi.input": Unreadable(),
        }
        statuses: list[str] = []
        middleware(environ, lambda status, _headers: statuses.append(status))
    assert statuses == ["200 OK"]


def streaming_app(started: list[str]) -> Starlette:
    """Starlette with a streamed response, an echo of the request body and a startup hook."""

    async def chunks():
        for n in range(3):
            yield f"chunk {n};".encode()
            await asyncio.sleep(0.01)

    def stream(_request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        started.append("app")
        yield

    return Starlette(
        routes=[Route("/stream", stream), Route("/echo", echo, methods=["POST"])],
        lifespan=lifespan,
    )


def test_asgi_passes_streams_and_bodies_and_runs_the_lifespan_for_both():
    """Under uvicorn a streamed answer and a 1 MiB request body pass; lifespan starts both."""
    started: list[str] = []
    watcher = Watcher(sample_interval=0.5, auto_capture=False)
    app = asgi.MemwatchMiddleware(streaming_app(started), auth=allow_all(), watcher=watcher)
    watcher.stop()  # as if the server had stopped it: its lifespan.startup must start it again
    with SERVERS["uvicorn"](app) as running, httpx.Client(base_url=running.base_url) as client:
        assert watcher.running
        assert started == ["app"]
        with client.stream("GET", "/stream") as response:
            assert list(response.iter_text()) != []
            assert response.headers.get("transfer-encoding") == "chunked"
        assert client.get("/stream").text == "chunk 0;chunk 1;chunk 2;"
        assert client.post("/echo", content=bytes(2**20)).text == str(2**20)
    assert not watcher.running, "lifespan.shutdown did not stop the watcher"


def test_asgi_runs_the_watcher_without_a_lifespan():
    """Built and never sent a lifespan scope, the middleware's watcher is running."""
    with Watcher(sample_interval=0.5, auto_capture=False) as watcher:
        watcher.stop()
        asgi.MemwatchMiddleware(streaming_app([]), auth=allow_all(), watcher=watcher)
        assert watcher.running


def test_asgi_hands_websockets_to_the_app_with_the_servers_channels():
    """A websocket scope under the prefix reaches the app with the server's receive and send."""
    seen: dict[str, Any] = {}

    async def app(scope, receive, send):
        seen.update(scope=scope, receive=receive, send=send)

    async def receive():
        raise AssertionError("the middleware called receive")

    async def send(_message):
        raise AssertionError("the middleware sent")

    with Watcher(sample_interval=0.5, auto_capture=False) as watcher:
        middleware = asgi.MemwatchMiddleware(app, auth=allow_all(), watcher=watcher)
        scope = {"type": "websocket", "path": "/ah/socket", "headers": []}
        asyncio.run(middleware(scope, receive, send))
    assert (seen["scope"], seen["receive"], seen["send"]) == (scope, receive, send)


def test_asgi_never_receives_the_body_of_a_memwatch_request():
    """A memwatch POST is answered without one call to receive."""
    sent: list[dict[str, Any]] = []

    async def receive():
        raise AssertionError("the body was received")

    async def send(message):
        sent.append(message)

    with Watcher(sample_interval=0.5, auto_capture=False) as watcher:
        middleware = asgi.MemwatchMiddleware(streaming_app([]), auth=allow_all(), watcher=watcher)
        scope = {"type": "http", "method": "POST", "path": "/ah/memory/gc", "headers": []}
        asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 200
