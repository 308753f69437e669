"""What the conformance suite's apps serve besides memwatch: a leaking route and a healthy one.

An adapter's :meth:`~memwatch.testing.ConformanceSuite.make_app` mounts
memwatch and routes ``GET /leak`` to :func:`leak` and ``GET /healthy`` to
:func:`healthy`, answering their text as ``text/plain``. :func:`wsgi_app` and
:func:`asgi_app` are such apps without a framework, for the middlewares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

__all__ = ["LEAKED", "THINGS_PER_REQUEST", "LeakyThing", "asgi_app", "healthy", "leak", "wsgi_app"]

LEAKED: list[tuple[LeakyThing, ...]] = []
"""What :func:`leak` has kept, a tuple per request; the suite empties it after each test."""

THINGS_PER_REQUEST = 100


class LeakyThing:
    """What the /leak route leaks: a gc-tracked object holding an untracked kilobyte."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        """Hold ``payload``."""
        self.payload = payload


def leak() -> str:
    """Keep THINGS_PER_REQUEST new LeakyThings until the test ends.

    One tuple per request keeps them: a flat list of every thing would itself
    grow by hundreds of kilobytes at each resize and could top the diff.
    """
    LEAKED.append(tuple(LeakyThing(bytes(1024)) for _ in range(THINGS_PER_REQUEST)))
    return "leaked"


def healthy() -> str:
    """Allocate the same as :func:`leak` and let it all go."""
    things = [LeakyThing(bytes(1024)) for _ in range(THINGS_PER_REQUEST)]
    return f"made {len(things)}"


_ROUTES = {"/leak": leak, "/healthy": healthy}


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI app with the two routes and a 404 elsewhere."""
    route = _ROUTES.get(environ.get("PATH_INFO", ""))
    if route is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [route().encode()]


async def asgi_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """An ASGI app with the two routes, a 404 elsewhere, and the lifespan answered."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    route = _ROUTES.get(scope["path"])
    status, body = (404, b"not found") if route is None else (200, route().encode())
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
