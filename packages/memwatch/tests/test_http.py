"""The framework-neutral HTTP layer, against a real Watcher: routes, errors, headers, auth."""

from __future__ import annotations

import gc
import logging
import os
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch import http
from memwatch import watcher as watcher_module
from memwatch.auth import Denial, allow_all, bearer_token, loopback_only, read_only
from memwatch.dashboard import FILES
from memwatch.http import JSON, ROUTES, MemwatchAPI, Request, Response, Route
from memwatch.store import MemoryProfileStore
from memwatch.testing.contract import (
    PROBLEM_CONTENT_TYPE,
    assert_common_headers,
    assert_problem,
    assert_valid,
)
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Iterator

    from memwatch.models import Profile

PID = os.getpid()
TOKEN = "t0ken-for-tests"


@pytest.fixture
def watcher() -> Iterator[Watcher]:
    """A real watcher without its polling thread, stopped after the test."""
    with Watcher(background=False) as running:
        yield running


@pytest.fixture
def api(watcher: Watcher) -> MemwatchAPI:
    """An API open to everyone, serving the test's watcher under /ah."""
    return MemwatchAPI(auth=allow_all(), watcher=watcher)


def call(
    api: MemwatchAPI,
    method: str,
    path: str,
    query: str = "",
    *,
    headers: dict[str, str] | None = None,
    client: str | None = "127.0.0.1",
    body: bytes = b"",
) -> Response:
    """Send one request through api.handle."""
    return api.handle(Request(method, path, query, headers or {}, client, body))


def ok(response: Response, schema: str, status: int = 200) -> Any:
    """Assert a successful JSON response valid under ``schema``; return its body."""
    assert response.status == status, response.body
    assert_common_headers(response.headers, content_type=JSON, pid=PID)
    assert response.get_header("X-Content-Type-Options") == "nosniff"
    return assert_valid(schema, response.body)


def problem(response: Response, status: int) -> dict[str, Any]:
    """Assert a problem+json response with ``status``; return the problem."""
    assert response.status == status, response.body
    return assert_problem(status, response.headers, response.body, pid=PID)


def start(api: MemwatchAPI) -> dict[str, Any]:
    """Start a profile over HTTP and return it."""
    response = call(api, "POST", "/ah/memoryProfile")
    body: dict[str, Any] = ok(response, "profile", 201)
    return body


# -- building the API -----------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"auth": None}, {"watcher": None}])
def test_auth_is_required_and_the_error_lists_the_choices(kwargs: dict[str, Any]) -> None:
    """Building the API without auth is a TypeError naming every choice."""
    with pytest.raises(TypeError) as info:
        MemwatchAPI(**kwargs)
    for choice in (
        "memwatch.auth.bearer_token(secret)",
        "memwatch.auth.loopback_only()",
        "memwatch.auth.allow_all()",
        "memwatch.auth.read_only(inner)",
        "callable",
    ):
        assert choice in str(info.value)


def test_auth_must_be_callable() -> None:
    """A non-callable auth (e.g. a bare token string) is refused with the choices."""
    with pytest.raises(TypeError, match="bearer_token"):
        MemwatchAPI(auth="my-token")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "normalized"), [("/ah", "/ah"), ("/ah/", "/ah"), ("/", ""), ("", "")]
)
def test_prefix_is_normalized(prefix: str, normalized: str) -> None:
    """A trailing slash is dropped; "/" and "" mount at the root."""
    assert MemwatchAPI(auth=allow_all(), prefix=prefix).prefix == normalized


