# ruff: noqa: PLC0415, T201 - each framework is imported only when asked for; the port is printed for the test
"""A leaking service with memwatch mounted, tuned to report a leak within seconds.

Started as a subprocess by the CLI and browser tests, as a user would start
their service: ``python leaky_service.py --framework flask``. It binds a free
port on 127.0.0.1, prints ``LISTENING http://127.0.0.1:PORT`` on stdout, and
stops by itself after ``--lifetime`` seconds. ``/leak`` keeps 100
``LeakyThing`` objects (a kilobyte each) per request; ``/healthy`` drops them.
The token comes from ``MEMWATCH_TOKEN``; ``--auth read-only`` wraps it in
``read_only``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
from typing import Any

from memwatch.auth import bearer_token, read_only
from memwatch.watcher import Watcher

SAMPLE = 0.25
# The kit's fast detector (memwatch.testing.checks_process): decides within seconds.
DETECTOR = {
    "resolution": SAMPLE,
    "warmup": 0.0,
    "window": 10.0,
    "quick_span": 2.0,
    "min_span": 2.0,
    "recent_span": 2.0,
    "confirm": 0.5,
    "segments": 4,
    "min_rate": 1024.0 * 1024,
    "min_growth": 0.05,
}
SESSIONS: list[Any] = []


class LeakyThing:
    """What /leak keeps: a gc-tracked object holding an untracked kilobyte."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.payload = bytearray(1024)


def leak() -> str:
    SESSIONS.append(tuple(LeakyThing(n) for n in range(100)))
    return f"{len(SESSIONS)} kept\n"


def healthy() -> str:
    things = [LeakyThing(n) for n in range(100)]
    return f"{len(things)} dropped\n"


def options(args: argparse.Namespace) -> dict[str, Any]:
    auth = bearer_token(os.environ["MEMWATCH_TOKEN"])
    watcher = Watcher(
        sample_interval=SAMPLE, detector_options=DETECTOR, capture_seconds=3.0, auto_capture=True
    )
    watcher.start()
    return {"auth": read_only(auth) if args.auth == "read-only" else auth, "watcher": watcher}


def loopback_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def announce(port: int) -> None:
    print(f"LISTENING http://127.0.0.1:{port}", flush=True)


def serve_flask(args: argparse.Namespace) -> None:
    from flask import Flask
    from werkzeug.serving import WSGIRequestHandler, make_server

    from memwatch_flask import Memwatch

    class Quiet(WSGIRequestHandler):
        def log_request(self, *_args: object, **_kwargs: object) -> None:
            """No request lines on stderr."""

    app = Flask(__name__)
    app.add_url_rule("/leak", "leak", leak)
    app.add_url_rule("/healthy", "healthy", healthy)
    Memwatch(app, **options(args))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Timer(args.lifetime, server.shutdown).start()
    announce(server.server_port)
    server.serve_forever()


def serve_fastapi(args: argparse.Namespace) -> None:
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from memwatch_fastapi import memwatch_router

    app = FastAPI()
    app.add_api_route("/leak", leak, response_class=PlainTextResponse)
    app.add_api_route("/healthy", healthy, response_class=PlainTextResponse)
    app.include_router(memwatch_router(**options(args)))
    sock = loopback_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))

    def stop() -> None:
        server.should_exit = True

    threading.Timer(args.lifetime, stop).start()
    announce(sock.getsockname()[1])
    server.run(sockets=[sock])


def serve_tornado(args: argparse.Namespace) -> None:
    from tornado.httpserver import HTTPServer
    from tornado.web import Application, RequestHandler

    from memwatch_tornado import memwatch_handlers

    class Leak(RequestHandler):
        def get(self) -> None:
            self.write(leak())

    class Healthy(RequestHandler):
        def get(self) -> None:
            self.write(healthy())

    async def serve() -> None:
        app = Application(
            [*memwatch_handlers(**options(args)), ("/leak", Leak), ("/healthy", Healthy)]
        )
        sock = loopback_socket()
        server = HTTPServer(app)
        server.add_sockets([sock])
        announce(sock.getsockname()[1])
        await asyncio.sleep(args.lifetime)
        server.stop()

    asyncio.run(serve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("flask", "fastapi", "tornado"), default="flask")
    parser.add_argument("--auth", choices=("token", "read-only"), default="token")
    parser.add_argument("--lifetime", type=float, default=300.0, help="stop after this long")
    args = parser.parse_args()
    {"flask": serve_flask, "fastapi": serve_fastapi, "tornado": serve_tornado}[args.framework](args)
    sys.exit(0)


if __name__ == "__main__":
    main()
