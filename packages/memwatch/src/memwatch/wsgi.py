"""memwatch for any WSGI application: a middleware that answers under the prefix.

::

    from memwatch.auth import bearer_token
    from memwatch.wsgi import MemwatchMiddleware

    application = MemwatchMiddleware(application, auth=bearer_token(os.environ["MEMWATCH_TOKEN"]))

WSGI is a protocol, not a framework: this works for Bottle, Falcon, Pyramid,
Django's ``get_wsgi_application()`` or a bare callable, under any WSGI server.
A request whose ``PATH_INFO`` is under the prefix (:meth:`~memwatch.http.MemwatchAPI.owns`)
is answered by :meth:`memwatch.http.MemwatchAPI.handle`; every other one goes
to the wrapped app with the server's own ``environ`` and ``start_response``,
and its return value (an iterable with or without ``close()``) goes back to the
server as it is. The prefix is relative to the app, as ``PATH_INFO`` is: an
app mounted under a ``SCRIPT_NAME`` keeps its prefix.

``wsgi.input`` is never read: no route takes a body, and reading one before
auth would let an unauthenticated client make the process buffer it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memwatch.http import MemwatchAPI
from memwatch.wire import Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from memwatch.auth import Authorizer
    from memwatch.watcher import Watcher

    Environ = dict[str, Any]
    StartResponse = Callable[..., Any]
    WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

__all__ = ["MemwatchMiddleware", "to_core_request"]

# CGI names the two body headers without the HTTP_ prefix.
_UNPREFIXED = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def _text(wsgi_string: str) -> str:
    """PEP 3333 hands over bytes decoded as latin-1; the core wants the UTF-8 text."""
    return wsgi_string.encode("latin-1").decode("utf-8", "replace")


def to_core_request(environ: Environ) -> Request:
    """Translate a WSGI ``environ`` into the core's :class:`~memwatch.wire.Request`, body unread."""
    headers = [
        (name[5:].replace("_", "-"), value)
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    headers += [(name, environ[key]) for key, name in _UNPREFIXED.items() if environ.get(key)]
    return Request(
        method=environ["REQUEST_METHOD"],
        path=_text(environ.get("PATH_INFO", "")),
        query=environ.get("QUERY_STRING", ""),
        headers=headers,
        client=environ.get("REMOTE_ADDR") or None,
    )


class MemwatchMiddleware:
    """A WSGI app that serves memwatch's API under ``prefix`` and ``app`` everywhere else.

    The watcher starts when the middleware is built (in a forked worker it
    restarts on its own), so it samples before anyone calls the API.

    Args:
        app: The WSGI application to wrap.
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.wire.Request`. Required: nothing
            is exposed by accident.
        prefix: Where the routes live (``/ah/memoryProfile/status`` ...).
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        auth: Authorizer,
        prefix: str = "/ah",
        watcher: Watcher | None = None,
    ) -> None:
        """Wrap ``app`` and start the watcher."""
        self.app = app
        self.api = MemwatchAPI(auth=auth, watcher=watcher, prefix=prefix)
        self.api.start()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Answer a memwatch request, or hand the request to the wrapped app untouched."""
        if not self.api.owns(_text(environ.get("PATH_INFO", ""))):
            return self.app(environ, start_response)
        request = to_core_request(environ)
        response = self.api.handle(request)
        start_response(response.status_line, _with_length(request, response))
        return [response.body]


def _with_length(request: Request, response: Response) -> list[tuple[str, str]]:
    """The headers, with ``Content-Length`` so a server needs neither chunks nor a close."""
    headers = list(response.headers)
    if request.method != "HEAD":  # a HEAD's length would be the GET's, which the core never made
        headers.append(("Content-Length", str(len(response.body))))
    return headers
