"""The WSGI middleware passes the conformance suite under waitress and gunicorn: bare, Bottle."""

from __future__ import annotations

from typing import Any

import bottle

from memwatch.testing import ConformanceSuite, healthy, leak, wsgi_app
from memwatch.wsgi import MemwatchMiddleware


def bottle_app() -> bottle.Bottle:
    """A Bottle app with the suite's two routes."""
    app = bottle.Bottle()
    app.route("/leak")(leak)
    app.route("/healthy")(healthy)
    return app


class TestPlainWSGIUnderWaitress(ConformanceSuite):
    server = "waitress"

    def make_app(self, **memwatch: Any) -> Any:
        return MemwatchMiddleware(wsgi_app, **memwatch)


class TestPlainWSGIUnderGunicorn(TestPlainWSGIUnderWaitress):
    server = "gunicorn"


class TestBottleUnderWaitress(TestPlainWSGIUnderWaitress):
    def make_app(self, **memwatch: Any) -> Any:
        return MemwatchMiddleware(bottle_app(), **memwatch)


class TestBottleUnderGunicorn(TestBottleUnderWaitress):
    server = "gunicorn"
