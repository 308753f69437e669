"""The HTTP contract of DESIGN.md, checked the same way against every adapter over real HTTP.

Each test runs once per adapter (``[flask]``, ``[fastapi]``, ``[tornado]``):
the app is served by a real server on 127.0.0.1 and every body is validated
against the JSON Schema memwatch ships for it.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import pytest

from contract import (
    PROBLEM_CONTENT_TYPE,
    assert_common_headers,
    assert_problem,
    assert_valid,
)
from memwatch.auth import allow_all, bearer_token, read_only
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "conformance-token"
AUTH_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
JSON = "application/json"
PID = os.getpid()


@pytest.fixture
def watcher() -> Iterator[Watcher]:
    """A watcher of its own per test, so tests share no profiles or events."""
    with Watcher(sample_interval=0.5, auto_capture=False) as running:
        yield running


@pytest.fixture
def server(serve, watcher):
    """The adapter's app with memwatch behind a bearer token, on a real server."""
    return serve(auth=bearer_token(TOKEN), watcher=watcher)


def _ok(response, status: int, schema: str):
    assert response.status_code == status, response.text
    assert_common_headers(response.headers, content_type=JSON, pid=PID)
    return assert_valid(schema, response.content)


def _problem(response, status: int):
    return assert_problem(status, response.headers, response.content, pid=PID)


def test_status(server):
    """GET status answers 200 with a valid status naming this process."""
    body = _ok(server.client.get("/ah/memoryProfile/status", headers=AUTH_HEADERS), 200, "status")
    assert body["process"]["pid"] == PID
    assert body["watcher"]["running"] is True


def test_profile_lifecycle(server):
    """Start, read, list, end, delete a profile: each answer has its status, headers and shape."""
    client = server.client
    started = client.post("/ah/memoryProfile", headers=AUTH_HEADERS)
    profile = _ok(started, 201, "profile")
    assert profile["state"] == "running"
    assert profile["trigger"] == "manual"
    pid = profile["id"]
    assert started.headers["Location"].endswith(f"/ah/memoryProfile/{pid}")

    again = _ok(client.get(f"/ah/memoryProfile/{pid}", headers=AUTH_HEADERS), 200, "profile")
    assert again["id"] == pid
    ids = _ok(client.get("/ah/memory", headers=AUTH_HEADERS), 200, "profile_id_list")
    assert ids["memoryProfiles"] == [pid]

    ended = _ok(client.post(f"/ah/memoryProfile/{pid}/end", headers=AUTH_HEADERS), 200, "profile")
    assert ended["state"] == "complete"
    assert ended["lastEvent"] == "diff"
    assert ended["lastDiff"]["after"]["nodes"] > 0

    full = client.get("/ah/memory", params={"details": "true"}, headers=AUTH_HEADERS)
    listed = _ok(full, 200, "profile_list")
    assert [p["id"] for p in listed["memoryProfiles"]] == [pid]
    assert listed["memoryProfiles"][0]["state"] == "complete"

    deleted = _ok(client.delete(f"/ah/memoryProfile/{pid}", headers=AUTH_HEADERS), 200, "message")
    assert deleted == {"message": f"Deleted profile {pid}"}
    _problem(client.get(f"/ah/memoryProfile/{pid}", headers=AUTH_HEADERS), 404)


def test_force_gc(server):
    """POST /ah/memory/gc runs a full collection and answers the stats after it."""
    body = _ok(server.client.post("/ah/memory/gc", headers=AUTH_HEADERS), 200, "gc_result")
    assert body["lastGC"]["num_full_gc"] >= 1


def test_bad_details_is_400(server):
    """A details value other than true/false is a 400 problem."""
    response = server.client.get("/ah/memory", params={"details": "maybe"}, headers=AUTH_HEADERS)
    assert "details" in _problem(response, 400)["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_missing_or_wrong_token_is_401(server, headers):
    """Without the bearer token every route is a 401 problem with a Bearer challenge."""
    response = server.client.get("/ah/memoryProfile/status", headers=headers)
    _problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_read_only_refuses_writes_with_403(serve, watcher):
    """Under read_only, reads pass and a POST is a 403 problem."""
    server = serve(auth=read_only(bearer_token(TOKEN)), watcher=watcher)
    _ok(server.client.get("/ah/memoryProfile/status", headers=AUTH_HEADERS), 200, "status")
    _problem(server.client.post("/ah/memory/gc", headers=AUTH_HEADERS), 403)


@pytest.mark.parametrize("path", ["/ah/memoryProfile/nosuchid", "/ah/nosuchroute", "/ah/ui/nope"])
def test_unknown_id_or_path_is_404(server, path):
    """An unknown profile id, or an unknown path under the prefix, is a 404 problem."""
    _problem(server.client.get(path, headers=AUTH_HEADERS), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/ah/memoryProfile/status", {"GET"}),
        ("DELETE", "/ah/memory/gc", {"POST"}),
        ("PATCH", "/ah/memory", {"GET"}),
        ("GET", "/ah/memoryProfile", {"POST"}),
        ("PUT", "/ah/memoryProfile/someid", {"GET", "DELETE"}),
    ],
)
def test_wrong_method_is_405_with_allow(server, method, path, allowed):
    """A known path with a method it does not serve is a 405 problem naming the allowed ones."""
    response = server.client.request(method, path, headers=AUTH_HEADERS)
    _problem(response, 405)
    allow = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= allow
    assert method not in allow


