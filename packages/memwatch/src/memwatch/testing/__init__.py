"""memwatch's adapter test kit: the conformance suite, real servers, schema checks, strategies.

An adapter proves itself by subclassing :class:`ConformanceSuite` in its own
tests (see docs/adapters.md)::

    from memwatch.testing import ConformanceSuite, healthy, leak

    class TestMyFramework(ConformanceSuite):
        server = "uvicorn"
        event_loop = True

        def make_app(self, **memwatch):
            ...  # an app with memwatch mounted (memwatch's options passed through),
            ...  # GET /leak answering leak() and GET /healthy answering healthy()

Install it with ``pip install "memwatch[testing]"`` (pytest, httpx, jsonschema,
Hypothesis); each server is imported only when a suite runs on it. Nothing in
memwatch's runtime modules imports this package.
"""

from __future__ import annotations

from memwatch.testing.apps import LEAKED, LeakyThing, asgi_app, healthy, leak, wsgi_app
from memwatch.testing.servers import SERVERS, Running, Served
from memwatch.testing.suite import AUTH_HEADERS, TOKEN, ConformanceSuite

__all__ = [
    "AUTH_HEADERS",
    "LEAKED",
    "SERVERS",
    "TOKEN",
    "ConformanceSuite",
    "LeakyThing",
    "Running",
    "Served",
    "asgi_app",
    "healthy",
    "leak",
    "wsgi_app",
]
