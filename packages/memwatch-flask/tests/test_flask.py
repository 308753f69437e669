"""The Flask extension's own behaviour: app factories, several apps, the Blueprint, translation.

The HTTP contract itself is checked over real servers by the shipped conformance suite;
these tests use Flask's in-process test client.
"""

from __future__ import annotations

import flask
import pytest

from memwatch.auth import allow_all, bearer_token
from memwatch.http import MemwatchAPI
from memwatch.watcher import Watcher
from memwatch_flask import EXTENSION_KEY, Memwatch, to_core_request


@pytest.fixture
def watcher():
    """A watcher without a polling thread: mounting starts its gc callback, teardown stops it."""
    watcher = Watcher(background=False, auto_capture=False)
    yield watcher
    watcher.stop()


def test_app_factory_pattern_with_init_app(watcher):
    """One Memwatch created without an app serves every app its init_app is given."""
    memwatch = Memwatch(auth=allow_all(), watcher=watcher)

    def create_app():
        app = flask.Flask("factory")
        memwatch.init_app(app)
        return app

    first, second = create_app(), create_app()
    for app in (first, second):
        assert app.extensions[EXTENSION_KEY] is memwatch.api
        response = app.test_client().get("/ah/memoryProfile/status")
        assert response.status_code == 200
        assert response.json["process"]["pid"] > 0


def test_two_apps_in_one_process_keep_their_own_settings(watcher):
    """Two apps with different prefixes and auth each serve their own API."""
    open_app, locked_app = flask.Flask("open"), flask.Flask("locked")
    Memwatch(open_app, auth=allow_all(), prefix="/debug", watcher=watcher)
    Memwatch(locked_app, auth=bearer_token("s3cret"), watcher=watcher)
    assert open_app.test_client().get("/debug/memoryProfile/status").status_code == 200
    assert open_app.test_client().get("/ah/memoryProfile/status").status_code == 404
    assert locked_app.test_client().get("/ah/memoryProfile/status").status_code == 401
    authorized = {"Authorization": "Bearer s3cret"}
    assert (
        locked_app.test_client().get("/ah/memoryProfile/status", headers=authorized).status_code
        == 200
    )
    assert isinstance(open_app.extensions[EXTENSION_KEY], MemwatchAPI)
    assert open_app.extensions[EXTENSION_KEY] is not locked_app.extensions[EXTENSION_KEY]


def test_init_app_twice_on_one_app_is_refused(watcher):
    """Mounting memwatch twice on the same app raises instead of silently shadowing routes."""
    app = flask.Flask("twice")
    Memwatch(app, auth=allow_all(), watcher=watcher)
    with pytest.raises(RuntimeError, match="already mounted"):
        Memwatch(app, auth=allow_all(), watcher=watcher)


def test_routes_are_named_blueprint_endpoints(watcher):
    """Each route is an endpoint of the memwatch Blueprint, so url_for builds its URL."""
    app = flask.Flask("names")
    Memwatch(app, auth=allow_all(), watcher=watcher)
    with app.test_request_context():
        assert flask.url_for("memwatch.status") == "/ah/memoryProfile/status"
        assert flask.url_for("memwatch.end_profile", id="abc") == "/ah/memoryProfile/abc/end"
    assert "memwatch" in app.blueprints


def test_options_and_unknown_methods_reach_the_core(watcher):
    """OPTIONS gets the core's 204 with Allow and an unserved method its 405, not Flask's."""
    client = flask.Flask("methods")
    Memwatch(client, auth=allow_all(), watcher=watcher)
    test_client = client.test_client()
    options = test_client.options("/ah/memory/gc")
    assert options.status_code == 204
    assert options.headers["Allow"] == "OPTIONS, POST"
    wrong = test_client.put("/ah/memory/gc")
    assert wrong.status_code == 405
    assert wrong.content_type == "application/problem+json"


def test_mounted_at_the_root_leaves_the_apps_404_alone(watcher):
    """With prefix "" the routes live at the root and other paths keep Flask's own 404."""
    app = flask.Flask("root")
    app.add_url_rule("/hello", "hello", lambda: "hi")
    Memwatch(app, auth=allow_all(), prefix="", watcher=watcher)
    client = app.test_client()
    assert client.get("/memoryProfile/status").status_code == 200
    assert client.get("/hello").text == "hi"
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert "Memwatch-Pid" not in missing.headers


def test_to_core_request_translates_every_field():
    """Method, path, raw query, headers and client reach the core; the body stays unread."""
    app = flask.Flask("translate")
    with app.test_request_context(
        "/ah/memory?details=true&x=%20",
        method="POST",
        headers=[("X-Token", "a"), ("Accept", "application/json")],
        data=b"{}",
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    ):
        request = to_core_request(flask.request)
        unread = flask.request.stream.read()
    assert unread == b"{}"
    assert request.method == "POST"
    assert request.path == "/ah/memory"
    assert request.query == "details=true&x=%20"
    assert request.get_header("x-token") == "a"
    assert request.get_header("ACCEPT") == "application/json"
    assert request.client == "10.1.2.3"
    assert request.body == b""


def test_init_app_starts_the_watcher(watcher):
    """The watcher runs once init_app returns, before any request."""
    memwatch = Memwatch(auth=allow_all(), watcher=watcher)
    assert not watcher.running
    memwatch.init_app(flask.Flask("started"))
    assert watcher.running


def test_max_content_length_never_reaches_memwatchs_routes(watcher):
    """A body over MAX_CONTENT_LENGTH is left unread: memwatch answers, not werkzeug's HTML 413."""
    app = flask.Flask("limited")
    app.config["MAX_CONTENT_LENGTH"] = 16
    Memwatch(app, auth=allow_all(), watcher=watcher)
    response = app.test_client().post("/ah/memory/gc", data=bytes(1024))
    assert response.status_code == 200
    assert response.content_type == "application/json"
