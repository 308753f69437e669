"""The dashboard's routes in the HTTP layer: static files without auth, the index, the samples."""

from __future__ import annotations

import pytest

from memwatch.auth import bearer_token, read_only
from memwatch.dashboard import CONTENT_SECURITY_POLICY, FILES, asset
from memwatch.http import MemwatchAPI, Request
from memwatch.testing.contract import assert_valid
from memwatch.watcher import Watcher

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def watcher():
    """A watcher without a polling thread."""
    watcher = Watcher(background=False, auto_capture=False)
    yield watcher
    watcher.stop()


@pytest.fixture
def api(watcher):
    """The API behind a bearer token."""
    return MemwatchAPI(auth=bearer_token("s3cret"), watcher=watcher)


@pytest.mark.parametrize("file", FILES, ids=lambda file: file.name)
def test_each_file_is_served_without_a_token_with_its_type_and_policy(api, file):
    """A browser loads every dashboard file with no token: its bytes, type, CSP, nosniff."""
    response = api.handle(Request("GET", "/ah" + file.path))
    assert response.status == 200
    assert response.body == asset(file.name).body
    assert response.content_type == file.media_type
    assert response.get_header("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    assert response.get_header("X-Content-Type-Options") == "nosniff"
    assert response.get_header("Cache-Control") == "no-store"
    assert [name for name, _ in response.headers].count("Content-Type") == 1
    head = api.handle(Request("HEAD", "/ah" + file.path))
    assert (head.status, head.body, head.content_type) == (200, b"", file.media_type)


@pytest.mark.parametrize(
    "path", ["/ah/ui/", "/ah/ui/VENDORED.md", "/ah/ui/__init__.py", "/ah/ui/../http.py"]
)
def test_other_paths_under_ui_are_not_served(api, path):
    """Only the listed files are public: anything else asks for the token first, then is 404."""
    assert api.handle(Request("GET", path)).status == 401
    assert api.handle(Request("GET", path, headers=AUTH)).status == 404


def test_writes_and_data_still_need_the_token(api):
    """Public files change nothing else: samples, status and POSTs are 401 without the token."""
    for method, path in (
        ("GET", "/ah/memory/samples"),
        ("GET", "/ah/memoryProfile/status"),
        ("POST", "/ah/memory/gc"),
        ("POST", "/ah/ui"),
    ):
        assert api.handle(Request(method, path)).status == 401, (method, path)


def test_the_index_is_the_page_for_a_browser_and_json_for_the_rest(api):
    """GET /ah/ answers the page to a browser without a token; JSON clients need the token."""
    page = api.handle(Request("GET", "/ah/", headers={"Accept": BROWSER}))
    assert page.status == 200
    assert page.content_type.startswith("text/html")
    assert page.get_header("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    assert api.handle(Request("GET", "/ah/")).status == 401
    assert api.handle(Request("GET", "/ah/", headers={"Accept": "*/*"})).status == 401
    index = api.handle(Request("GET", "/ah/", headers=AUTH))
    assert index.status == 200
    assert index.content_type == "application/json"
    body = assert_valid("index", index.body)
    assert body["writable"] is True
    assert body["dashboard"] == "/ah/ui"
    listed = {(route["method"], route["path"]) for route in body["routes"]}
    assert ("GET", "/ah/memory/samples") in listed
    assert ("POST", "/ah/memoryProfile/{id}/end") in listed
    assert len(listed) == len(api.routes)


def test_the_index_says_when_writes_are_refused(watcher):
    """Under read_only the index reports writable false, so the page hides its write buttons."""
    api = MemwatchAPI(auth=read_only(bearer_token("s3cret")), watcher=watcher)
    body = assert_valid("index", api.handle(Request("GET", "/ah/", headers=AUTH)).body)
    assert body["writable"] is False


def test_samples_serve_the_watchers_window(api, watcher):
    """GET /ah/memory/samples is the watcher's window, valid against sample_series.json."""
    watcher.start()
    watcher.force_gc()
    watcher.force_gc()
    response = api.handle(Request("GET", "/ah/memory/samples", headers=AUTH))
    assert response.status == 200
    body = assert_valid("sample_series", response.body)
    assert len(body["time"]) == len(body["reading"]) == len(body["baseline"]) >= 2
    assert body["sample_interval"] == watcher.sample_interval


def test_a_root_mount_serves_the_page_too(watcher):
    """With prefix '' the page is /ui and its script /ui/dashboard.js."""
    api = MemwatchAPI(auth=bearer_token("s3cret"), watcher=watcher, prefix="")
    assert api.handle(Request("GET", "/ui")).status == 200
    assert api.handle(Request("GET", "/ui/dashboard.js")).status == 200
    assert api.handle(Request("GET", "/", headers={"Accept": BROWSER})).status == 200
