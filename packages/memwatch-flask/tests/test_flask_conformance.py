"""memwatch-flask passes the conformance suite under werkzeug's server and under gunicorn."""

from __future__ import annotations

from typing import Any

import flask

from memwatch.testing import ConformanceSuite, healthy, leak
from memwatch_flask import Memwatch


class TestFlask(ConformanceSuite):
    server = "werkzeug"

    def make_app(self, **memwatch: Any) -> Any:
        app = flask.Flask("conformance")
        app.add_url_rule("/leak", "leak", leak)
        app.add_url_rule("/healthy", "healthy", healthy)
        Memwatch(app, **memwatch)
        return app


class TestFlaskUnderGunicorn(TestFlask):
    server = "gunicorn"
