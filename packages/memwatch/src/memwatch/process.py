"""Facts about this process for the status, and the forced full collection.

What the interpreter is (version, implementation, free-threaded build) does
not change while it runs: it is read once, at import. What the collector is
doing (enabled, thresholds, frozen objects) and whether tracemalloc traces are
read at every status: they are cheap. ``sys.getallocatedblocks()`` is not
(its cost grows with the heap), so :class:`AllocatedBlocks` keeps a reading
for a second.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import platform
import sys
import sysconfig
import time
import tracemalloc
from typing import TYPE_CHECKING

from memwatch.process_models import ProcessInfo

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "FREE_THREADED",
    "IMPLEMENTATION",
    "PYTHON_VERSION",
    "AllocatedBlocks",
    "collect_fully",
    "process_info",
]

PYTHON_VERSION = platform.python_version()
"""``platform.python_version()``, read once."""

IMPLEMENTATION = sys.implementation.name
"""``sys.implementation.name`` (``cpython``, ``pypy``)."""

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
"""Whether this is a free-threaded (no GIL) build."""

#: Attempts and pause of collect_fully while another thread's collection is running.
_COLLECT_ATTEMPTS = 200
_COLLECT_RETRY_SECONDS = 0.005


def collect_fully() -> int:
    """``gc.collect()``, repeated until a full collection has run; what the last one freed.

    ``gc.collect()`` returns at once, collecting nothing, while another thread's
    collection is under way (its gc callbacks, ours included, are Python code
    that lets other threads run). A forced collection must not silently be
    none: try again, briefly, until the oldest generation's count moves.
    """
    before = gc.get_stats()[-1]["collections"]
    collected = gc.collect()
    for _ in range(_COLLECT_ATTEMPTS):
        if gc.get_stats()[-1]["collections"] != before:
            break
        time.sleep(_COLLECT_RETRY_SECONDS)
        collected = gc.collect()
    return collected


class AllocatedBlocks:
    """``sys.getallocatedblocks()``, read at most once per ``max_age`` seconds.

    It walks every pymalloc arena (about 40 us at 1M objects, 100 us at 3M),
    which made it most of a status request's own cost on a large heap
    (benchmarks/bench_endpoints.py). A racing reader at worst reads it twice.

    Args:
        max_age: Seconds a reading is reused.
        clock: Monotonic seconds; tests inject their own.
    """

    def __init__(
        self, *, max_age: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Start with no reading: the first call reads."""
        self.max_age = max_age
        self._clock = clock
        self._blocks = 0
        self._read_at = -math.inf

    def __call__(self) -> int:
        """The block count, read now or at most ``max_age`` seconds ago."""
        now = self._clock()
        if now - self._read_at >= self.max_age:
            self._blocks = sys.getallocatedblocks()
            self._read_at = now
        return self._blocks


def process_info() -> ProcessInfo:
    """This process as the status describes it: who answered and how its collector is set.

    The same readings give the same (frozen) object back, so that a status's
    serializer (:class:`memwatch.fragments.FieldwiseEncoder`) reuses its JSON.
    """
    return _process_info(
        os.getpid(),
        gc.isenabled(),
        tuple(gc.get_threshold()),
        gc.get_freeze_count(),
        tracemalloc.is_tracing(),
    )


@functools.lru_cache(maxsize=1)
def _process_info(
    pid: int, gc_enabled: bool, gc_thresholds: tuple[int, ...], frozen: int, tracing: bool
) -> ProcessInfo:
    return ProcessInfo(
        pid=pid,
        python_version=PYTHON_VERSION,
        implementation=IMPLEMENTATION,
        free_threaded=FREE_THREADED,
        gc_enabled=gc_enabled,
        gc_thresholds=gc_thresholds,
        gc_freeze_count=frozen,
        tracemalloc_tracing=tracing,
    )
