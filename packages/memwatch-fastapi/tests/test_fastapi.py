"""The FastAPI router's own behaviour: OpenAPI, the lifespan helper, mounting.

The HTTP contract itself is checked over real servers by the shipped conformance suite;
these tests call the ASGI app in process through httpx's ASGITransport.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from memwatch.auth import allow_all
from memwatch.http import MemwatchAPI, Request
from memwatch.schemas import SCHEMA_NAMES, load_schema
from memwatch.watcher import Watcher
from memwatch_fastapi import memwatch_lifespan, memwatch_router, openapi_schema


@pytest.fixture
def watcher():
    """A watcher without a polling thread: mounting starts its gc callback, teardown stops it."""
    watcher = Watcher(background=False, auto_capture=False)
    yield watcher
    watcher.stop()


@pytest.fixture
def app(watcher):
    """An app with the memwatch router mounted at the default prefix."""
    app = FastAPI()
    app.include_router(memwatch_router(auth=allow_all(), watcher=watcher))
    return app


def _get(app, path, method="GET"):
    async def call():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path)

    return asyncio.run(call())


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_openapi_document_is_valid_openapi_31(app):
    """/openapi.json with memwatch mounted passes the OpenAPI 3.1 validator."""
    document = app.openapi()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_documented_with_the_cores_schema(app):
    """Each route appears with its success status and the core's (inlined) JSON Schema."""
    paths = app.openapi()["paths"]
    expected = {
        ("/ah/memoryProfile/status", "get", "200"): "Status",
        ("/ah/memoryProfile/{id}", "get", "200"): "Profile",
        ("/ah/memoryProfile/{id}", "delete", "200"): "Message",
        ("/ah/memoryProfile", "post", "201"): "Profile",
        ("/ah/memoryProfile/{id}/end", "post", "200"): "Profile",
        ("/ah/memory/gc", "post", "200"): "GCResult",
    }
    for (path, method, status), title in expected.items():
        operation = paths[path][method]
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema["title"] == title, (path, method)
        problem = operation["responses"]["4XX"]["content"]["application/problem+json"]
        assert problem["schema"]["title"] == "Problem"
    listing = paths["/ah/memory"]["get"]
    titles = [
        s["title"]
        for s in listing["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    ]
    assert titles == ["ProfileIdList", "ProfileList"]
    assert [p["name"] for p in listing["parameters"]] == ["details"]
    assert [p["name"] for p in paths["/ah/memoryProfile/{id}"]["get"]["parameters"]] == ["id"]


def test_embedded_schemas_carry_no_dangling_refs(app):
    """No $ref into a schema's own $defs, no $id, no $schema is left in the OpenAPI document."""
    for node in _walk(app.openapi()):
        assert not str(node.get("$ref", "")).startswith("#/$defs/")
        assert "$id" not in node
        assert "$schema" not in node
        assert "$defs" not in node


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_inlined_schema_accepts_and_rejects_what_the_original_does(name):
    """openapi_schema(name) judges real and broken bodies exactly as the shipped schema does."""
    api = MemwatchAPI(auth=allow_all(), watcher=Watcher(background=False, auto_capture=False))
    bodies = {
        "status": api.handle(Request("GET", "/ah/memoryProfile/status")),
        "gc_result": api.handle(Request("POST", "/ah/memory/gc")),
        "profile": api.handle(Request("POST", "/ah/memoryProfile")),
        "profile_id_list": api.handle(Request("GET", "/ah/memory")),
        "profile_list": api.handle(Request("GET", "/ah/memory", query="details=true")),
        "message": None,
        "problem": api.handle(Request("GET", "/ah/nowhere")),
        "index": api.handle(Request("GET", "/ah/")),
        "sample_series": api.handle(Request("GET", "/ah/memory/samples")),
        "workers": api.handle(Request("GET", "/ah/workers")),
    }
    instance = json.loads(bodies[name].body) if bodies[name] else {"message": "Deleted profile x"}
    original = Draft202012Validator(load_schema(name), format_checker=FormatChecker())
    inlined = Draft202012Validator(openapi_schema(name), format_checker=FormatChecker())
    assert original.is_valid(instance)
    assert inlined.is_valid(instance)
    broken = {**instance, next(iter(instance)): {"not": "the right type"}}
    assert not original.is_valid(broken)
    assert not inlined.is_valid(broken)


def test_lifespan_starts_and_stops_the_watcher(watcher):
    """memwatch_lifespan(watcher) installs the watcher at startup and removes it at shutdown."""

    async def run():
        assert not watcher.running
        async with memwatch_lifespan(watcher)(FastAPI()):
            assert watcher.running
        assert not watcher.running

    asyncio.run(run())


def test_unknown_paths_and_methods_under_the_prefix_get_problems(app):
    """The router's fallback gives the core's 404 and 405 problems, never Starlette's own."""
    missing = _get(app, "/ah/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = _get(app, "/ah/memoryProfile/status", method="PUT")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD, OPTIONS"


def test_mounted_at_the_root_leaves_the_apps_404_alone(watcher):
    """With prefix "" the routes live at the root and other paths keep FastAPI's 404."""
    app = FastAPI()
    app.include_router(memwatch_router(auth=allow_all(), prefix="", watcher=watcher))
    assert _get(app, "/memoryProfile/status").status_code == 200
    missing = _get(app, "/nowhere")
    assert missing.status_code == 404
    assert "memwatch-pid" not in missing.headers
