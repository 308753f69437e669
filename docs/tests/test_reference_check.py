"""The HTTP reference's build-time check notices what is missing, extra or wrong."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_ext"))

import http_reference as ref
import live_api

from memwatch.routes import ROUTES


def _complete_state():
    objects, _, _ = ref.schema_objects()
    routes = {
        (r.method, ref.PREFIX + r.template): {
            "status": r.status,
            "bodies": list(r.bodies),
            "errors": [],
        }
        for r in ROUTES
    }
    return {
        "routes": routes,
        "objects": {title: {"fields": list(fields)} for title, fields in objects.items()},
        "errors": {status: {} for status in ref.code_error_statuses()},
    }


def test_a_complete_reference_passes_the_static_checks():
    """A state documenting exactly the code's routes, fields and errors yields no messages."""
    state = _complete_state()
    assert ref._check_routes(state) == []
    assert ref._check_objects(state) == []
    assert ref._check_errors(state) == []


def test_a_status_or_body_other_than_the_route_tables_is_reported():
    """Documenting a route with another status or body schema than its row is reported."""
    state = _complete_state()
    state["routes"][("POST", ref.PREFIX + "/memoryProfile")]["status"] = 200
    state["routes"][("GET", ref.PREFIX + "/memory")]["bodies"] = ["profile_list"]
    assert ref._check_routes(state) == [
        "POST /ah/memoryProfile is documented with status 200, the route table says 201",
        (
            "GET /ah/memory is documented with body profile_list, "
            "the route table says profile_id_list profile_list"
        ),
        "schema profile_id_list.json is the body of no documented route",
    ]


def test_missing_and_invented_fields_are_reported():
    """Dropping a schema field, or documenting one the schema lacks, is reported by name."""
    state = _complete_state()
    state["objects"]["GCStats"]["fields"].remove("usage_trend")
    state["objects"]["GCStats"]["fields"].append("heap_total")
    messages = ref._check_objects(state)
    assert "field GCStats.usage_trend is in the schema but not documented" in messages
    assert "field GCStats.heap_total is documented but not in the schema" in messages


def test_missing_route_object_and_error_are_reported():
    """An undocumented route, object or error status each produce a message."""
    state = _complete_state()
    del state["routes"][("POST", "/ah/memory/gc")]
    del state["objects"]["WatcherInfo"]
    del state["errors"][429]
    assert any("POST /ah/memory/gc" in m for m in ref._check_routes(state))
    assert "object WatcherInfo (JSON Schema) is not documented" in ref._check_objects(state)
    assert any("429" in m for m in ref._check_errors(state))


def test_live_check_catches_a_wrong_status_and_a_wrong_body():
    """Running the API in-process flags a documented status or body schema the code doesn't give."""
    routes = {
        ("GET", "/ah/memoryProfile/status"): {"status": 201, "bodies": ["status"], "errors": []},
        ("GET", "/ah/memory"): {"status": 200, "bodies": ["message"], "errors": []},
    }
    messages = live_api.exercise(routes, set(), "/ah")
    assert any("answered 200, documented 201" in m for m in messages)
    assert any("GET /ah/memory: body matches none of ['message']" in m for m in messages)
