"""The watcher runs from the moment memwatch is mounted, not from the first API request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from contract import assert_valid
from memwatch.auth import allow_all
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def idle_watcher() -> Iterator[Watcher]:
    """A watcher nobody has started; stopped at teardown whatever started it."""
    watcher = Watcher(sample_interval=0.2, auto_capture=False)
    yield watcher
    watcher.stop()


def test_mounting_starts_the_watcher(serve, idle_watcher):
    """Mounted and left alone for 2 s, the first status already counts samples."""
    server = serve(auth=allow_all(), watcher=idle_watcher)
    time.sleep(2)
    assert idle_watcher.running, "mounting memwatch did not start its watcher"
    response = server.client.get("/ah/memoryProfile/status")
    assert response.status_code == 200
    assert assert_valid("status", response.content)["watcher"]["samples"] > 0
