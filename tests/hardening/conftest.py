# ruff: noqa: PLC0415 - each adapter is imported only when its tests run, so a tox env with one framework installed skips the others
"""Fixtures of the hardening suite: the three adapters' apps on memwatch.testing's real servers.

``adapter`` is ``flask``, ``fastapi`` or ``tornado`` (one that is not installed
is skipped); ``serve(**memwatch)`` builds that adapter's app (memwatch mounted
with these options, plus the kit's ``/leak`` and ``/healthy``) and serves it
with the runner :mod:`memwatch.testing.servers` names for it, until the test ends.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

from memwatch.store import MemoryProfileStore
from memwatch.testing import LEAKED, SERVERS, Served, healthy, leak
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ADAPTERS = ("flask", "fastapi", "tornado")


def flask_app(**memwatch: Any) -> Any:
    import flask

    from memwatch_flask import Memwatch

    app = flask.Flask("hardening")
    app.add_url_rule("/leak", "leak", leak)
    app.add_url_rule("/healthy", "healthy", healthy)
    Memwatch(app, **memwatch)
    return app


def fastapi_app(**memwatch: Any) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from memwatch_fastapi import memwatch_router

    app = FastAPI()
    app.add_api_route("/leak", leak, response_class=PlainTextResponse)
    app.add_api_route("/healthy", healthy, response_class=PlainTextResponse)
    app.include_router(memwatch_router(**memwatch))
    return app


def tornado_app(**memwatch: Any) -> Any:
    from tornado.web import Application, RequestHandler

    from memwatch_tornado import memwatch_handlers

    class Leak(RequestHandler):
        def get(self) -> None:
            self.write(leak())

    class Healthy(RequestHandler):
        def get(self) -> None:
            self.write(healthy())

    return Application([*memwatch_handlers(**memwatch), (r"/leak", Leak), (r"/healthy", Healthy)])


BUILDERS: dict[str, tuple[Callable[..., Any], str]] = {
    "flask": (flask_app, "werkzeug"),
    "fastapi": (fastapi_app, "uvicorn"),
    "tornado": (tornado_app, "tornado"),
}
"""Each adapter's app and the server it runs on."""


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """The name of the adapter under test; skips one that is not installed."""
    name: str = request.param
    pytest.importorskip(f"memwatch_{name}")
    return name


@pytest.fixture
def serve(adapter: str) -> Iterator[Callable[..., Served]]:
    """Serve the adapter's app with these memwatch options; everything stops at teardown."""
    with contextlib.ExitStack() as stack:

        def start(**memwatch: Any) -> Served:
            build, server = BUILDERS[adapter]
            running = stack.enter_context(SERVERS[server](build(**memwatch)))
            client = stack.enter_context(httpx.Client(base_url=running.base_url, timeout=30))
            return Served(client, running.base_url, running.thread, os.getpid(), None)

        yield start
    LEAKED.clear()


@pytest.fixture
def leaked() -> Iterator[list[Any]]:
    """What the /leak route has kept so far (a tuple per request); emptied after the test."""
    yield LEAKED
    LEAKED.clear()


# The same Hypothesis profiles as the core's tests (HYPOTHESIS_PROFILE=fast|ci|thorough).
settings.register_profile(
    "fast", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture
def watcher() -> Iterator[Watcher]:
    """A watcher of its own per test (no auto-capture, room for many profiles)."""
    with Watcher(
        sample_interval=0.5, auto_capture=False, store=MemoryProfileStore(max_profiles=1000)
    ) as running:
        yield running
