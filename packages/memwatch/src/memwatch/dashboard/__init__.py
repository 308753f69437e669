"""The dashboard: one static page, its script and styles, and uPlot, as package data.

The HTTP layer serves them (``GET {prefix}/ui`` and ``{prefix}/ui/{asset}``) on
every adapter. The files hold no data: the page's script reads the API with the
token its user gives it, so serving them needs no auth (a browser navigation
cannot send a bearer token), and an unauthenticated load learns nothing an
unauthenticated API call does not (that memwatch is mounted here).

Every asset is sent with a strict ``Content-Security-Policy`` (scripts, styles
and requests from this origin only; no inline script or style, no frames, no
forms posting elsewhere), its own media type and ``nosniff``. uPlot is
vendored unchanged from the npm registry (see ``VENDORED.md``); no CDN, no
external fonts, so the page works offline. Everything is about 80 KB.
"""

from __future__ import annotations

import functools
from importlib import resources
from types import MappingProxyType

import attrs

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "FILES",
    "PAGE",
    "Asset",
    "DashboardFile",
    "asset",
    "prefers_html",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page's policy, which allows nothing inline and nothing from another origin."""

_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"


@attrs.frozen
class DashboardFile:
    """One file of the dashboard and the route that serves it.

    Attributes:
        route: The route's name in :data:`memwatch.routes.ROUTES`.
        path: Its path under the prefix, e.g. ``"/ui/dashboard.js"``.
        name: The file's name in this package.
        media_type: Its ``Content-Type``.
    """

    route: str
    path: str
    name: str
    media_type: str


PAGE = DashboardFile("dashboard", "/ui", "index.html", "text/html; charset=utf-8")
"""The page; its script and styles are ``ui/...`` relative to it."""

FILES: tuple[DashboardFile, ...] = (
    PAGE,
    DashboardFile("dashboard_script", "/ui/dashboard.js", "dashboard.js", _JS),
    DashboardFile("dashboard_styles", "/ui/dashboard.css", "dashboard.css", _CSS),
    DashboardFile("uplot_script", "/ui/uPlot.iife.min.js", "uPlot.iife.min.js", _JS),
    DashboardFile("uplot_styles", "/ui/uPlot.min.css", "uPlot.min.css", _CSS),
    DashboardFile(
        "uplot_licence", "/ui/uPlot.LICENSE", "uPlot.LICENSE", "text/plain; charset=utf-8"
    ),
)
"""Every file the dashboard serves, one route each; nothing else in this package is reachable."""

_BY_NAME = MappingProxyType({file.name: file for file in FILES})


@attrs.frozen
class Asset:
    """One file of the dashboard, ready to send.

    Attributes:
        name: Its file name, e.g. ``"dashboard.js"``.
        body: Its bytes.
        media_type: Its ``Content-Type``.
    """

    name: str
    body: bytes
    media_type: str

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The headers it is sent with, besides ``Content-Type`` and the HTTP layer's own."""
        return (
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
        )


@functools.cache
def asset(name: str) -> Asset | None:
    """The file called ``name`` (read once), or ``None`` if the dashboard has none by that name."""
    file = _BY_NAME.get(name)
    if file is None:
        return None
    body = resources.files(__name__).joinpath(name).read_bytes()
    return Asset(name, body, file.media_type)


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def prefers_html(accept: str | None) -> bool:
    """True when an ``Accept`` header ranks ``text/html`` above ``application/json``.

    A browser's navigation (``text/html,...,*/*;q=0.8``) prefers the page; no
    header, ``*/*`` (curl), or a tie gets JSON, the API's default.
    """
    if not accept:
        return False
    kinds = {"html": ("text/html", "text/*"), "json": ("application/json", "application/*")}
    specific: dict[str, float] = {}
    wildcard = {"html": 0.0, "json": 0.0}
    for media_range in accept.split(",")[:64]:
        media_type, *parameters = media_range.split(";")
        media_type = media_type.strip().lower()
        quality = _quality(parameters)
        for kind, (exact, family) in kinds.items():
            if media_type == exact:
                specific[kind] = max(specific.get(kind, 0.0), quality)
            elif media_type in (family, "*/*"):
                wildcard[kind] = max(wildcard[kind], quality)
    # The most specific range that matches decides a type's quality (RFC 9110, 12.5.1).
    html = specific.get("html", wildcard["html"])
    return html > specific.get("json", wildcard["json"])
