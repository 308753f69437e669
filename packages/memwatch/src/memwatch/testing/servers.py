# ruff: noqa: PLC0415 - each server is imported only when it runs, so a kit user needs only theirs
"""Real servers on 127.0.0.1 for the conformance suite: one context manager per server.

Each runner serves an app on a free loopback port and yields a :class:`Running`
(base URL, the thread that serves, the pid that answers); leaving the ``with``
stops the server and joins its thread, or terminates its process:

* ``werkzeug``: werkzeug's threaded ``make_server`` (WSGI), a thread per request;
* ``waitress``: waitress's server (WSGI) with its thread pool;
* ``uvicorn``: ``uvicorn.Server`` (ASGI) on an event loop in a thread of its own,
  stopped with ``should_exit``; the lifespan scope is sent (``lifespan="auto"``);
* ``tornado``: Tornado's ``HTTPServer`` on an event loop in a thread of its own;
* ``gunicorn``: a gunicorn master with one worker in a subprocess (WSGI, or ASGI
  through uvicorn's worker class), serving an app given as ``module:attribute``.

Request logs are off: pytest keeps every captured log record until the test
ends, itself a leak that would outgrow the one a test drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import httpx

    from memwatch.watcher import Watcher

__all__ = ["SERVERS", "Running", "Served", "gunicorn", "tornado", "uvicorn", "waitress", "werkzeug"]

_START_SECONDS = 30.0


@dataclass(frozen=True)
class Running:
    """A server that is up.

    Attributes:
        base_url: ``http://127.0.0.1:<port>``.
        thread: The thread whose event loop serves requests, or ``None`` when
            requests are served by a thread pool or another process.
        pid: The process that answers, or ``None`` while unknown (a subprocess).
        master: The server's own process when it runs in another one, else ``None``.
    """

    base_url: str
    thread: threading.Thread | None
    pid: int | None
    master: int | None = None


@dataclass(frozen=True)
class Served:
    """An app served for one check.

    Attributes:
        client: An httpx client on the server's base URL.
        base_url: ``http://127.0.0.1:<port>``.
        thread: The thread whose event loop serves requests, or ``None``.
        pid: The process whose memwatch answers.
        watcher: The watcher served, when it lives in this process; else ``None``.
    """

    client: httpx.Client
    base_url: str
    thread: threading.Thread | None
    pid: int
    watcher: Watcher | None


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.contextmanager
def werkzeug(app: Any) -> Iterator[Running]:
    """Serve a WSGI app with werkzeug's threaded development server."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietRequestHandler(WSGIRequestHandler):
        def log_request(self, *_args: object, **_kwargs: object) -> None:
            """Log no request lines."""

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug", daemon=True)
    thread.start()
    try:
        yield Running(f"http://127.0.0.1:{server.server_port}", None, os.getpid())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def waitress(app: Any) -> Iterator[Running]:
    """Serve a WSGI app with waitress and its thread pool."""
    from waitress.server import create_server

    server: Any = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def serve() -> None:
        # One poll at a time, so the loop notices the stop flag within a tenth of a second.
        while not stop.is_set():
            server.asyncore.loop(timeout=0.1, map=server._map, count=1)  # noqa: SLF001 - waitress's own loop
        server.task_dispatcher.shutdown()
        server.asyncore.close_all(server._map)  # noqa: SLF001 - as waitress's own shutdown does

    thread = threading.Thread(target=serve, name="waitress", daemon=True)
    thread.start()
    try:
        yield Running(f"http://127.0.0.1:{server.effective_port}", None, os.getpid())
    finally:
        stop.set()
        thread.join(10)


@contextlib.contextmanager
def uvicorn(app: Any) -> Iterator[Running]:
    """Serve an ASGI app with uvicorn on an event loop in a thread of its own."""
    import uvicorn as uvicorn_module

    sock = _loopback_socket()
    config = uvicorn_module.Config(
        app, ws="none", http="h11", log_level="warning", lifespan="auto", access_log=False
    )
    server = uvicorn_module.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn")
    thread.start()
    try:
        deadline = time.monotonic() + _START_SECONDS
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        yield Running(_url(sock), thread, os.getpid())
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def tornado(app: Any) -> Iterator[Running]:
    """Serve a Tornado ``Application`` with its own ``HTTPServer`` on a thread's event loop."""
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
        if not ready.wait(_START_SECONDS):
            raise RuntimeError("tornado did not start")
        yield Running(_url(sock), thread, os.getpid())
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


@contextlib.contextmanager
def gunicorn(
    target: str,
    *,
    env: Mapping[str, str] | None = None,
    worker_class: str = "sync",
    pythonpath: str | None = None,
    workers: int = 1,
) -> Iterator[Running]:
    """Serve ``target`` (``module:attribute``) with a gunicorn master and its workers.

    Args:
        target: What gunicorn loads, e.g. ``"myproject.wsgi:application"``.
        env: Extra environment variables for the server process.
        worker_class: ``"sync"``, ``"gthread"``, or ``"uvicorn.workers.UvicornWorker"``
            for an ASGI app.
        pythonpath: A directory to put first on the server's ``sys.path``.
        workers: How many worker processes to fork.

    Yields:
        The server; its ``pid`` is ``None`` (the worker that answers tells, in
        ``Memwatch-Pid``) and :attr:`Running.master` is the master's pid.
    """
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}"]
    command += ["--worker-class", worker_class, "--log-level", "warning", "--graceful-timeout", "2"]
    if pythonpath:
        command += ["--pythonpath", pythonpath]
    master = subprocess.Popen([*command, target], env={**os.environ, **(env or {})})  # noqa: S603 - our own interpreter
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_SECONDS
        while True:
            try:
                httpx.get(base_url + "/", timeout=5)
                break
            except httpx.TransportError:
                if master.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not serve {target}") from None
                time.sleep(0.1)
        yield Running(base_url, None, None, master.pid)
    finally:
        master.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: no graceful wait
        master.wait(15)


SERVERS: dict[str, Callable[..., contextlib.AbstractContextManager[Running]]] = {
    "werkzeug": werkzeug,
    "waitress": waitress,
    "uvicorn": uvicorn,
    "tornado": tornado,
    "gunicorn": gunicorn,
}
"""Every runner by name, as :attr:`memwatch.testing.ConformanceSuite.server` names them."""
