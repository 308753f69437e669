"""A capture's explanation: sites, holders, untracked data and the layer, on a real leak."""

from __future__ import annotations

import sys
import textwrap
import tracemalloc
import types
from typing import TYPE_CHECKING

import pytest

from memwatch.census import take_census
from memwatch.diff import diff_censuses
from memwatch.explain import CaptureExplainer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_APP = textwrap.dedent(
    """
    class Session:
        def __init__(self, n):
            self.n = n
            self.items = [n] * 20

    SESSIONS = []
    PAGES = {}

    def handle(n):
        SESSIONS.append(Session(n))
        PAGES[f"/page/{n}"] = "<p>" * 500 + str(n)
    """
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[types.ModuleType]:
    """An application module, in a file of its own, that leaks sessions and pages."""
    path = tmp_path / "explain_app.py"
    path.write_text(_APP)
    module = types.ModuleType("explain_app")
    module.__file__ = str(path)
    exec(compile(_APP, str(path), "exec"), module.__dict__)  # noqa: S102 - our own source
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]
    tracemalloc.stop()


def test_a_traced_capture_explains_the_leak(app: types.ModuleType) -> None:
    """The line, the holder of the new objects, the grown dict of pages and a verdict."""
    before = take_census()
    explainer = CaptureExplainer(trace=True)
    assert tracemalloc.is_tracing()
    for n in range(3000):
        app.handle(n)
    explainer.finish_window()
    assert not tracemalloc.is_tracing()
    after = take_census()
    explanation = explainer.explain(before, after, diff_censuses(before, after))
    assert explanation.sites[0].file == app.__file__
    holders = {entry.what: entry.paths[0].root for entry in explanation.retention}
    assert holders["explain_app.Session"] == "explain_app.SESSIONS"
    (pages, *_) = explanation.untracked
    assert pages.text.startswith("explain_app.PAGES (dict): +3,000 items, +")
    assert explanation.verdict.layer in {"none", "python objects", "untracked python data"}
    assert explanation.verdict.figures.census_growth > 0


def test_an_untraced_capture_leaves_tracing_off(app: types.ModuleType) -> None:
    """Without a window nothing is traced and no site is named; holders are still found."""
    before = take_census()
    explainer = CaptureExplainer(trace=False)
    for n in range(500):
        app.handle(n)
    assert not tracemalloc.is_tracing()
    after = take_census()
    explanation = explainer.explain(before, after, diff_censuses(before, after))
    assert explanation.sites == ()
    assert any(entry.what == "explain_app.Session" for entry in explanation.retention)
