"""A bare ASGI service with a leak, and memwatch's ASGI middleware mounted to find it.

Run it under any ASGI server (tracemalloc on, so diffs also name the line)::

    export MEMWATCH_TOKEN=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    python -X tracemalloc=1 -m uvicorn --app-dir examples asgi_app:app --port 8000

then drive ``/leak`` and read ``/ah/memoryProfile/status`` with
``Authorization: Bearer $MEMWATCH_TOKEN``. The same one line wraps a
Starlette, Litestar, Quart or Django ASGI application; the server's lifespan
messages start and stop memwatch's watcher, and still reach the app.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from memwatch.asgi import MemwatchMiddleware
from memwatch.auth import bearer_token

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

SESSIONS: list[bytearray] = []


async def service(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """/leak keeps 100 kilobytes per request; anything else keeps nothing."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/leak":
        SESSIONS.extend(bytearray(1024) for _ in range(100))
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": f"{len(SESSIONS)} buffers kept\n".encode()})


if not os.environ.get("MEMWATCH_TOKEN"):
    sys.exit("MEMWATCH_TOKEN is not set: export MEMWATCH_TOKEN=<a long random secret> first.")
app = MemwatchMiddleware(service, auth=bearer_token(os.environ["MEMWATCH_TOKEN"]))
