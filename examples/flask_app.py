"""A small Flask service with a leak, and memwatch mounted to find it.

Run it (the profile memwatch captures on a leak opens its own tracing window,
so its diff names the allocating line without tracemalloc on from the start)::

    export MEMWATCH_TOKEN=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    python examples/flask_app.py --port 8000

then drive ``/leak`` and read ``/ah/memoryProfile/status`` with
``Authorization: Bearer $MEMWATCH_TOKEN``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from flask import Flask

from memwatch.auth import bearer_token
from memwatch_flask import Memwatch

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


def create_app(watcher: Watcher | None = None) -> Flask:
    """The service: /leak keeps 100 objects per request, /healthy keeps none."""
    app = Flask(__name__)

    @app.get("/leak")
    def leak() -> str:
        SESSIONS.extend(LeakyThing(len(SESSIONS)) for _ in range(100))
        return f"{len(SESSIONS)} things kept\n"

    @app.get("/healthy")
    def healthy() -> str:
        things = [LeakyThing(n) for n in range(100)]
        return f"{len(things)} things made and dropped\n"

    Memwatch(app, auth=bearer_token(token_from_env()), watcher=watcher)
    return app


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    create_app().run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
