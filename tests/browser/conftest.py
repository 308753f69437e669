"""A real browser (Debian's chromium, driven by Playwright) over a real server per adapter.

Playwright's own browser download is never used: ``executable_path`` points at
``/usr/bin/chromium`` (CI installs the ``chromium`` package). Without
Playwright or chromium the tests skip with a reason. Each page records its
console errors, page errors and the bytes of every response it loaded.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "served"))
from served import Service, running_service

CHROMIUM = Path(os.environ.get("MEMWATCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
ADAPTERS = ("flask", "fastapi", "tornado")


@dataclass
class Watched:
    """A page and what it logged: console errors, page errors, loaded responses."""

    page: Any
    errors: list[str] = field(default_factory=list)
    responses: list[tuple[str, int, int]] = field(default_factory=list)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # One page first, so the first test's timings are not chromium's own start-up.
        warm = launched.new_page()
        warm.set_content("<p>warm</p>")
        warm.close()
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[[str], Watched]]:
    """Open a URL in a fresh 1280x800 context and record what the page logs."""
    contexts: list[Any] = []

    def open_url(url: str) -> Watched:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page)
        page.on(
            "console",
            lambda message: (
                watched.errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))

        def finished(request: Any) -> None:
            response = request.response()
            if response is not None:
                watched.responses.append(
                    (request.url, response.status, request.sizes()["responseBodySize"])
                )

        page.on("requestfinished", finished)
        page.goto(url)
        return watched

    yield open_url
    for context in contexts:
        context.close()


@pytest.fixture(params=ADAPTERS, scope="module")
def adapter(request: pytest.FixtureRequest) -> str:
    """The adapter whose app serves the page; skipped when it is not installed."""
    pytest.importorskip(f"memwatch_{request.param}")
    return str(request.param)


@pytest.fixture(scope="module")
def service(adapter: str) -> Iterator[Service]:
    """The leaking service under the adapter's real server, shared by a module's tests."""
    with running_service(adapter, tracemalloc=False) as served:
        yield served


@pytest.fixture
def fresh_service(adapter: str) -> Iterator[Service]:
    """A service of the test's own (the test makes it leak)."""
    with running_service(adapter, tracemalloc=False) as served:
        yield served


@pytest.fixture
def read_only_service(adapter: str) -> Iterator[Service]:
    """A service whose auth is read_only(bearer_token(...))."""
    with running_service(adapter, auth="read-only", tracemalloc=False) as served:
        yield served
