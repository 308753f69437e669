"""The HTTP contract's checks: test methods that :class:`~memwatch.testing.ConformanceSuite` runs.

Each method serves the subclass's app (:meth:`ConformanceSuite.serve`) and
checks statuses, headers and every body against its JSON Schema.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from memwatch.testing.contract import (
    PROBLEM_CONTENT_TYPE,
    assert_common_headers,
    assert_problem,
    assert_valid,
)

if TYPE_CHECKING:
    import httpx

    from memwatch.testing.servers import Served
    from memwatch.wire import Request

__all__ = ["ContractChecks"]

_TOKEN_HEADERS = {"Authorization": "Bearer conformance-token"}
_JSON = "application/json"


def ok(served: Served, response: httpx.Response, status: int, schema: str) -> Any:
    """Assert a success with memwatch's headers and a body valid under ``schema``; decode it."""
    assert response.status_code == status, response.text
    assert_common_headers(response.headers, content_type=_JSON, pid=served.pid)
    return assert_valid(schema, response.content)


def problem(served: Served, response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert a problem+json answer with this status and memwatch's headers; decode it."""
    return assert_problem(status, response.headers, response.content, pid=served.pid)


class ContractChecks:
    """Routes, statuses, errors and headers of the HTTP contract (docs/http-api.md)."""

    if TYPE_CHECKING:

        def serve(self, auth: Any = ..., *, prefix: str | None = ..., watcher: Any = ...) -> Served:
            """See :meth:`memwatch.testing.ConformanceSuite.serve`."""

        def require_in_process(self) -> None:
            """See :meth:`memwatch.testing.ConformanceSuite.require_in_process`."""

        event_loop: bool

    def test_status(self) -> None:
        """GET status answers 200 with a valid status naming the process that answered."""
        served = self.serve()
        response = served.client.get("/ah/memoryProfile/status", headers=_TOKEN_HEADERS)
        body = ok(served, response, 200, "status")
        assert body["process"]["pid"] == served.pid
        assert body["watcher"]["running"] is True

    def test_profile_lifecycle(self) -> None:
        """Start, read, list, end, delete a profile: each answer with its status, headers, shape."""
        served = self.serve()
        client, auth = served.client, _TOKEN_HEADERS
        started = client.post("/ah/memoryProfile", headers=auth)
        profile = ok(served, started, 201, "profile")
        assert (profile["state"], profile["trigger"]) == ("running", "manual")
        pid = profile["id"]
        assert started.headers["Location"].endswith(f"/ah/memoryProfile/{pid}")
        assert (
            ok(served, client.get(f"/ah/memoryProfile/{pid}", headers=auth), 200, "profile")["id"]
            == pid
        )
        ids = ok(served, client.get("/ah/memory", headers=auth), 200, "profile_id_list")
        assert ids["memoryProfiles"] == [pid]
        ended = ok(
            served, client.post(f"/ah/memoryProfile/{pid}/end", headers=auth), 200, "profile"
        )
        assert (ended["state"], ended["lastEvent"]) == ("complete", "diff")
        assert ended["lastDiff"]["after"]["nodes"] > 0
        full = client.get("/ah/memory", params={"details": "true"}, headers=auth)
        listed = ok(served, full, 200, "profile_list")["memoryProfiles"]
        assert [(p["id"], p["state"]) for p in listed] == [(pid, "complete")]
        deleted = ok(
            served, client.delete(f"/ah/memoryProfile/{pid}", headers=auth), 200, "message"
        )
        assert deleted == {"message": f"Deleted profile {pid}"}
        problem(served, client.get(f"/ah/memoryProfile/{pid}", headers=auth), 404)

    def test_force_gc(self) -> None:
        """POST /ah/memory/gc runs a full collection and answers the stats after it."""
        served = self.serve()
        body = ok(
            served, served.client.post("/ah/memory/gc", headers=_TOKEN_HEADERS), 200, "gc_result"
        )
        assert body["lastGC"]["num_full_gc"] >= 1

    def test_bad_details_is_400(self) -> None:
        """A details value other than true/false is a 400 problem."""
        served = self.serve()
        response = served.client.get(
            "/ah/memory", params={"details": "maybe"}, headers=_TOKEN_HEADERS
        )
        assert "details" in problem(served, response, 400)["detail"]

    def test_missing_or_wrong_token_is_401(self) -> None:
        """Without the bearer token every route is a 401 problem with a Bearer challenge."""
        served = self.serve()
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = served.client.get("/ah/memoryProfile/status", headers=headers)
            problem(served, response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), headers

    def test_read_only_refuses_writes_with_403(self) -> None:
        """Under read_only, reads pass and a POST is a 403 problem."""
        served = self.serve("read_only")
        ok(
            served,
            served.client.get("/ah/memoryProfile/status", headers=_TOKEN_HEADERS),
            200,
            "status",
        )
        problem(served, served.client.post("/ah/memory/gc", headers=_TOKEN_HEADERS), 403)

    def test_unknown_id_or_path_is_404(self) -> None:
        """An unknown or non-UTF-8 profile id, or an unknown path under the prefix, is a 404."""
        served = self.serve()
        unknown = ("/ah/memoryProfile/nosuch", "/ah/memoryProfile/%ff", "/ah/nosuch", "/ah/ui/nope")
        for path in unknown:
            problem(served, served.client.get(path, headers=_TOKEN_HEADERS), 404)

    def test_the_bare_prefix_is_memwatchs_404(self) -> None:
        """``GET /ah`` is memwatch's own 404 problem, not a framework's redirect to ``/ah/``."""
        served = self.serve()
        problem(served, served.client.get("/ah", headers=_TOKEN_HEADERS), 404)

    def test_an_encoded_slash_is_answered_by_memwatch(self) -> None:
        """``/ah%2FmemoryProfile%2Fstatus`` is decoded as every server decodes it: the status."""
        served = self.serve()
        response = served.client.get("/ah%2FmemoryProfile%2Fstatus", headers=_TOKEN_HEADERS)
        ok(served, response, 200, "status")

    def test_wrong_method_is_405_with_allow(self) -> None:
        """A known path with a method it does not serve is a 405 problem naming the allowed ones."""
        served = self.serve()
        cases = [
            ("PUT", "/ah/memoryProfile/status", {"GET"}),
            ("DELETE", "/ah/memory/gc", {"POST"}),
            ("PATCH", "/ah/memory", {"GET"}),
            ("GET", "/ah/memoryProfile", {"POST"}),
            ("PUT", "/ah/memoryProfile/someid", {"GET", "DELETE"}),
        ]
        for method, path, allowed in cases:
            response = served.client.request(method, path, headers=_TOKEN_HEADERS)
            problem(served, response, 405)
            allow = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allowed <= allow, (method, path, allow)
            assert method not in allow, (method, path, allow)

    def test_options_is_204_without_a_body_or_content_type(self) -> None:
        """OPTIONS on a route is 204 with Allow and memwatch's headers, no body, no Content-Type."""
        served = self.serve()
        response = served.client.options("/ah/memoryProfile/status", headers=_TOKEN_HEADERS)
        assert response.status_code == 204
        assert_common_headers(response.headers, content_type=None, pid=served.pid)
        assert response.content == b""
        assert {m.strip() for m in response.headers["Allow"].split(",")} == {
            "GET",
            "HEAD",
            "OPTIONS",
        }

    def test_head_is_the_get_without_a_body(self) -> None:
        """HEAD on the status answers the GET's status and headers with an empty body."""
        served = self.serve()
        response = served.client.head("/ah/memoryProfile/status", headers=_TOKEN_HEADERS)
        assert response.status_code == 200
        assert_common_headers(response.headers, content_type=_JSON, pid=served.pid)
        assert response.content == b""

    def test_second_profile_is_409(self) -> None:
        """Starting a manual profile while one runs, or ending an ended one, is a 409 problem."""
        served = self.serve()
        client = served.client
        first = ok(served, client.post("/ah/memoryProfile", headers=_TOKEN_HEADERS), 201, "profile")
        problem(served, client.post("/ah/memoryProfile", headers=_TOKEN_HEADERS), 409)
        end = f"/ah/memoryProfile/{first['id']}/end"
        ok(served, client.post(end, headers=_TOKEN_HEADERS), 200, "profile")
        problem(served, client.post(end, headers=_TOKEN_HEADERS), 409)

    def test_busy_census_is_429(self) -> None:
        """While a census runs, another census request is a 429 problem with Retry-After."""
        self.require_in_process()
        served = self.serve()
        assert served.watcher is not None
        census_lock: threading.Lock = served.watcher._profiler.single_flight._lock  # noqa: SLF001 - holding it makes a census busy on cue
        assert census_lock.acquire(timeout=5)
        try:
            response = served.client.post("/ah/memoryProfile", headers=_TOKEN_HEADERS)
        finally:
            census_lock.release()
        problem(served, response, 429)
        assert float(response.headers["Retry-After"]) >= 1
        # Nothing was left half-started: the next try succeeds.
        ok(served, served.client.post("/ah/memoryProfile", headers=_TOKEN_HEADERS), 201, "profile")

    def test_custom_prefix(self) -> None:
        """With another prefix the API lives there, and the default prefix is left to the app."""
        served = self.serve("allow_all", prefix="/_debug/memwatch")
        ok(served, served.client.get("/_debug/memwatch/memoryProfile/status"), 200, "status")
        created = served.client.post("/_debug/memwatch/memoryProfile")
        profile = ok(served, created, 201, "profile")
        assert created.headers["Location"].endswith(
            "/_debug/memwatch/memoryProfile/" + profile["id"]
        )
        response = served.client.get("/ah/memoryProfile/status")
        assert response.status_code == 404
        assert "Memwatch-Pid" not in response.headers

    def test_app_routes_are_untouched(self) -> None:
        """The app's own routes answer as the app says, without memwatch's headers."""
        served = self.serve()
        response = served.client.get("/healthy")
        assert response.status_code == 200
        assert response.text == "made 100"
        assert "Memwatch-Pid" not in response.headers

    def test_heavy_routes_run_off_the_event_loop(self) -> None:
        """On an event loop, censuses and collections run in a worker thread, never on the loop."""
        self.require_in_process()
        threads: dict[str, threading.Thread] = {}

        def recording(request: Request) -> bool:
            threads[f"{request.method} {request.path}"] = threading.current_thread()
            return True

        served = self.serve(recording)
        ok(served, served.client.get("/ah/memoryProfile/status"), 200, "status")
        ok(served, served.client.post("/ah/memory/gc"), 200, "gc_result")
        ok(served, served.client.post("/ah/memoryProfile"), 201, "profile")
        if self.event_loop:
            assert threads["GET /ah/memoryProfile/status"] is served.thread
        loop = served.thread or threading.main_thread()
        assert threads["POST /ah/memory/gc"] is not loop
        assert threads["POST /ah/memoryProfile"] is not loop

    def test_problem_bodies_never_leak_internals(self) -> None:
        """A problem's body is problem+json with the four RFC 9457 members."""
        served = self.serve()
        response = served.client.get("/ah/memoryProfile/nosuchid", headers=_TOKEN_HEADERS)
        found = problem(served, response, 404)
        assert response.headers["Content-Type"] == PROBLEM_CONTENT_TYPE
        assert {"type", "title", "status", "detail"} <= set(found)
