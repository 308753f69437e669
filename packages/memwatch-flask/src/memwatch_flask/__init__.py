"""memwatch for Flask: the memwatch HTTP API as a Flask extension and Blueprint.

::

    from flask import Flask
    from memwatch.auth import bearer_token
    from memwatch_flask import Memwatch

    app = Flask(__name__)
    Memwatch(app, auth=bearer_token(os.environ["MEMWATCH_TOKEN"]))

or, with an application factory, ``memwatch = Memwatch(auth=...)`` at module
level and ``memwatch.init_app(app)`` inside the factory. The watcher starts at
``init_app``: it samples from then on, whether or not anyone calls the API.

Everything but translation lives in :class:`memwatch.http.MemwatchAPI`:
routing, auth, validation, problem+json errors and headers. This module turns
``flask.request`` into a :class:`memwatch.wire.Request` (never reading the
body: no route takes one, so an unauthenticated client cannot make the worker
buffer it, and ``MAX_CONTENT_LENGTH`` never turns into werkzeug's HTML 413),
the answer into a ``flask.Response``, and mounts the routes as one Blueprint
per app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import flask

from memwatch.http import MemwatchAPI
from memwatch.wire import Request

if TYPE_CHECKING:
    from werkzeug.local import LocalProxy

    from memwatch.auth import Authorizer
    from memwatch.watcher import Watcher
    from memwatch.wire import Response

__all__ = ["EXTENSION_KEY", "Memwatch", "to_core_request", "to_flask_response"]

EXTENSION_KEY = "memwatch"
"""The key of ``app.extensions`` that holds the app's :class:`~memwatch.http.MemwatchAPI`."""


class Memwatch:
    """The memwatch API mounted on one or more Flask apps.

    Args:
        app: The app to mount on now; or call :meth:`init_app` later (app factories).
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.wire.Request`. Required: nothing
            is exposed by accident.
        prefix: Where the routes live (``/ah/memoryProfile/status`` ...).
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`. Started by :meth:`init_app`.
    """

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        auth: Authorizer,
        prefix: str = "/ah",
        watcher: Watcher | None = None,
    ) -> None:
        """Build the API; mount it on ``app`` if one is given."""
        self.api = MemwatchAPI(auth=auth, watcher=watcher, prefix=prefix)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Mount the API on ``app`` and start the watcher.

        Registers a Blueprint and keeps the API in ``app.extensions``.

        Raises:
            RuntimeError: memwatch is already mounted on ``app``.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"memwatch is already mounted on the Flask app {app.name!r}")
        app.extensions[EXTENSION_KEY] = self.api
        app.register_blueprint(self.blueprint())
        if self.api.prefix:  # at the root it would turn the app's own 404s and 405s into ours
            app.before_request(_answer_routing_errors)
        self.api.start()

    def blueprint(self) -> flask.Blueprint:
        """A new Blueprint with one URL rule per route of the contract."""
        bp = flask.Blueprint("memwatch", __name__, url_prefix=self.api.prefix or None)
        for route in self.api.routes:
            bp.add_url_rule(
                route.path(lambda name: f"<{name}>"),
                endpoint=route.name,
                view_func=_view,
                methods=[route.method],
                provide_automatic_options=False,
            )
        return bp


def to_core_request(request: flask.Request) -> Request:
    """Translate a Flask request into the core's :class:`~memwatch.wire.Request`, body unread."""
    return Request(
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
        headers=list(request.headers.items()),
        client=request.remote_addr,
    )


def to_flask_response(response: Response) -> flask.Response:
    """Translate the core's :class:`~memwatch.wire.Response` into a Flask response."""
    translated = flask.Response(response.body, status=response.status, headers=response.headers)
    if response.content_type is None:  # werkzeug would label a 204 text/html
        del translated.headers["Content-Type"]
    return translated


def _answer_routing_errors() -> flask.Response | None:
    """Let the core answer what Flask's router refused under the prefix.

    Unknown paths, methods no rule serves (OPTIONS and extension methods
    included) and werkzeug's slash-merging redirects would otherwise get
    werkzeug's HTML pages; the core answers them with problem+json 404/405.
    Flask runs app-level ``before_request`` functions even when routing failed.
    """
    request = flask.request
    api: MemwatchAPI = flask.current_app.extensions[EXTENSION_KEY]
    if request.routing_exception is None or not api.owns(request.path):
        return None
    return to_flask_response(api.handle(to_core_request(request)))


def _view(**_params: str) -> flask.Response:
    api: MemwatchAPI = flask.current_app.extensions[EXTENSION_KEY]
    # The request itself, not its context-local proxy: each attribute read through
    # the proxy costs a context lookup, and translation reads eight of them.
    proxy = cast("LocalProxy[flask.Request]", flask.request)
    request = proxy._get_current_object()  # noqa: SLF001 - werkzeug's documented way
    return to_flask_response(api.handle(to_core_request(request)))