@pytest.mark.parametrize("prefix", ["ah", "/a h", "/ah?x", "/ah#", "/{id}"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    """A prefix that is not a plain absolute path is a ValueError."""
    with pytest.raises(ValueError, match="prefix"):
        MemwatchAPI(auth=allow_all(), prefix=prefix)


def test_repr_shows_the_choice_but_not_the_secret() -> None:
    """The API's repr names prefix and auth, never a bearer secret."""
    text = repr(MemwatchAPI(auth=bearer_token(TOKEN)))
    assert "/ah" in text
    assert "bearer_token" in text
    assert TOKEN not in text


def test_route_table() -> None:
    """ROUTES holds the contract's, the workers' and the dashboard's routes; censuses are heavy."""
    assert {(r.method, r.template) for r in ROUTES} == {
        ("GET", "/memoryProfile/status"),
        ("GET", "/memoryProfile/{id}"),
        ("DELETE", "/memoryProfile/{id}"),
        ("GET", "/memory"),
        ("POST", "/memoryProfile"),
        ("POST", "/memoryProfile/{id}/end"),
        ("GET", "/workers"),
        ("GET", "/metrics"),
        ("POST", "/memory/gc"),
        ("GET", "/memory/samples"),
        ("GET", "/"),
        ("GET", "/ui"),
        ("GET", "/ui/dashboard.js"),
        ("GET", "/ui/dashboard.css"),
        ("GET", "/ui/uPlot.iife.min.js"),
        ("GET", "/ui/uPlot.min.css"),
        ("GET", "/ui/uPlot.LICENSE"),
    }
    assert len({r.name for r in ROUTES}) == len(ROUTES)
    assert {r.name for r in ROUTES if r.public} == {f.route for f in FILES}
    assert {r.name for r in ROUTES if r.heavy} == {"start_profile", "end_profile", "force_gc"}
    assert Route("POST", "/memoryProfile/{id}/end", "x").segments == (
        "memoryProfile",
        "{id}",
        "end",
    )
    assert MemwatchAPI(auth=allow_all()).routes == ROUTES


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/ah/memoryProfile/status", "status"),
        ("HEAD", "/ah/memoryProfile/status", "status"),
        ("GET", "/ah/memoryProfile/abc", "get_profile"),
        ("DELETE", "/ah/memoryProfile/abc", "delete_profile"),
        ("GET", "/ah/memory", "list_profiles"),
        ("POST", "/ah/memoryProfile", "start_profile"),
        ("POST", "/ah/memoryProfile/abc/end", "end_profile"),
        ("POST", "/ah/memory/gc", "force_gc"),
        ("DELETE", "/ah/memoryProfile/status", None),
        ("OPTIONS", "/ah/memory", None),
        ("GET", "/ah/nothing", None),
        ("GET", "/elsewhere/memory", None),
    ],
)
def test_route_for(method: str, path: str, name: str | None) -> None:
    """route_for names the route handle() would run (HEAD as GET), or None."""
    route = MemwatchAPI(auth=allow_all()).route_for(method, path)
    assert (route.name if route else None) == name


# -- the seven routes -----------------------------------------------------------------


def test_status(api: MemwatchAPI) -> None:
    """GET status answers 200 with a valid status naming this process."""
    body = ok(call(api, "GET", "/ah/memoryProfile/status"), "status")
    assert body["process"]["pid"] == PID
    assert body["watcher"]["running"] is True


