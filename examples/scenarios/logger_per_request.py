"""Scenario: a logger per request id; the logging manager keeps every one of them."""

from __future__ import annotations

import itertools
import logging

from flask import Flask

CULPRIT = {"type": "logging.Logger", "root": "logging.root.manager.loggerDict"}
_requests = itertools.count()


def create_app() -> Flask:
    """The service: /work logs through a logger named after the request."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        log = logging.getLogger(f"service.request.{next(_requests)}")  # culprit
        log.debug("handled")
        return "done"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
