"""Value objects of the status's parts that describe who answered, beside its events.

The interpreter (:class:`ProcessInfo`), the watcher itself (:class:`WatcherInfo`),
where profiles are kept (:class:`StoreInfo`) and the memory limit
(:class:`MemoryInfo`): :class:`memwatch.models.Status` carries them after the
contract's four keys. Apart from :mod:`memwatch.models` (whose rules they follow:
snake_case fields, encodable strings) because they describe the process, not its heap's events.
"""

from __future__ import annotations

from typing import Literal

import attrs

from memwatch.encodable import encodable_strings

__all__ = ["LimitSource", "MemoryInfo", "ProcessInfo", "StoreInfo", "WatcherInfo"]

LimitSource = Literal["cgroup2", "cgroup1", "rlimit", "env", "none"]


@attrs.frozen(field_transformer=encodable_strings)
class ProcessInfo:
    """The process that answered: behind workers, each has its own heap.

    Attributes:
        pid: The process id.
        python_version: ``platform.python_version()``.
        implementation: ``sys.implementation.name``.
        free_threaded: True on a free-threaded (no-GIL) build.
        gc_enabled: ``gc.isenabled()``.
        gc_thresholds: ``gc.get_threshold()``.
        gc_freeze_count: ``gc.get_freeze_count()``; frozen objects are invisible to a census.
        tracemalloc_tracing: True when tracemalloc traces allocations (diffs then name lines).
    """

    pid: int
    python_version: str
    implementation: str
    free_threaded: bool
    gc_enabled: bool
    gc_thresholds: tuple[int, ...]
    gc_freeze_count: int
    tracemalloc_tracing: bool


@attrs.frozen(field_transformer=encodable_strings)
class WatcherInfo:
    """How the watcher itself is doing.

    Attributes:
        running: True while the gc callback is installed.
        mode: The leak detector's mode (``"trend"`` or ``"memwatch"``).
        probe: The name of the heap probe in use.
        sample_interval: Seconds between heap samples outside full collections.
        collections: Collections seen since the watcher started.
        samples: Heap samples taken since the watcher started.
        heap_bytes: The latest probe reading, in bytes.
        allocated_blocks: ``sys.getallocatedblocks()`` at the latest sample.
        errors: Errors caught inside the watcher (never raised into the service).
        last_error: The latest such error, as ``"Type: message"``; ``""`` if none.
        gc_callbacks: memwatch callbacks now in ``gc.callbacks``, this watcher's and any
            other's: 1 while one watcher runs, and more means a duplicate registration.
        leak_events: Leak events reported since the watcher started (a counter for metrics).
    """

    running: bool = False
    mode: str = ""
    probe: str = ""
    sample_interval: float = 0.0
    collections: int = 0
    samples: int = 0
    heap_bytes: int = 0
    allocated_blocks: int = 0
    errors: int = 0
    last_error: str = ""
    gc_callbacks: int = 0
    leak_events: int = 0


@attrs.frozen(field_transformer=encodable_strings)
class StoreInfo:
    """Where this process keeps its profiles (docs/workers.md).

    Attributes:
        kind: ``"memory"`` (this process only) or ``"sqlite"`` (every worker of the host).
        shared: True while other workers read and write the same store.
        fallback: Why the SQLite store fell back to memory (``"database locked"``, ...);
            ``""`` when it did not.
    """

    kind: Literal["memory", "sqlite"] = "memory"
    shared: bool = False
    fallback: str = ""


@attrs.frozen(field_transformer=encodable_strings)
class MemoryInfo:
    """The memory limit this process is held to, and how near it is; ``None`` where unknown.

    Attributes:
        limit_bytes: The effective limit: the one with the least headroom of the
            cgroup's, the rlimits, and ``MEMWATCH_MEMORY_LIMIT`` (which wins).
        limit_source: ``"cgroup2"``, ``"cgroup1"``, ``"rlimit"``, ``"env"`` or ``"none"``.
        used_bytes: What the limit counts: the cgroup's usage, the address space or
            data segment (rlimits), the resident set (``env``, and without a limit).
        headroom_bytes: ``limit_bytes - used_bytes``, at least 0.
        seconds_to_limit: When the latest leak's rate reaches the limit, while that
            leak stands (reported within the detector's window).
        oom_kills: Processes the kernel's OOM killer ended in this cgroup.
    """

    limit_bytes: int | None = None
    limit_source: LimitSource = "none"
    used_bytes: int | None = None
    headroom_bytes: int | None = None
    seconds_to_limit: float | None = None
    oom_kills: int | None = None