def test_profile_lifecycle(api: MemwatchAPI) -> None:
    """Start (201 + Location), read, list, end, delete: each a valid body, then 404."""
    started = start(api)
    location = call(api, "POST", "/ah/memoryProfile/x/end")  # unknown id on the way
    problem(location, 404)
    created = call(api, "GET", f"/ah/memoryProfile/{started['id']}")
    assert ok(created, "profile")["state"] == "running"
    assert (started["state"], started["trigger"]) == ("running", "manual")

    listed = ok(call(api, "GET", "/ah/memory"), "profile_id_list")
    assert listed["memoryProfiles"] == [started["id"]]
    assert [(line["id"], line["pid"]) for line in listed["profiles"]] == [(started["id"], PID)]
    detailed = ok(call(api, "GET", "/ah/memory", "details=true"), "profile_list")
    assert [p["id"] for p in detailed["memoryProfiles"]] == [started["id"]]

    ended = ok(call(api, "POST", f"/ah/memoryProfile/{started['id']}/end"), "profile")
    assert (ended["id"], ended["state"]) == (started["id"], "complete")
    assert ended["ended"] != ""
    assert ended["lastDiff"]["timestamp"] != ""
    again = problem(call(api, "POST", f"/ah/memoryProfile/{started['id']}/end"), 409)
    assert started["id"] in again["detail"]

    deleted = ok(call(api, "DELETE", f"/ah/memoryProfile/{started['id']}"), "message")
    assert deleted == {"message": f"Deleted profile {started['id']}"}
    assert ok(call(api, "GET", "/ah/memory"), "profile_id_list") == {
        "memoryProfiles": [],
        "profiles": [],
    }
    gone = problem(call(api, "GET", f"/ah/memoryProfile/{started['id']}"), 404)
    assert started["id"] in gone["detail"]
    problem(call(api, "DELETE", f"/ah/memoryProfile/{started['id']}"), 404)


def test_start_answers_201_with_location(api: MemwatchAPI) -> None:
    """POST memoryProfile answers 201 and a Location that GET serves."""
    response = call(api, "POST", "/ah/memoryProfile")
    profile = ok(response, "profile", 201)
    location = response.get_header("Location")
    assert location == f"/ah/memoryProfile/{profile['id']}"
    assert ok(call(api, "GET", location), "profile")["id"] == profile["id"]


def test_second_manual_profile_is_a_conflict_naming_the_first(api: MemwatchAPI) -> None:
    """Starting while a manual profile runs is a 409 whose detail names the running one."""
    first = start(api)
    conflict = problem(call(api, "POST", "/ah/memoryProfile"), 409)
    assert first["id"] in conflict["detail"]


def test_force_gc_reports_what_it_collected(api: MemwatchAPI) -> None:
    """POST memory/gc runs a full collection and reports the garbage it found."""
    was_enabled = gc.isenabled()
    gc.disable()  # keep an automatic collection from taking our cycle first
    try:
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        body = ok(call(api, "POST", "/ah/memory/gc"), "gc_result")
    finally:
        if was_enabled:
            gc.enable()
    assert body["collected"] >= 1
    assert body["lastGC"]["num_full_gc"] >= 1
    assert body["lastGC"]["timestamp"] != ""


def test_request_bodies_are_ignored(api: MemwatchAPI) -> None:
    """A POST with an unexpected JSON (or junk) body is served as if it had none."""
    headers = {"Content-Type": "application/json"}
    ok(call(api, "POST", "/ah/memory/gc", headers=headers, body=b'{"full": false}'), "gc_result")
    ok(call(api, "POST", "/ah/memory/gc", body=b"\xff\x00 not json"), "gc_result")


@pytest.mark.parametrize(
    ("query", "details"),
    [
        ("", False),
        ("details=true", True),
        ("details=TRUE", True),
        ("details=True", True),
        ("details=1", True),
        ("details=false", False),
        ("details=FaLsE", False),
        ("details=0", False),
        ("details=1&details=true", True),
        ("other=zzz&details=1", True),
        ("unknown", False),
    ],
)
def test_details_values(api: MemwatchAPI, query: str, *, details: bool) -> None:
    """details takes true/false/1/0 in any case; other parameters are ignored."""
    start(api)
    response = call(api, "GET", "/ah/memory", query)
    body = ok(response, "profile_list" if details else "profile_id_list")
    first = body["memoryProfiles"][0]
    assert isinstance(first, dict) is details


@pytest.mark.parametrize("value", ["", "yes", "2", "tru", "%20true", "on"])
def test_bad_details_value_is_400_naming_it(api: MemwatchAPI, value: str) -> None:
    """Any other details value is a 400 whose detail quotes the value."""
    found = problem(call(api, "GET", "/ah/memory", f"details={value}"), 400)
    assert repr(value.replace("%20", " ")) in found["detail"]


