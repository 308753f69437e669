"""The route table: the one description of memwatch's HTTP contract.

Each :class:`Route` says everything the contract says about one method on one
path: its name, whether it is heavy, its path and query parameters, its success
status, media type and body schema (a name of :mod:`memwatch.schemas`).
:class:`memwatch.http.MemwatchAPI` dispatches on this table, the adapters mount
it (each renders the templates in its framework's syntax with :meth:`Route.path`),
memwatch-fastapi builds its OpenAPI document from it, and the docs' HTTP
reference is checked against it. A new route is a new row (plus its handler in
:class:`~memwatch.http.MemwatchAPI`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from memwatch.dashboard import FILES
from memwatch.wire import JSON

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "PROMETHEUS_TEXT",
    "RESOURCES",
    "ROUTES",
    "QueryParameter",
    "Resource",
    "Route",
    "resolve",
]

_PARAMETER = re.compile(r"\{(\w+)\}")


@attrs.frozen
class QueryParameter:
    """One query parameter a route reads; the API ignores every other.

    Attributes:
        name: The parameter's name, e.g. ``"details"``.
        values: The values it accepts (compared case-insensitively); ``()`` when
            ``pattern`` says instead.
        description: What it does, for OpenAPI and the docs (Markdown).
        pattern: A regular expression its value must match, when ``values`` is empty.
    """

    name: str
    values: tuple[str, ...]
    description: str
    pattern: str = ""


@attrs.frozen
class Route:
    """One route of the HTTP contract.

    Attributes:
        method: The HTTP method it answers (``HEAD`` is answered for every GET route).
        template: Its path relative to the prefix; ``{id}`` is a path parameter.
        name: A stable name, e.g. ``"start_profile"``.
        heavy: True when it runs a census or a full collection: async adapters run it
            off the event loop.
        status: The status of a successful answer.
        bodies: The :mod:`memwatch.schemas` names its successful body validates
            against (one of them; several when a query parameter chooses).
        media_type: The ``Content-Type`` of a successful answer.
        query: The query parameters it reads.
        public: True for the dashboard's static files, served without auth: a browser
            navigation cannot send a bearer token, and they hold no data.
    """

    method: str
    template: str
    name: str
    heavy: bool = False
    status: int = 200
    bodies: tuple[str, ...] = ()
    media_type: str = JSON
    query: tuple[QueryParameter, ...] = ()
    public: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        """The template's path segments, e.g. ``("memoryProfile", "{id}", "end")``."""
        return tuple(self.template.split("/")[1:])

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the template's path parameters, in order, e.g. ``("id",)``."""
        return tuple(_PARAMETER.findall(self.template))

    def path(self, parameter: Callable[[str], str], literal: Callable[[str], str] = str) -> str:
        """The template in a framework's syntax: each path parameter rendered by ``parameter``.

        ``route.path(lambda name: f"<{name}>")`` gives Flask's syntax;
        ``route.path(lambda name: f"(?P<{name}>[^/]+)", re.escape)`` a regex, with
        ``literal`` escaping the text between parameters.
        """
        parts = _PARAMETER.split(self.template)  # literal, name, literal, name, ..., literal
        return "".join(parameter(part) if i % 2 else literal(part) for i, part in enumerate(parts))


_DETAILS = QueryParameter(
    "details",
    ("true", "false", "1", "0"),
    "`true` (or `1`) for the full profiles instead of their ids.",
)

_PID = QueryParameter(
    "pid",
    (),
    "A worker's process id: answer for that worker of the host (see the workers guide).",
    pattern="^[1-9][0-9]{0,9}$",
)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of ``GET /metrics``: Prometheus' text exposition format 0.0.4."""

_TRACE = QueryParameter(
    "trace",
    ("true", "false", "1", "0"),
    "`true` (or `1`) opens a tracing window for this profile: tracemalloc runs for its "
    "first `trace_seconds` (20 s), and its diff names the allocating line in application "
    "code. Default `false` "
    "for a profile started here; one memwatch captures on a leak traces by default.",
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/memoryProfile/status", "status", bodies=("status",), query=(_PID,)),
    Route("GET", "/memoryProfile/{id}", "get_profile", bodies=("profile",)),
    Route("DELETE", "/memoryProfile/{id}", "delete_profile", bodies=("message",)),
    Route(
        "GET",
        "/memory",
        "list_profiles",
        bodies=("profile_id_list", "profile_list"),
        query=(_DETAILS,),
    ),
    Route(
        "POST",
        "/memoryProfile",
        "start_profile",
        heavy=True,
        status=201,
        bodies=("profile",),
        query=(_PID, _TRACE),
    ),
    Route("POST", "/memoryProfile/{id}/end", "end_profile", heavy=True, bodies=("profile",)),
    Route("POST", "/memory/gc", "force_gc", heavy=True, bodies=("gc_result",)),
    Route("GET", "/workers", "workers", bodies=("workers",)),
    Route("GET", "/metrics", "metrics", media_type=PROMETHEUS_TEXT),
    Route("GET", "/memory/samples", "samples", bodies=("sample_series",)),
    # The index answers the dashboard page instead to a client that prefers HTML (a browser).
    Route("GET", "/", "index", bodies=("index",)),
    *(
        Route("GET", file.path, file.route, media_type=file.media_type, public=True)
        for file in FILES
    ),
)
"""The routes of the HTTP contract (docs/http-api.md), in the order the docs list them."""


@attrs.frozen
class Resource:
    """One path template and the routes on it, by method: built once from the table.

    Attributes:
        template: The path template, e.g. ``"/memoryProfile/{id}"``.
        segments: Its segments (see :attr:`Route.segments`).
        methods: The route for each method, ``HEAD`` mapped to the GET route.
        allow: The ``Allow`` header for this path, ``OPTIONS`` included.
    """

    template: str
    segments: tuple[str, ...]
    methods: Mapping[str, Route]
    allow: tuple[tuple[str, str], ...]


def _resources() -> tuple[Resource, ...]:
    by_template: dict[str, dict[str, Route]] = {}
    for route in ROUTES:
        by_template.setdefault(route.template, {})[route.method] = route
    resources = []
    for template, methods in by_template.items():
        segments = next(iter(methods.values())).segments
        if "GET" in methods:
            methods["HEAD"] = methods["GET"]  # HEAD answers what GET would
        allow = (("Allow", ", ".join(sorted({*methods, "OPTIONS"}))),)
        resources.append(Resource(template, segments, MappingProxyType(methods), allow))
    # A literal segment beats {id}: /memoryProfile/status is the status route, not a profile.
    return tuple(sorted(resources, key=lambda resource: "{" in resource.template))


RESOURCES = _resources()


def _match(expected: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(expected) != len(segments):
        return None
    params: dict[str, str] = {}
    for want, got in zip(expected, segments, strict=True):
        if want.startswith("{"):
            params[want[1:-1]] = got
        elif want != got:
            return None
    return params


def resolve(segments: list[str]) -> tuple[Resource, dict[str, str]] | None:
    """The resource whose template matches these path segments, and its path parameters.

    Args:
        segments: The path relative to the prefix, split at ``/`` (no leading empty one).

    Returns:
        The resource and its parameters by name, or ``None`` when no template matches.
    """
    for resource in RESOURCES:
        params = _match(resource.segments, segments)
        if params is not None:
            return resource, params
    return None
