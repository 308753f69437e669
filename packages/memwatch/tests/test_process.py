"""Process facts for the status, the cached block count, and the forced full collection."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import sys
from typing import TYPE_CHECKING

from memwatch.process import (
    FREE_THREADED,
    IMPLEMENTATION,
    PYTHON_VERSION,
    AllocatedBlocks,
    collect_fully,
    process_info,
)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_process_info_names_this_process_and_its_collector():
    """The status's process block is this pid, this interpreter and gc's settings now."""
    info = process_info()
    assert info.pid == os.getpid()
    assert info.python_version == PYTHON_VERSION == platform.python_version()
    assert info.implementation == IMPLEMENTATION == sys.implementation.name
    assert info.free_threaded is FREE_THREADED
    assert info.gc_enabled is gc.isenabled()
    assert info.gc_thresholds == gc.get_threshold()
    assert info.gc_freeze_count == gc.get_freeze_count()


if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """Earlier tests' garbage collected mid-test would shrink the block count (seen on 3.12)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_the_block_count_is_reused_within_its_age():
    """Two readings within max_age give the same count, though blocks were allocated between."""
    clock = Clock()
    blocks = AllocatedBlocks(max_age=1.0, clock=clock)
    with _no_collection():
        first = blocks()
        kept = [[i] for i in range(50_000)]
        clock.now += 0.9
        assert sys.getallocatedblocks() >= first + 40_000
        assert blocks() == first
    del kept


def test_the_block_count_is_read_again_once_it_is_old():
    """Once the reading is max_age old, the next call reads the count afresh."""
    clock = Clock()
    blocks = AllocatedBlocks(max_age=1.0, clock=clock)
    with _no_collection():
        first = blocks()
        kept = [[i] for i in range(50_000)]
        clock.now += 1.0
        assert blocks() >= first + 40_000
    del kept


def test_collect_fully_runs_a_full_collection_and_says_what_it_freed():
    """collect_fully moves the oldest generation's count and returns the objects it freed."""
    before = gc.get_stats()[-1]["collections"]
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert collect_fully() >= 1
    assert gc.get_stats()[-1]["collections"] > before