def test_conflicting_details_values_are_400(api: MemwatchAPI) -> None:
    """details given as both true and false is a 400 naming both values."""
    found = problem(call(api, "GET", "/ah/memory", "details=TRUE&details=0"), 400)
    assert "'TRUE'" in found["detail"]
    assert "'0'" in found["detail"]


def test_huge_details_value_is_not_echoed(api: MemwatchAPI) -> None:
    """A megabyte details value gets a 400 whose detail stays short."""
    response = call(api, "GET", "/ah/memory", "details=" + "x" * 1_000_000)
    assert len(problem(response, 400)["detail"]) < 300


def test_too_many_query_parameters_is_400(api: MemwatchAPI) -> None:
    """A query string with more than 64 parameters is refused before parsing it all."""
    found = problem(call(api, "GET", "/ah/memory", "&".join(["a=1"] * 65)), 400)
    assert "64" in found["detail"]


# -- routing errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/ah/memoryProfile/status", "GET, HEAD, OPTIONS"),
        ("POST", "/ah/memoryProfile/status", "GET, HEAD, OPTIONS"),
        ("PUT", "/ah/memoryProfile/abc", "DELETE, GET, HEAD, OPTIONS"),
        ("POST", "/ah/memory", "GET, HEAD, OPTIONS"),
        ("get", "/ah/memory", "GET, HEAD, OPTIONS"),
        ("GET", "/ah/memoryProfile", "OPTIONS, POST"),
        ("DELETE", "/ah/memoryProfile/abc/end", "OPTIONS, POST"),
        ("GET", "/ah/memory/gc", "OPTIONS, POST"),
    ],
)
def test_wrong_method_is_405_with_allow(
    api: MemwatchAPI, method: str, path: str, allow: str
) -> None:
    """A method the path does not take is a 405 listing the allowed ones, sorted."""
    response = call(api, method, path)
    found = problem(response, 405)
    assert response.get_header("Allow") == allow
    assert repr(method) in found["detail"]


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/ah/memoryProfile/status", "GET, HEAD, OPTIONS"),
        ("/ah/memoryProfile/abc", "DELETE, GET, HEAD, OPTIONS"),
        ("/ah/memoryProfile", "OPTIONS, POST"),
        ("/ah/memory", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_is_204_with_allow(api: MemwatchAPI, path: str, allow: str) -> None:
    """OPTIONS answers 204 with Allow, the common headers and no body."""
    response = call(api, "OPTIONS", path)
    assert response.status == 204
    assert response.body == b""
    assert response.get_header("Allow") == allow
    assert_common_headers(response.headers, content_type=None, pid=PID)


def test_head_is_get_without_a_body(api: MemwatchAPI) -> None:
    """HEAD answers what GET would, headers included, with an empty body."""
    head = call(api, "HEAD", "/ah/memory")
    get = call(api, "GET", "/ah/memory")
    assert head.status == get.status == 200
    assert head.body == b""
    assert head.headers == get.headers
    problem_head = call(api, "HEAD", "/ah/memoryProfile/nope")
    assert (problem_head.status, problem_head.body) == (404, b"")
    assert problem_head.content_type == PROBLEM_CONTENT_TYPE
    not_allowed = call(api, "HEAD", "/ah/memoryProfile")
    assert (not_allowed.status, not_allowed.body) == (405, b"")
    assert not_allowed.get_header("Allow") == "OPTIONS, POST"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ah"),
        ("GET", "/ah/nope"),
        ("GET", "/ah/ui/"),
        ("GET", "/ah/ui/VENDORED.md"),
        ("GET", "/ah/ui/__init__.py"),
        ("GET", "/ah/memory/"),
        ("GET", "/ah/memoryProfile/abc/def"),
        ("POST", "/ah/memoryProfile/abc/stop"),
        ("GET", "/ah//memory"),
        ("GET", "/"),
        ("GET", "/elsewhere"),
        ("GET", "/ahx/memory"),
        ("GET", "/AH/memory"),
        ("GET", ""),
    ],
)
def test_unknown_paths_are_404(api: MemwatchAPI, method: str, path: str) -> None:
    """A path no route matches, inside the prefix or outside it, is a 404 problem."""
    problem(call(api, method, path), 404)


