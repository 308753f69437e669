"""memwatch-django passes the conformance suite under gunicorn (WSGI) and uvicorn (ASGI)."""

from __future__ import annotations

import types
from typing import Any

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import clear_url_caches, include, path

from memwatch.testing import ConformanceSuite, healthy, leak
from memwatch_django import memwatch_urls

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]


def configure() -> None:
    """Settings for a project with the CSRF middleware on (memwatch's POSTs must pass it)."""
    if not settings.configured:
        settings.configure(
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            INSTALLED_APPS=["memwatch_django"],
            MIDDLEWARE=MIDDLEWARE,
            ROOT_URLCONF=None,
            SECRET_KEY="conformance-secret",
            DATABASES={},
        )
        django.setup()


def _text(answer: Any) -> Any:
    def view(_request: HttpRequest) -> HttpResponse:
        return HttpResponse(answer(), content_type="text/plain")

    return view


def urlconf(prefix: str = "/ah", **memwatch: Any) -> types.ModuleType:
    """A URLconf with the suite's two routes and memwatch included at ``prefix``."""
    module = types.ModuleType("conformance_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("leak", _text(leak)),
        path("healthy", _text(healthy)),
        path(prefix.lstrip("/"), include(memwatch_urls(**memwatch))),
    ]
    return module


def project(prefix: str = "/ah", **memwatch: Any) -> None:
    """Configure Django and make a new URLconf the project's root."""
    configure()
    settings.ROOT_URLCONF = urlconf(prefix, **memwatch)
    clear_url_caches()


class TestDjangoUnderGunicorn(ConformanceSuite):
    server = "gunicorn"

    def make_app(self, **memwatch: Any) -> Any:
        project(**memwatch)
        return get_wsgi_application()


class TestDjangoUnderUvicorn(ConformanceSuite):
    server = "uvicorn"
    # Django's ASGI handler reads every body (spooled to disk past 2.5 MB) before any view
    # runs, so uvicorn answers Expect: 100-continue for it; memwatch's view never reads it.
    expect_continue_by_server = True

    def make_app(self, **memwatch: Any) -> Any:
        project(**memwatch)
        return get_asgi_application()
