# ruff: noqa: PLC0415 - each adapter and server is imported only when its tests run, so a tox env with one framework installed skips the others
"""One tiny app per framework, each served by a real server on 127.0.0.1, for the shared suite.

Every test in this directory takes the ``adapter`` fixture (``flask``,
``fastapi``, ``tornado``; an adapter that is not installed is skipped) and the
``serve`` fixture, which builds that framework's app with memwatch mounted plus
two routes of its own (``/leak`` keeps what it allocates, ``/healthy`` drops
it) and serves it on a free port in a background thread:

* Flask under werkzeug's threaded ``make_server`` (and gunicorn in one test);
* FastAPI under ``uvicorn.Server`` in a thread, stopped with ``should_exit``;
* Tornado under its own ``HTTPServer`` on an event loop in its own thread.

Requests go through httpx, over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ADAPTERS = ("flask", "fastapi", "tornado")

LEAKED: list[Any] = []


class LeakyThing:
    """What the /leak route leaks: a gc-tracked object holding an untracked kilobyte."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


THINGS_PER_REQUEST = 100


def leak() -> str:
    """Keep THINGS_PER_REQUEST new LeakyThings forever (until the test clears LEAKED).

    One tuple per request keeps them: a flat list of every thing would itself
    grow by hundreds of kilobytes at each resize and could top the diff.
    """
    LEAKED.append(tuple(LeakyThing(bytes(1024)) for _ in range(THINGS_PER_REQUEST)))
    return "leaked"


def healthy() -> str:
    """Allocate the same as leak() and let it all go."""
    things = [LeakyThing(bytes(1024)) for _ in range(THINGS_PER_REQUEST)]
    return f"made {len(things)}"


@dataclass
class Served:
    """A running server: its base URL, the thread its loop runs on, and an httpx client."""

    base_url: str
    thread: threading.Thread
    client: httpx.Client


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


# -- the apps ------------------------------------------------------------------


def flask_app(**memwatch: Any) -> Any:
    import flask

    from memwatch_flask import Memwatch

    app = flask.Flask("conformance")
    app.add_url_rule("/leak", "leak", leak)
    app.add_url_rule("/healthy", "healthy", healthy)
    Memwatch(app, **memwatch)
    return app


def fastapi_app(**memwatch: Any) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from memwatch_fastapi import memwatch_router

    app = FastAPI()
    app.add_api_route("/leak", leak, response_class=PlainTextResponse)
    app.add_api_route("/healthy", healthy, response_class=PlainTextResponse)
    app.include_router(memwatch_router(**memwatch))
    return app


def tornado_app(**memwatch: Any) -> Any:
    from tornado.web import Application, RequestHandler

    from memwatch_tornado import memwatch_handlers

    class Leak(RequestHandler):
        def get(self) -> None:
            self.write(leak())

    class Healthy(RequestHandler):
        def get(self) -> None:
            self.write(healthy())

    return Application([*memwatch_handlers(**memwatch), (r"/leak", Leak), (r"/healthy", Healthy)])


# -- the servers ------------------------------------------------------------------


@contextlib.contextmanager
def run_flask(app: Any) -> Iterator[tuple[str, threading.Thread]]:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietRequestHandler(WSGIRequestHandler):
        def log_request(self, *_args: object, **_kwargs: object) -> None:
            """Log no request lines: pytest's log capture keeps every record until the test
            ends, which is itself a leak of dicts that would outgrow the one under test."""

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", thread
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def run_fastapi(app: Any) -> Iterator[tuple[str, threading.Thread]]:
    import uvicorn

    sock = _loopback_socket()
    config = uvicorn.Config(app, ws="none", http="h11", log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn")
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start within 5 s"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", thread
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def run_tornado(app: Any) -> Iterator[tuple[str, threading.Thread]]:
    from tornado.httpserver import HTTPServer

    sock = _loopback_socket()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        server = HTTPServer(app)
        server.add_sockets([sock])
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await box["stop"].wait()
        server.stop()
        await server.close_all_connections()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="tornado")
    thread.start()
    try:
        assert ready.wait(5), "tornado did not start within 5 s"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", thread
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


BUILDERS: dict[str, tuple[Callable[..., Any], Callable[[Any], Any]]] = {
    "flask": (flask_app, run_flask),
    "fastapi": (fastapi_app, run_fastapi),
    "tornado": (tornado_app, run_tornado),
}


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """The name of the adapter under test; skips one that is not installed."""
    name: str = request.param
    pytest.importorskip(f"memwatch_{name}")
    return name


@pytest.fixture
def serve(adapter: str) -> Iterator[Callable[..., Served]]:
    """Serve the adapter's app with these memwatch options; everything stops at teardown."""
    with contextlib.ExitStack() as stack:

        def start(**memwatch: Any) -> Served:
            build, run = BUILDERS[adapter]
            base_url, thread = stack.enter_context(run(build(**memwatch)))
            client = stack.enter_context(httpx.Client(base_url=base_url, timeout=30))
            return Served(base_url, thread, client)

        yield start
    LEAKED.clear()


@pytest.fixture
def leaked() -> Iterator[list[Any]]:
    """What the /leak route has kept so far (a tuple per request); emptied after the test."""
    yield LEAKED
    LEAKED.clear()