@pytest.mark.parametrize(
    "profile_id", ["", "x" * 65, "a.b", "a b", "%2e%2e", "..", "ü", "a\nb", "x" * 2_000_000]
)
@pytest.mark.parametrize(
    ("method", "template"),
    [("GET", "/ah/memoryProfile/{}"), ("DELETE", "/ah/memoryProfile/{}"),
     ("POST", "/ah/memoryProfile/{}/end")],
)  # fmt: skip
def test_malformed_ids_are_404_with_a_short_detail(
    api: MemwatchAPI, method: str, template: str, profile_id: str
) -> None:
    """An id of the wrong shape or size is a 404 whose detail quotes at most 64 characters."""
    found = problem(call(api, method, template.format(profile_id)), 404)
    assert len(found["detail"]) < 200
    assert profile_id[:64] in found["detail"] or repr(profile_id[:64])[1:-1] in found["detail"]


def test_status_is_not_a_profile_id(api: MemwatchAPI) -> None:
    """POST memoryProfile/status/end looks for a profile called status and finds none."""
    problem(call(api, "POST", "/ah/memoryProfile/status/end"), 404)


def test_custom_prefix(watcher: Watcher) -> None:
    """Routes live under the configured prefix, and Location uses it."""
    api = MemwatchAPI(auth=allow_all(), watcher=watcher, prefix="/debug/mem/")
    ok(call(api, "GET", "/debug/mem/memoryProfile/status"), "status")
    problem(call(api, "GET", "/ah/memoryProfile/status"), 404)
    response = call(api, "POST", "/debug/mem/memoryProfile")
    profile = ok(response, "profile", 201)
    assert response.get_header("Location") == f"/debug/mem/memoryProfile/{profile['id']}"


def test_root_prefix(watcher: Watcher) -> None:
    """With prefix "" the routes live at the root."""
    api = MemwatchAPI(auth=allow_all(), watcher=watcher, prefix="")
    ok(call(api, "GET", "/memory"), "profile_id_list")
    problem(call(api, "GET", "/ah/memory"), 404)


# -- busy censuses and unexpected errors ----------------------------------------------------


def test_busy_census_is_429_with_retry_after(api: MemwatchAPI, watcher: Watcher) -> None:
    """While a census runs, starting or ending a profile is a 429 with Retry-After >= 1."""
    running = start(api)
    census_lock = watcher._profiler.single_flight._lock
    assert census_lock.acquire(blocking=False)  # stands in for a census in another thread
    try:
        for path in ("/ah/memoryProfile", f"/ah/memoryProfile/{running['id']}/end"):
            response = call(api, "POST", path)
            problem(response, 429)
            retry_after = response.get_header("Retry-After")
            assert retry_after is not None
            assert retry_after.isdigit()
            assert int(retry_after) >= 1
    finally:
        census_lock.release()
    ok(call(api, "POST", f"/ah/memoryProfile/{running['id']}/end"), "profile")


