"""How the command reads a URL: the service or its API, with or without the prefix."""

from __future__ import annotations

import pytest

from memwatch.cli.client import ApiClient, ApiError, api_base


@pytest.mark.parametrize(
    ("url", "prefix", "expected"),
    [
        ("http://127.0.0.1:8000", "/ah", ("http", "127.0.0.1", 8000, "/ah")),
        ("http://127.0.0.1:8000/", "/ah", ("http", "127.0.0.1", 8000, "/ah")),
        ("http://127.0.0.1:8000/ah", "/ah", ("http", "127.0.0.1", 8000, "/ah")),
        ("http://127.0.0.1:8000/ah/", "/ah", ("http", "127.0.0.1", 8000, "/ah")),
        ("https://svc.internal/api", "/ah", ("https", "svc.internal", 443, "/api/ah")),
        ("svc:9000", "/ah", ("http", "svc", 9000, "/ah")),
        ("http://svc/debug/mw", "/debug/mw", ("http", "svc", 80, "/debug/mw")),
        ("http://svc/", "", ("http", "svc", 80, "")),
        ("http://[::1]:8000", "/ah", ("http", "::1", 8000, "/ah")),
    ],
)
def test_api_base(url, prefix, expected):
    """The prefix is appended unless the URL already ends with it; no scheme means http."""
    assert api_base(url, prefix) == expected


@pytest.mark.parametrize("url", ["ftp://svc", "http://", "http://svc:notaport"])
def test_bad_urls_are_refused_in_one_line(url):
    """A URL that cannot name an HTTP service is an ApiError before any request."""
    with pytest.raises(ApiError):
        api_base(url)


def test_base_url_brackets_ipv6():
    """The base URL shown in messages is a valid URL for an IPv6 host."""
    assert ApiClient("http://[::1]:8000").base_url == "http://[::1]:8000/ah"
