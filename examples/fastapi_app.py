"""A small FastAPI service with a leak, and memwatch mounted to find it.

Run it (tracemalloc on, so diffs also name the allocating line)::

    export MEMWATCH_TOKEN=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    python -X tracemalloc=1 examples/fastapi_app.py --port 8000

then drive ``/leak`` and read ``/ah/memoryProfile/status`` with
``Authorization: Bearer $MEMWATCH_TOKEN``; ``/docs`` shows memwatch's routes.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from memwatch.auth import bearer_token
from memwatch_fastapi import memwatch_lifespan, memwatch_router

if TYPE_CHECKING:
    from memwatch.watcher import Watcher

SESSIONS: list[LeakyThing] = []


class LeakyThing:
    """A per-request object that /leak forgets to drop."""

    def __init__(self, request_number: int) -> None:
        self.request_number = request_number
        self.payload = bytearray(1024)


def token_from_env() -> str:
    """The bearer token memwatch requires, from MEMWATCH_TOKEN; exits clearly when unset."""
    token = os.environ.get("MEMWATCH_TOKEN", "")
    if not token:
        sys.exit("MEMWATCH_TOKEN is not set: export MEMWATCH_TOKEN=<a long random secret> first.")
    return token


def create_app(watcher: Watcher | None = None) -> FastAPI:
    """The service: /leak keeps 100 objects per request, /healthy keeps none."""
    app = FastAPI(title="leaky", lifespan=memwatch_lifespan(watcher))

    @app.get("/leak", response_class=PlainTextResponse)
    def leak() -> str:
        SESSIONS.extend(LeakyThing(len(SESSIONS)) for _ in range(100))
        return f"{len(SESSIONS)} things kept\n"

    @app.get("/healthy", response_class=PlainTextResponse)
    def healthy() -> str:
        things = [LeakyThing(n) for n in range(100)]
        return f"{len(things)} things made and dropped\n"

    app.include_router(memwatch_router(auth=bearer_token(token_from_env()), watcher=watcher))
    return app


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