def test_second_profile_is_409(server):
    """Starting a manual profile while one runs, or ending an ended one, is a 409 problem."""
    client = server.client
    first = _ok(client.post("/ah/memoryProfile", headers=AUTH_HEADERS), 201, "profile")
    _problem(client.post("/ah/memoryProfile", headers=AUTH_HEADERS), 409)
    _ok(client.post(f"/ah/memoryProfile/{first['id']}/end", headers=AUTH_HEADERS), 200, "profile")
    _problem(client.post(f"/ah/memoryProfile/{first['id']}/end", headers=AUTH_HEADERS), 409)


def test_busy_census_is_429(server, watcher):
    """While a census runs, another census request is a 429 problem with Retry-After."""
    census_lock: threading.Lock = watcher._profiler.single_flight._lock
    assert census_lock.acquire(timeout=5)
    try:
        response = server.client.post("/ah/memoryProfile", headers=AUTH_HEADERS)
    finally:
        census_lock.release()
    _problem(response, 429)
    assert float(response.headers["Retry-After"]) >= 1
    # Nothing was left half-started: the next try succeeds.
    _ok(server.client.post("/ah/memoryProfile", headers=AUTH_HEADERS), 201, "profile")


def test_custom_prefix(serve, watcher):
    """With another prefix the API lives there, and the default prefix is left to the app."""
    server = serve(auth=allow_all(), watcher=watcher, prefix="/_debug/memwatch")
    _ok(server.client.get("/_debug/memwatch/memoryProfile/status"), 200, "status")
    created = server.client.post("/_debug/memwatch/memoryProfile")
    assert created.headers["Location"].endswith(
        "/_debug/memwatch/memoryProfile/" + created.json()["id"]
    )
    response = server.client.get("/ah/memoryProfile/status")
    assert response.status_code == 404
    assert "Memwatch-Pid" not in response.headers


def test_app_routes_are_untouched(server):
    """The app's own routes answer as the app says, without memwatch's headers."""
    response = server.client.get("/healthy")
    assert response.status_code == 200
    assert response.text == "made 100"
    assert "Memwatch-Pid" not in response.headers


def test_heavy_routes_run_off_the_server_thread(serve, watcher, adapter):
    """On an event loop, censuses and collections run in a worker thread, never on the loop."""
    if adapter == "flask":
        pytest.skip("Flask's server runs every request on a worker thread of its own")
    threads: dict[str, threading.Thread] = {}

    def recording(request):
        threads[request.method + " " + request.path] = threading.current_thread()
        return True

    server = serve(auth=recording, watcher=watcher)
    _ok(server.client.get("/ah/memoryProfile/status"), 200, "status")
    _ok(server.client.post("/ah/memory/gc"), 200, "gc_result")
    _ok(server.client.post("/ah/memoryProfile"), 201, "profile")
    assert threads["GET /ah/memoryProfile/status"] is server.thread
    assert threads["POST /ah/memory/gc"] is not server.thread
    assert threads["POST /ah/memoryProfile"] is not server.thread


def test_problem_bodies_never_leak_internals(server):
    """A problem's body is problem+json with the four RFC 9457 members only as strings/ints."""
    response = server.client.get("/ah/memoryProfile/nosuchid", headers=AUTH_HEADERS)
    problem = _problem(response, 404)
    assert response.headers["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert {"type", "title", "status", "detail"} <= set(problem)


def test_options_is_204_without_a_body_or_content_type(server):
    """OPTIONS on a route is 204 with Allow and memwatch's headers, no body and no Content-Type."""
    response = server.client.options("/ah/memoryProfile/status", headers=AUTH_HEADERS)
    assert response.status_code == 204
    assert_common_headers(response.headers, content_type=None, pid=PID)
    assert response.content == b""
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


def test_an_id_that_is_not_utf8_is_404(server):
    """A profile id that percent-decodes to no UTF-8 is a 404 problem, as any unknown id."""
    _problem(server.client.get("/ah/memoryProfile/%ff", headers=AUTH_HEADERS), 404)


def test_an_encoded_slash_is_answered_by_memwatch(server):
    """``/ah%2FmemoryProfile%2Fstatus`` is decoded as every server decodes it: the status route."""
    response = server.client.get("/ah%2FmemoryProfile%2Fstatus", headers=AUTH_HEADERS)
    _ok(response, 200, "status")


def test_the_bare_prefix_is_memwatchs_404(server):
    """``GET /ah`` is memwatch's own 404 problem, not a framework's redirect to ``/ah/``."""
    response = server.client.get("/ah", headers=AUTH_HEADERS)
    _problem(response, 404)
