"""The route table (memwatch.routes) and the API's helpers for adapters: owns, start, Route.path."""

from __future__ import annotations

import re

import pytest

from memwatch.auth import allow_all
from memwatch.http import ROUTES, MemwatchAPI, Request
from memwatch.routes import Route, resolve
from memwatch.schemas import SCHEMA_NAMES
from memwatch.watcher import Watcher
from memwatch.wire import JSON


@pytest.fixture
def watcher():
    """A watcher without a polling thread, stopped at teardown whatever started it."""
    watcher = Watcher(background=False, auto_capture=False)
    yield watcher
    watcher.stop()


def test_route_path_renders_parameters_and_literals():
    """Route.path renders each parameter with one function and the text between with another."""
    route = Route("POST", "/memoryProfile/{id}/end", "end_profile")
    assert route.parameters == ("id",)
    assert route.path(lambda name: f"<{name}>") == "/memoryProfile/<id>/end"
    regex = route.path(lambda name: f"(?P<{name}>[^/]+)", re.escape)
    assert re.fullmatch(regex, "/memoryProfile/abc/end").group("id") == "abc"
    assert not re.fullmatch(regex, "/memoryProfile/a/b/end")


def test_every_route_names_shipped_schemas_and_a_success_status():
    """A JSON row's bodies are schema names memwatch ships (a text row has none); all are 2xx."""
    for route in ROUTES:
        if route.media_type == JSON:
            assert route.bodies, route.name
        else:
            assert not route.bodies, route.name
        assert set(route.bodies) <= set(SCHEMA_NAMES), route.name
        assert 200 <= route.status < 300, route.name


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_each_route_answers_the_status_and_media_type_of_its_row(watcher, route):
    """A successful answer carries exactly the status and Content-Type the table gives."""
    api = MemwatchAPI(auth=allow_all(), watcher=watcher)
    params = {}
    if route.parameters:
        params["id"] = watcher.start_profile().id
    response = api.handle(Request(route.method, api.prefix + route.path(params.__getitem__)))
    assert response.status == route.status, response.body
    assert response.content_type == route.media_type


def test_resolve_prefers_literal_segments_over_parameters():
    """``/memoryProfile/status`` resolves to the status route, not to a profile id."""
    resolved = resolve(["memoryProfile", "status"])
    assert resolved is not None
    resource, params = resolved
    assert resource.methods["GET"].name == "status"
    assert params == {}
    assert resolve(["nowhere"]) is None


@pytest.mark.parametrize(
    ("prefix", "path", "owned"),
    [
        ("/ah", "/ah", True),
        ("/ah", "/ah/", True),
        ("/ah", "/ah/memory", True),
        ("/ah", "/ahx", False),
        ("/ah", "/", False),
        ("/_debug/mw", "/_debug/mw/memory", True),
        ("/_debug/mw", "/_debug", False),
        ("", "/anything", True),
    ],
)
def test_owns_is_the_prefix_and_what_lies_under_it(prefix, path, owned):
    """owns() is true for the prefix itself and paths under it, never for a longer name."""
    assert MemwatchAPI(auth=allow_all(), prefix=prefix).owns(path) is owned


def test_start_starts_the_watcher_it_serves(watcher):
    """start() starts the API's watcher and returns it; a second call changes nothing."""
    api = MemwatchAPI(auth=allow_all(), watcher=watcher)
    assert not watcher.running
    assert api.start() is watcher
    assert watcher.running
    assert api.start() is watcher


def test_request_body_defaults_to_empty():
    """A Request built without a body has b"": adapters no longer pass one."""
    assert Request("POST", "/ah/memory/gc").body == b""
