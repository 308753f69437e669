"""A diff's allocation sites name the service's lines, never memwatch's own bookkeeping."""

from __future__ import annotations

import tracemalloc

import pytest

from memwatch.watcher import Watcher

KEPT: list[bytes] = []


@pytest.fixture
def tracing():
    """tracemalloc tracing for one test (one frame, as PYTHONTRACEMALLOC=1 gives)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    yield
    KEPT.clear()
    if not was_tracing:
        tracemalloc.stop()


@pytest.mark.usefixtures("tracing")
def test_census_ids_are_not_an_allocation_site():
    """The ids a held baseline census copied with ctypes do not show up as a site; real ones do."""
    with Watcher(auto_capture=False, background=False) as watcher:
        started = watcher.start_profile()
        KEPT.extend(bytes(4096) for _ in range(500))  # 2 MB kept by this file's next line
        ended = watcher.end_profile(started.id)
    assert ended.state == "complete"
    sites = ended.last_diff.change.allocation_sites
    files = [site.file for site in sites]
    assert not [f for f in files if f.replace("\\", "/").endswith("ctypes/__init__.py")], sites
    assert not [f for f in files if "/memwatch/" in f.replace("\\", "/")], sites
    top = max(sites, key=lambda site: site.size_bytes)
    assert top.file == __file__
    assert top.size_bytes >= 500 * 4096
