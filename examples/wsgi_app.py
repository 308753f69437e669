"""A bare WSGI service with a leak, and memwatch's WSGI middleware mounted to find it.

Run it under any WSGI server (tracemalloc on, so diffs also name the line)::

    export MEMWATCH_TOKEN=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    python -X tracemalloc=1 examples/wsgi_app.py --port 8000
    gunicorn --chdir examples wsgi_app:application --bind 127.0.0.1:8000
    waitress-serve --listen 127.0.0.1:8000 --call wsgi_app:create_app   # from examples/

then drive ``/leak`` and read ``/ah/memoryProfile/status`` with
``Authorization: Bearer $MEMWATCH_TOKEN``. The same one line wraps Bottle's,
Falcon's, Pyramid's or Django's WSGI application.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import make_server

from memwatch.auth import bearer_token
from memwatch.wsgi import MemwatchMiddleware

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

SESSIONS: list[bytearray] = []


def service(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """/leak keeps 100 kilobytes per request; anything else keeps nothing."""
    if environ["PATH_INFO"] == "/leak":
        SESSIONS.extend(bytearray(1024) for _ in range(100))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{len(SESSIONS)} buffers kept\n".encode()]


def create_app() -> MemwatchMiddleware:
    """The service with memwatch under /ah, behind the MEMWATCH_TOKEN bearer token."""
    token = os.environ.get("MEMWATCH_TOKEN", "")
    if not token:
        sys.exit("MEMWATCH_TOKEN is not set: export MEMWATCH_TOKEN=<a long random secret> first.")
    return MemwatchMiddleware(service, auth=bearer_token(token))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    make_server("127.0.0.1", parser.parse_args().port, create_app()).serve_forever()
else:
    application = create_app()