@pytest.mark.parametrize(
    ("seconds", "header"),
    [(0.0, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60"), (1e9, "3600"),
     (float("inf"), "3600"), (float("-inf"), "1"), (float("nan"), "1"), (-5.0, "1")],
)  # fmt: skip
def test_retry_after_is_whole_seconds_between_1_and_3600(seconds: float, header: str) -> None:
    """Retry-After rounds up to whole seconds, at least 1 and at most an hour."""
    assert http._retry_after(seconds) == header


class _BrokenStore(MemoryProfileStore):
    """A store whose listing fails, as a remote store might."""

    def list(self) -> list[Profile]:
        raise RuntimeError("store exploded: <secret object at 0xdeadbeef>")


def test_unexpected_errors_are_a_generic_500_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception inside the watcher is a 500 without its message, logged and counted once."""
    with Watcher(background=False, store=_BrokenStore()) as broken:
        api = MemwatchAPI(auth=allow_all(), watcher=broken)
        with caplog.at_level(logging.ERROR, logger="memwatch"):
            found = problem(call(api, "GET", "/ah/memory"), 500)
        assert "exploded" not in found["detail"]
        assert "0xdeadbeef" not in found["detail"]
        assert api.internal_errors == 1
        assert len(caplog.records) == 1
        assert caplog.records[0].exc_info is not None
        ok(call(api, "GET", "/ah/memoryProfile/status"), "status")
        assert api.internal_errors == 1


def test_default_watcher_is_resolved_lazily() -> None:
    """Without a watcher the API serves the process-wide default, found on first use."""
    api = MemwatchAPI(auth=allow_all())
    try:
        body = ok(call(api, "GET", "/ah/memoryProfile/status"), "status")
        assert api.watcher is watcher_module.default_watcher()
        assert body["watcher"]["running"] is True
    finally:
        api.watcher.stop()


# -- auth through the API ------------------------------------------------------------------


def test_bearer_token_through_the_api(watcher: Watcher) -> None:
    """Without the token every route is a 401 with a challenge; with it, the route runs."""
    api = MemwatchAPI(auth=bearer_token(TOKEN), watcher=watcher)
    attempts = [
        ("GET", "/ah/memoryProfile/status"),
        ("POST", "/ah/memoryProfile"),
        ("GET", "/ah/unknown"),
        ("DELETE", "/ah/memoryProfile/status"),
    ]
    for method, path in attempts:
        response = call(api, method, path, headers={"Authorization": "Bearer nope"})
        problem(response, 401)
        challenge = response.get_header("WWW-Authenticate") or ""
        assert challenge.startswith('Bearer realm="memwatch"')
    assert watcher.list_profiles() == []
    good = {"authorization": f"Bearer {TOKEN}"}
    ok(call(api, "GET", "/ah/memoryProfile/status", headers=good), "status")
    problem(call(api, "GET", "/ah/unknown", headers=good), 404)


def test_paths_outside_the_prefix_are_404_before_auth(watcher: Watcher) -> None:
    """A path that is not memwatch's is a 404 even without credentials."""
    api = MemwatchAPI(auth=bearer_token(TOKEN), watcher=watcher)
    problem(call(api, "GET", "/login"), 404)


def test_read_only_through_the_api(watcher: Watcher) -> None:
    """read_only serves reads and refuses POST/DELETE with 403 before anything runs."""
    api = MemwatchAPI(auth=read_only(allow_all()), watcher=watcher)
    ok(call(api, "GET", "/ah/memory"), "profile_id_list")
    problem(call(api, "POST", "/ah/memoryProfile"), 403)
    problem(call(api, "POST", "/ah/memory/gc"), 403)
    problem(call(api, "DELETE", "/ah/memoryProfile/abc"), 403)
    assert watcher.list_profiles() == []


@pytest.mark.parametrize(
    ("client", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, 403),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.7"}, 403),
        ("203.0.113.7", {}, 403),
        (None, {}, 403),
    ],
)
def test_loopback_only_through_the_api(
    watcher: Watcher, client: str | None, headers: dict[str, str], status: int
) -> None:
    """loopback_only serves local peers and refuses remote or proxied ones with 403."""
    api = MemwatchAPI(auth=loopback_only(), watcher=watcher)
    response = call(api, "GET", "/ah/memoryProfile/status", headers=headers, client=client)
    if status == 200:
        ok(response, "status")
    else:
        problem(response, status)


