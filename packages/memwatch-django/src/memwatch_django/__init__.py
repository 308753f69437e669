"""memwatch for Django: the memwatch HTTP API as URL patterns to ``include()``.

::

    # urls.py
    from django.urls import include, path
    from memwatch.auth import bearer_token
    from memwatch_django import memwatch_urls

    auth = bearer_token(os.environ["MEMWATCH_TOKEN"])
    urlpatterns = [path("ah/", include(memwatch_urls(auth=auth)))]

and ``"memwatch_django"`` in ``INSTALLED_APPS``, so the process-wide watcher
starts with Django (:mod:`memwatch_django.apps`): gunicorn and uvicorn import
the URLconf only at the first request.

The prefix is wherever the patterns are included: the view takes it from the
path Django matched (``request.path_info`` less what the include left), so
``/ah`` above, ``/_debug/memwatch`` elsewhere, with no setting to keep in step.
With ``"ah/"``, Django answers ``/ah`` itself (``APPEND_SLASH`` redirects it to
``/ah/``, memwatch's 404); included as ``"ah"``, memwatch answers ``/ah`` too,
and Django's 404 answers ``/ahead``, so put such an include after the app's own
routes. Everything but translation lives in :class:`memwatch.http.MemwatchAPI`;
this module turns a Django ``HttpRequest`` into a :class:`memwatch.wire.Request`
(body unread) and the answer into an ``HttpResponse``. The view is CSRF-exempt
(memwatch's auth never rests on cookies) and runs the same under WSGI and ASGI,
where Django runs it in a worker thread, off the event loop.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

from memwatch.http import MemwatchAPI
from memwatch.wire import Request, Response

if TYPE_CHECKING:
    from memwatch.auth import Authorizer
    from memwatch.watcher import Watcher

__all__ = ["memwatch_urls", "to_core_request", "to_django_response"]

_MOUNTS = 16  # distinct prefixes kept: more only with a converter in the include's path


def memwatch_urls(*, auth: Authorizer, watcher: Watcher | None = None) -> list[URLPattern]:
    """The memwatch API as URL patterns for ``path("ah/", include(memwatch_urls(auth=...)))``.

    Every path and method under the include goes to the core, so unknown paths,
    wrong methods and ``OPTIONS`` get memwatch's problem+json answers. The
    watcher starts here too (a custom ``watcher`` is served from then on).

    Args:
        auth: Who may call the API: ``memwatch.auth.bearer_token(secret)``,
            ``loopback_only()``, ``allow_all()``, ``read_only(inner)``, or any
            callable taking a :class:`memwatch.wire.Request`. Required: nothing
            is exposed by accident.
        watcher: The watcher to serve; ``None`` means the process-wide
            :func:`memwatch.watcher.default_watcher`.

    Returns:
        One catch-all pattern named ``memwatch``.
    """
    running = MemwatchAPI(auth=auth, watcher=watcher).start()

    @functools.lru_cache(maxsize=_MOUNTS)
    def api_at(prefix: str) -> MemwatchAPI:
        return MemwatchAPI(auth=auth, watcher=running, prefix=prefix)

    @csrf_exempt
    def memwatch_view(request: HttpRequest, rest: str, **_captured: str) -> HttpResponse:
        mount = request.path_info[: len(request.path_info) - len(rest)]
        api = api_at(mount.rstrip("/"))
        if not api.owns(request.path_info):  # "/ahead" under path("ah", ...)
            raise Http404
        return to_django_response(api.handle(to_core_request(request)))

    # Django 5.1's LoginRequiredMiddleware skips views marked so; memwatch has its own auth.
    memwatch_view.login_required = False  # type: ignore[attr-defined]
    # (?s): a %0A in the path is a newline by now, and must reach the core too.
    return [re_path(r"(?s)^(?P<rest>.*)\Z", memwatch_view, name="memwatch")]


def to_core_request(request: HttpRequest) -> Request:
    """Translate a Django request into the core's :class:`~memwatch.wire.Request`, body unread."""
    return Request(
        method=request.method or "GET",
        path=request.path_info,
        query=request.META.get("QUERY_STRING", ""),
        headers=request.headers.items(),
        client=request.META.get("REMOTE_ADDR") or None,
    )


def to_django_response(response: Response) -> HttpResponse:
    """Translate the core's :class:`~memwatch.wire.Response` into a Django response."""
    translated = HttpResponse(response.body, status=response.status)
    del translated["Content-Type"]  # Django's default text/html; the core sets its own, or none
    for name, value in response.headers:
        translated[name] = value
    return translated
