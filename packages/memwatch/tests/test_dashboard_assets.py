"""The dashboard's files: all there, self-contained, strict CSP, small, and the vendored uPlot."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch import dashboard

BUDGET = 150 * 1024


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, _tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_script = True


def _page() -> _Tags:
    parser = _Tags()
    page = dashboard.asset(dashboard.PAGE.name)
    assert page is not None
    parser.feed(page.body.decode())
    return parser


def test_every_asset_is_there_with_its_media_type():
    """Each named asset exists, with a media type matching its extension."""
    expected = {
        ".html": "text/html",
        ".js": "text/javascript",
        ".css": "text/css",
        ".LICENSE": "text/plain",
    }
    for file in dashboard.FILES:
        name = file.name
        asset = dashboard.asset(name)
        assert asset is not None, name
        assert asset.body
        suffix = next(s for s in expected if name.endswith(s))
        assert asset.media_type.startswith(expected[suffix])
        assert asset.media_type == file.media_type
        assert ("Content-Security-Policy", dashboard.CONTENT_SECURITY_POLICY) in asset.headers


@pytest.mark.parametrize(
    "name", ["", "VENDORED.md", "__init__.py", "../http.py", "index.htm", "x/../index.html"]
)
def test_nothing_else_is_served(name):
    """Only the listed files are assets: not the package's Python, not its notes, no path tricks."""
    assert dashboard.asset(name) is None


def test_the_policy_is_strict():
    """The CSP allows nothing inline and nothing from another origin."""
    policy = dict(
        part.strip().split(" ", 1) for part in dashboard.CONTENT_SECURITY_POLICY.split(";")
    )
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert policy[directive] == "'self'"
    assert "unsafe" not in dashboard.CONTENT_SECURITY_POLICY
    assert policy["frame-ancestors"] == "'none'"


def test_the_page_has_no_inline_code_and_no_external_url():
    """No inline script, style attribute or element, handler attribute, or URL off the origin."""
    page = _page()
    assert not page.inline_script
    for tag, attributes in page.tags:
        assert tag != "style"
        assert "style" not in attributes
        assert not any(name.startswith("on") for name in attributes)
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            assert not re.match(r"(https?:)?//", value), value
    scripts = [a["src"] for t, a in page.tags if t == "script"]
    assert scripts == ["ui/uPlot.iife.min.js", "ui/dashboard.js"]


def test_the_assets_reference_nothing_outside():
    """Neither the script nor the styles load fonts, images or code from anywhere else."""
    for name in ("dashboard.js", "dashboard.css", "uPlot.min.css"):
        text = dashboard.asset(name).body.decode()
        assert not re.search(r"https?://|@import|url\(\s*['\"]?(?!data:)", text), name
    script = dashboard.asset("dashboard.js").body.decode()
    assert "innerHTML" not in script  # values from the API are written as text
    assert 'credentials: "omit"' in script  # never a cookie
    assert "localStorage" not in script
    assert "sessionStorage" not in script


def test_everything_is_under_the_budget():
    """The page and every asset together stay under 150 KB."""
    total = sum(len(dashboard.asset(file.name).body) for file in dashboard.FILES)
    assert total < BUDGET, total


def test_the_vendored_uplot_has_its_licence_and_version():
    """uPlot's MIT licence ships beside it, and VENDORED.md records its version and source."""
    notes = resources.files("memwatch.dashboard").joinpath("VENDORED.md").read_text()
    assert re.search(r"\| `uPlot\.iife\.min\.js` \| npm `uplot`.* \| \d+\.\d+\.\d+ \|", notes)
    licence = dashboard.asset("uPlot.LICENSE").body.decode()
    assert "Permission is hereby granted" in licence
    assert "Leon Sorokin" in licence


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8", True),
        ("text/html;q=0.5, application/json", False),
        ("text/html;q=0, */*", False),
        ("application/json;q=0.1, */*;q=0.9", True),
        ("text/*", True),
        ("text/html;q=nonsense", False),
    ],
)
def test_prefers_html(accept, html):
    """The page is chosen only when the client ranks HTML above JSON."""
    assert dashboard.prefers_html(accept) is html


@given(st.text(max_size=300))
def test_prefers_html_takes_any_header(accept):
    """Any Accept header gets an answer, never an exception."""
    assert dashboard.prefers_html(accept) in (True, False)
