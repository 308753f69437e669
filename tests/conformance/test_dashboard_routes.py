"""The dashboard's routes on every adapter under real servers, answered by the core."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from contract import assert_valid
from memwatch.auth import bearer_token
from memwatch.dashboard import CONTENT_SECURITY_POLICY, FILES, asset
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "conformance-token"
AUTH_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def server(serve) -> Iterator[object]:
    """The adapter's app with memwatch behind a bearer token and a watcher of its own."""
    with Watcher(sample_interval=0.2, auto_capture=False) as watcher:
        yield serve(auth=bearer_token(TOKEN), watcher=watcher)


def test_every_dashboard_file_is_served_as_the_core_serves_it(server):
    """Each file comes with its bytes, type and CSP, without a token, on every adapter."""
    for file in FILES:
        response = server.client.get("/ah" + file.path)
        assert response.status_code == 200, (file.path, response.text[:200])
        assert response.content == asset(file.name).body
        assert response.headers["Content-Type"] == file.media_type
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_index_is_json_with_the_token_and_the_page_for_a_browser(server):
    """GET /ah/ is the route index for an API client and the page for a browser."""
    index = server.client.get("/ah/", headers=AUTH_HEADERS)
    assert index.status_code == 200, index.text
    assert assert_valid("index", index.content)["writable"] is True
    assert server.client.get("/ah/").status_code == 401
    page = server.client.get("/ah/", headers={"Accept": BROWSER})
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.content == asset("index.html").body


def test_samples_are_served(server):
    """GET /ah/memory/samples answers the watcher's window, valid against its schema."""
    server.client.post("/ah/memory/gc", headers=AUTH_HEADERS)
    response = server.client.get("/ah/memory/samples", headers=AUTH_HEADERS)
    assert response.status_code == 200, response.text
    body = assert_valid("sample_series", response.content)
    assert body["time"]
    assert server.client.get("/ah/memory/samples").status_code == 401
