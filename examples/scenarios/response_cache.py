"""Scenario: an unbounded response cache of rendered str/bytes bodies, keyed per request.

Strings and bytes are not gc-tracked, and a dict holding only them is not
either: a census sees almost nothing while megabytes pile up.
"""

from __future__ import annotations

import itertools

from flask import Flask

CULPRIT = {"type": "bytes", "root": "response_cache._RENDERED_BODIES"}
_RENDERED_BODIES: dict[str, bytes] = {}
_requests = itertools.count()


def render(path: str, n: int) -> bytes:
    """A page body, a little different for every request."""
    return (
        f"<html><body><h1>{path}</h1>" + "<p>row</p>" * 120 + f"{n}</body></html>"
    ).encode()  # culprit


def create_app() -> Flask:
    """The service: /work caches every rendered body under a key that never repeats."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> bytes:
        n = next(_requests)
        key = f"/report?id={n}"
        _RENDERED_BODIES[key] = render(key, n)  # culprit
        return _RENDERED_BODIES[key]

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
