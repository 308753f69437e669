"""A small Tornado service with a leak, and memwatch mounted to find it.

Run it (tracemalloc on, so diffs also name the allocating line)::

    export MEMWATCH_TOKEN=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    python -X tracemalloc=1 examples/tornado_app.py --port 8000

then drive ``/leak`` and read ``/ah/memoryProfile/status`` with
``Authorization: Bearer $MEMWATCH_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING

from tornado.web import Application, RequestHandler

from memwatch.auth import bearer_token
from memwatch_tornado import memwatch_handlers

if TYPE_CHECKING:
    from memwatch.watcher import Watcher

SESSIONS: list[LeakyThing] = []


class LeakyThing:
    """A per-request object that /leak forgets to drop."""

    def __init__(self, request_number: int) -> None:
        self.request_number = request_number
        self.payload = bytearray(1024)


class LeakHandler(RequestHandler):
    """Keeps 100 objects per request."""

    def get(self) -> None:
        SESSIONS.extend(LeakyThing(len(SESSIONS)) for _ in range(100))
        self.write(f"{len(SESSIONS)} things kept\n")


class HealthyHandler(RequestHandler):
    """Makes as many and drops them."""

    def get(self) -> None:
        things = [LeakyThing(n) for n in range(100)]
        self.write(f"{len(things)} things made and dropped\n")


def token_from_env() -> str:
    """The bearer token memwatch requires, from MEMWATCH_TOKEN; exits clearly when unset."""
    token = os.environ.get("MEMWATCH_TOKEN", "")
    if not token:
        sys.exit("MEMWATCH_TOKEN is not set: export MEMWATCH_TOKEN=<a long random secret> first.")
    return token


def create_app(watcher: Watcher | None = None) -> Application:
    """The service: /leak keeps 100 objects per request, /healthy keeps none."""
    memwatch = memwatch_handlers(auth=bearer_token(token_from_env()), watcher=watcher)
    return Application([*memwatch, (r"/leak", LeakHandler), (r"/healthy", HealthyHandler)])


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:PORT until interrupted."""
    create_app().listen(port, "127.0.0.1")
    await asyncio.Event().wait()


def main() -> None:
    """Parse the port and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
