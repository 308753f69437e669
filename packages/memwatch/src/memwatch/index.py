"""``GET {prefix}/``: the index of the routes, for clients that discover what a service serves.

The dashboard reads it first: it asks only for routes the index lists (a
service without ``/workers`` is never asked for it, so the browser logs no
404), and it hides its write buttons when ``writable`` is false, which the HTTP
layer decides by asking the service's authorizer whether this client's POST
would pass (``read_only(...)`` says no). A browser that prefers HTML gets the
dashboard page from the same path instead (:func:`memwatch.dashboard.prefers_html`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable

    from memwatch.routes import Route

__all__ = ["RouteIndex", "RouteInfo", "route_index"]


@attrs.frozen
class RouteInfo:
    """One route in the index.

    Attributes:
        name: The route's stable name, e.g. ``"status"``.
        method: Its HTTP method.
        path: Its full path template, prefix included, e.g. ``"/ah/memoryProfile/{id}"``.
    """

    name: str
    method: str
    path: str


@attrs.frozen
class RouteIndex:
    """``GET {prefix}/``: what this API serves, and whether this client may write.

    Attributes:
        routes: Every route, in the order of the route table.
        writable: False when this client's writes (POST, DELETE) would be refused.
        dashboard: The dashboard page's path.
    """

    routes: tuple[RouteInfo, ...]
    writable: bool
    dashboard: str


def route_index(routes: Iterable[Route], prefix: str, *, writable: bool) -> RouteIndex:
    """The index of ``routes`` mounted under ``prefix``."""
    return RouteIndex(
        routes=tuple(RouteInfo(r.name, r.method, prefix + r.template) for r in routes),
        writable=writable,
        dashboard=f"{prefix}/ui",
    )
