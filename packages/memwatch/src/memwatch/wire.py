"""The framework-neutral request and response that adapters translate to and from.

:class:`Request` goes into :meth:`memwatch.http.MemwatchAPI.handle`, :class:`Response`
comes out; nothing here knows about routes or auth, so :mod:`memwatch.auth` and
:mod:`memwatch.http` both build on it without importing each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["JSON", "PROBLEM_JSON", "Request", "Response"]

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


def _headers_mapping(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> Mapping[str, str]:
    """Lower-case the names; repeated headers are joined by ``", "``."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return MappingProxyType(merged)


@attrs.frozen
class Request:
    """A framework-neutral HTTP request.

    There is no body: no route takes one, and an adapter that read it would buffer
    whatever an unauthenticated client sends before auth could refuse it.

    Attributes:
        method: The HTTP method, e.g. ``"GET"`` (case-sensitive).
        path: The full path including the prefix, e.g. ``"/ah/memoryProfile/status"``.
        query: The raw query string, without ``?``.
        headers: Header names and values; given as a mapping or as ``(name, value)``
            pairs, kept with lower-case names (repeated headers joined by ``", "``).
            Look them up with :meth:`get_header`.
        client: The peer's address as the server saw it (host only), or ``None``.
        body: Always ``b""`` from memwatch's adapters; kept so that code building a
            ``Request(..., body=...)`` still works. No route reads it.
    """

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_headers_mapping)
    client: str | None = None
    body: bytes = b""

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``default``."""
        return self.headers.get(name.lower(), default)


@attrs.frozen
class Response:
    """A framework-neutral HTTP response.

    Attributes:
        status: The HTTP status code.
        headers: ``(name, value)`` pairs, in the order to send them.
        body: The body: UTF-8 JSON, or empty (204, HEAD); another media type where
            the route says so.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``default``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), default)

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header, or ``None`` for a response without a body."""
        return self.get_header("content-type")

    @property
    def reason(self) -> str:
        """The status's reason phrase, e.g. ``"Not Found"``."""
        return HTTPStatus(self.status).phrase

    @property
    def status_line(self) -> str:
        """Status and reason as WSGI wants them, e.g. ``"404 Not Found"``."""
        return f"{self.status} {self.reason}"

    def json(self) -> Any:
        """The body, decoded from JSON."""
        return json.loads(self.body)
