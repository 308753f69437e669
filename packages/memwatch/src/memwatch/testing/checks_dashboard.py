"""Checks of the dashboard's routes: its files, the index and the samples, on every adapter.

Mixed into :class:`~memwatch.testing.ConformanceSuite`. The core answers these
routes; an adapter passes when it forwards them untouched, media types and
``Content-Security-Policy`` included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memwatch.dashboard import CONTENT_SECURITY_POLICY, FILES, asset
from memwatch.testing.contract import assert_valid

if TYPE_CHECKING:
    from memwatch.testing.servers import Served

__all__ = ["DashboardChecks"]

_TOKEN_HEADERS = {"Authorization": "Bearer conformance-token"}
_BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class DashboardChecks:
    """The dashboard's files, ``GET /ah/`` and ``GET /ah/memory/samples`` (docs/dashboard.md)."""

    if TYPE_CHECKING:

        def serve(self, auth: Any = ..., *, prefix: str | None = ..., watcher: Any = ...) -> Served:
            """See :meth:`memwatch.testing.ConformanceSuite.serve`."""

    def test_every_dashboard_file_is_served_as_the_core_serves_it(self) -> None:
        """Each file comes with its bytes, type and CSP, without a token."""
        served = self.serve()
        for file in FILES:
            response = served.client.get("/ah" + file.path)
            assert response.status_code == 200, (file.path, response.text[:200])
            served_file = asset(file.name)
            assert served_file is not None, file.name
            assert response.content == served_file.body
            assert response.headers["Content-Type"] == file.media_type
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_the_index_is_json_with_the_token_and_the_page_for_a_browser(self) -> None:
        """``GET /ah/`` is the route index for an API client and the page for a browser."""
        served = self.serve()
        index = served.client.get("/ah/", headers=_TOKEN_HEADERS)
        assert index.status_code == 200, index.text
        assert assert_valid("index", index.content)["writable"] is True
        assert served.client.get("/ah/").status_code == 401
        page = served.client.get("/ah/", headers={"Accept": _BROWSER})
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        index_page = asset("index.html")
        assert index_page is not None
        assert page.content == index_page.body

    def test_samples_are_served(self) -> None:
        """``GET /ah/memory/samples`` answers the watcher's window, valid against its schema."""
        served = self.serve()
        served.client.post("/ah/memory/gc", headers=_TOKEN_HEADERS)
        response = served.client.get("/ah/memory/samples", headers=_TOKEN_HEADERS)
        assert response.status_code == 200, response.text
        body = assert_valid("sample_series", response.content)
        assert body["time"]
        assert served.client.get("/ah/memory/samples").status_code == 401