def test_user_callables_decide(watcher: Watcher) -> None:
    """A user's callable allows with True, denies with False or a Denial, fails closed on None."""
    seen: list[Request] = []

    def badge(request: Request) -> bool | Denial:
        seen.append(request)
        if request.get_header("X-Badge") == "ok":
            return True
        if request.get_header("X-Badge") == "expired":
            return Denial(401, "Badge expired.", [("WWW-Authenticate", 'Badge realm="office"')])
        return False

    api = MemwatchAPI(auth=badge, watcher=watcher)
    ok(call(api, "GET", "/ah/memory", headers={"x-badge": "ok"}), "profile_id_list")
    assert seen[0].path == "/ah/memory"
    problem(call(api, "GET", "/ah/memory"), 403)
    expired = call(api, "GET", "/ah/memory", headers={"X-BADGE": "expired"})
    assert problem(expired, 401)["detail"] == "Badge expired."
    assert expired.get_header("WWW-Authenticate") == 'Badge realm="office"'
    forgot_return = MemwatchAPI(auth=lambda _request: None, watcher=watcher)
    problem(call(forgot_return, "GET", "/ah/memory"), 500)


# -- the neutral request and response ----------------------------------------------------


def test_request_headers_are_case_insensitive_and_joined() -> None:
    """Header lookup ignores case; repeated headers given as pairs are joined by ", "."""
    request = Request("GET", "/", headers=[("Accept", "a"), ("ACCEPT", "b"), ("X-One", "1")])
    assert request.get_header("accept") == "a, b"
    assert request.get_header("x-ONE") == "1"
    assert request.get_header("missing") is None
    assert request.get_header("missing", "d") == "d"
    assert Request("GET", "/", headers={"X-A": "1"}).headers == {"x-a": "1"}
    with pytest.raises(TypeError):
        request.headers["x-new"] = "2"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.path = "/other"  # type: ignore[misc]


def test_response_helpers(api: MemwatchAPI) -> None:
    """Response exposes reason, status line, content type and decoded JSON."""
    response = call(api, "GET", "/ah/nope")
    assert response.reason == "Not Found"
    assert response.status_line == "404 Not Found"
    assert response.content_type == PROBLEM_CONTENT_TYPE
    assert response.json()["status"] == 404
    assert response.get_header("content-TYPE") == PROBLEM_CONTENT_TYPE
    assert response.get_header("nope", "x") == "x"


# -- never raises -----------------------------------------------------------------------

_segments = st.sampled_from(["ah", "memory", "memoryProfile", "status", "gc", "end", "", "x"])


@given(
    method=st.sampled_from(["GET", "HEAD", "DELETE", "PUT", "OPTIONS", "PATCH", "get", ""]),
    segments=st.lists(_segments | st.text(max_size=80), max_size=5),
    query=st.text(max_size=80),
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=3),
)
def test_any_request_gets_a_valid_answer(
    method: str, segments: list[str], query: str, headers: dict[str, str]
) -> None:
    """Whatever the method, path, query and headers, handle answers a valid response."""
    with Watcher(background=False) as running:
        api = MemwatchAPI(auth=allow_all(), watcher=running)
        response = api.handle(Request(method, "/" + "/".join(segments), query, headers))
    assert api.internal_errors == 0
    assert response.get_header("Cache-Control") == "no-store"
    if response.status == 204 or method == "HEAD":
        assert response.body == b""
    elif response.content_type == PROBLEM_CONTENT_TYPE:
        assert_problem(response.status, response.headers, response.body, pid=PID)
    else:
        # A success is its route's: the route table names its status, media type and schemas.
        route = api.route_for(method, "/" + "/".join(segments))
        assert route is not None
        assert response.status == route.status
        assert (response.content_type or "").startswith(route.media_type)
        if route.media_type == JSON:
            details = "details" in query and route.name == "list_profiles"
            schema = route.bodies[-1] if details and len(route.bodies) > 1 else route.bodies[0]
            try:
                assert_valid(schema, response.body)
            except AssertionError:
                assert_valid(route.bodies[-1], response.body)
