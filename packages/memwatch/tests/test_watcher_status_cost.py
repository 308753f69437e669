"""The status keeps sys.getallocatedblocks(), whose cost grows with the heap, off most requests."""

from __future__ import annotations

import math
import sys
import time

import pytest

from memwatch.watcher import Watcher


def test_status_reuses_a_recent_allocated_blocks_reading():
    """Two statuses within a second report the same block count, though blocks were allocated."""
    watcher = Watcher(background=False)
    first = watcher.status().watcher.allocated_blocks
    started = time.monotonic()
    kept = [[i] for i in range(50_000)]
    second = watcher.status().watcher.allocated_blocks
    if time.monotonic() - started >= 1.0:
        pytest.skip("the machine was too slow: the reading was old enough to be read again")
    assert sys.getallocatedblocks() >= first + 40_000
    assert second == first
    del kept


def test_status_reads_allocated_blocks_again_once_the_reading_is_old():
    """Once the reading is older than a second, the status reads the block count afresh."""
    watcher = Watcher(background=False)
    first = watcher.status().watcher.allocated_blocks
    kept = [[i] for i in range(50_000)]
    watcher._blocks_read_at = -math.inf  # as if the last reading were long ago
    second = watcher.status().watcher.allocated_blocks
    assert second >= first + 40_000
    del kept
