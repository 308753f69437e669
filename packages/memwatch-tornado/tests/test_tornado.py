"""The Tornado handlers' own behaviour: mounting styles, names, write_error, XSRF.

The HTTP contract itself is checked over real servers by the shipped conformance suite;
these tests serve each application on a loopback socket inside asyncio.run.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from memwatch.auth import allow_all
from memwatch.testing.contract import assert_problem
from memwatch.watcher import Watcher
from memwatch_tornado import memwatch_handlers


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("hi")


@pytest.fixture
def watcher():
    """A watcher without a polling thread: mounting starts its gc callback, teardown stops it."""
    watcher = Watcher(background=False, auto_capture=False)
    yield watcher
    watcher.stop()


def _requests(app, *calls):
    """Serve ``app`` on a loopback port and send each (method, path); return the responses."""

    async def run():
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(app)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                return [await client.request(method, path) for method, path in calls]
        finally:
            server.stop()
            await server.close_all_connections()

    return asyncio.run(run())


def test_add_handlers_mounts_on_an_existing_application(watcher):
    """app.add_handlers(...) mounts memwatch next to the app's own routes."""
    app = Application([(r"/hello", Hello)])
    app.add_handlers(r".*", memwatch_handlers(auth=allow_all(), watcher=watcher))
    status, hello = _requests(app, ("GET", "/ah/memoryProfile/status"), ("GET", "/hello"))
    assert status.status_code == 200
    assert status.json()["process"]["pid"] == os.getpid()
    assert hello.text == "hi"


def test_specs_are_named_for_reverse_url(watcher):
    """Each path of the contract is a named spec, so reverse_url builds its URL."""
    app = Application(memwatch_handlers(auth=allow_all(), watcher=watcher))
    assert app.reverse_url("memwatch.status") == "/ah/memoryProfile/status"
    assert app.reverse_url("memwatch.end_profile", "abc") == "/ah/memoryProfile/abc/end"


def test_method_tornado_refuses_is_a_problem_through_write_error(watcher):
    """A method outside SUPPORTED_METHODS gets the core's 405 problem with Allow, not HTML."""
    app = Application(memwatch_handlers(auth=allow_all(), watcher=watcher))
    (response,) = _requests(app, ("PROPFIND", "/ah/memoryProfile/status"))
    assert_problem(405, response.headers, response.content, pid=os.getpid())
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_other_tornado_errors_are_problems_through_write_error(watcher):
    """An error Tornado raises in the handler becomes a problem with memwatch's headers."""
    app = Application(memwatch_handlers(auth=allow_all(), watcher=watcher))
    handler_class = app.wildcard_router.rules[0].target
    original = handler_class._serve

    async def broken(_self):
        raise RuntimeError("boom")

    handler_class._serve = broken
    try:
        (response,) = _requests(app, ("GET", "/ah/memoryProfile/status"))
    finally:
        handler_class._serve = original
    problem = assert_problem(500, response.headers, response.content, pid=os.getpid())
    assert "boom" not in problem["detail"]


def test_xsrf_protected_apps_still_serve_memwatch_posts(watcher):
    """With xsrf_cookies on, memwatch's POSTs are decided by its auth, not by a cookie check."""
    app = Application(memwatch_handlers(auth=allow_all(), watcher=watcher), xsrf_cookies=True)
    (response,) = _requests(app, ("POST", "/ah/memory/gc"))
    assert response.status_code == 200


def test_mounted_at_the_root_leaves_later_routes_alone(watcher):
    """With prefix "" no fallback is added, so the app's own routes after memwatch still answer."""
    app = Application(
        [*memwatch_handlers(auth=allow_all(), prefix="", watcher=watcher), (r"/hello", Hello)]
    )
    status, hello, missing = _requests(
        app, ("GET", "/memoryProfile/status"), ("GET", "/hello"), ("GET", "/nowhere")
    )
    assert status.status_code == 200
    assert hello.text == "hi"
    assert missing.status_code == 404
    assert "Memwatch-Pid" not in missing.headers
