"""The gc collector: one callback in ``gc.callbacks`` that counts collections and samples the heap.

The callback runs synchronously inside every collection, in whichever thread
triggered it, so it does as little as it can: it counts the collection, and
after a full collection (or once per ``sample_interval`` after younger ones) it
reads the probe and appends a :class:`~memwatch.samples.Sample` to a bounded
queue. It takes no lock, logs nothing, and never raises: an error is counted
and described for the status (:func:`~memwatch.errors.describe_error`: its
type, never its message); the exception itself is kept for the watcher's
thread to log (:meth:`Collector.take_exception`). A background thread drains the
queue (:meth:`Collector.drain`) and feeds the detector.

Thread safety: install, uninstall, drain and reset may be called from any
thread. The callback's counters are plain attributes incremented without a
lock. With the GIL (and on free-threaded builds, where collections are
serialized by the interpreter) increments from callbacks are never lost to
each other; a :meth:`Collector.reset` running concurrently with a collection
in another thread may keep that one collection's count. Counters are for
status and trends, and that tolerance is accepted rather than risking a lock
inside the collector.
"""

from __future__ import annotations

import collections
import gc
import math
import threading
import time
from typing import TYPE_CHECKING, Any

from memwatch.errors import describe_error
from memwatch.forks import reset_after_fork
from memwatch.samples import Sample

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from typing_extensions import Self

    from memwatch.probes import Probe

__all__ = ["Collector"]

#: The oldest generation: a collection of it is a full collection.
_OLDEST_GENERATION = 2


class Collector:
    """Counts collections and samples the heap from a gc callback.

    Args:
        probe: What measures the heap (see :mod:`memwatch.probes`); any object
            with a ``name`` and a ``read() -> int``.
        sample_interval: After a young collection, read the probe only if this
            many seconds passed since the last sample. Full collections are
            always sampled.
        clock: Monotonic seconds; tests inject their own.
        max_pending: Samples kept for :meth:`drain`; past this the oldest are
            dropped (and counted in :attr:`dropped`), so a stalled reader never
            makes the collector hold memory without bound.

    Raises:
        TypeError: ``probe`` has no ``read()`` or no ``name``.
        ValueError: ``sample_interval`` is negative or not a number, or
            ``max_pending`` is below 1.
    """

    def __init__(
        self,
        *,
        probe: Probe,
        sample_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_pending: int = 1024,
    ) -> None:
        """Set up the counters; nothing is installed until :meth:`install`."""
        if not callable(getattr(probe, "read", None)) or not isinstance(
            getattr(probe, "name", None), str
        ):
            raise TypeError(f"a probe needs a name and a read() method, got {probe!r}")
        if not sample_interval >= 0:  # also refuses NaN
            raise ValueError(f"sample_interval must be >= 0 seconds, got {sample_interval!r}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending!r}")
        self.probe = probe
        self.sample_interval = float(sample_interval)
        self._clock = clock
        self._pending: collections.deque[Sample] = collections.deque(maxlen=max_pending)
        self._lock = threading.Lock()
        # One bound method, kept, so uninstall removes exactly what install added.
        self._callback = self._on_gc
        self._zero()
        reset_after_fork(self, Collector._after_fork_in_child)

    def _zero(self) -> None:
        self._collections = 0
        self._full_collections = 0
        self._incremental_collections = 0
        self._compactions = 0
        self._samples = 0
        self._dropped = 0
        self._errors = 0
        self._last_error = ""
        self._last_exception: BaseException | None = None
        self._last_heap_bytes = 0
        self._last_sample_time = -math.inf

    # -- the callback: counts and one cheap probe reading, nothing else --------

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop":
            return
        try:
            self._collections += 1
            full = info["generation"] >= _OLDEST_GENERATION
            if full:
                self._full_collections += 1
            else:
                self._incremental_collections += 1
            if info.get("collected", 0) > 0:
                self._compactions += 1
            now = self._clock()
            if full or now - self._last_sample_time >= self.sample_interval:
                self._enqueue(self._record(now, int(self.probe.read()), full=full))
        except Exception as exc:  # noqa: BLE001 - raising here would print once per collection
            self._errors += 1
            self._last_error = describe_error(exc, "gc callback")
            # Kept for the watcher's thread to log: nothing may log inside a collection.
            self._last_exception = exc

    def _record(self, now: float, heap: int, *, full: bool) -> Sample:
        self._samples += 1
        self._last_heap_bytes = heap
        self._last_sample_time = now
        return Sample(
            time=now,
            heap_bytes=heap,
            full=full,
            num_full_gc=self._full_collections,
            num_inc_gc=self._incremental_collections,
            heap_compactions=self._compactions,
        )

    def _enqueue(self, sample: Sample) -> None:
        pending = self._pending
        if len(pending) == pending.maxlen:
            self._dropped += 1
        pending.append(sample)

    # -- installation ------------------------------------------------------------

    def install(self) -> None:
        """Add the callback to ``gc.callbacks``, once; installing again does nothing."""
        with self._lock:
            if not self._is_in_gc_callbacks():
                gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        """Remove the callback from ``gc.callbacks``; does nothing if it is not there."""
        with self._lock:
            callbacks = gc.callbacks
            for index in range(len(callbacks) - 1, -1, -1):
                if callbacks[index] is self._callback:
                    del callbacks[index]

    def _is_in_gc_callbacks(self) -> bool:
        return any(callback is self._callback for callback in gc.callbacks)

    @staticmethod
    def installed_anywhere() -> int:
        """How many collectors' callbacks are in ``gc.callbacks`` now (every watcher's)."""
        return sum(
            1
            for callback in gc.callbacks
            if isinstance(getattr(callback, "__self__", None), Collector)
        )

    @property
    def installed(self) -> bool:
        """Whether the callback is in ``gc.callbacks`` now."""
        return self._is_in_gc_callbacks()

    def __enter__(self) -> Self:
        """Install the callback."""
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Uninstall the callback."""
        self.uninstall()

    # -- for the reader (the watcher's thread) -----------------------------------

    def drain(self) -> list[Sample]:
        """Remove and return the pending samples, oldest first.

        Samples appended while this runs are either returned or left for the
        next call, never lost or returned twice.
        """
        pending = self._pending
        samples: list[Sample] = []
        while True:
            try:
                samples.append(pending.popleft())
            except IndexError:  # noqa: PERF203 - a concurrent reset() may empty it at any point
                return samples

    def sample_now(self, *, full: bool = False) -> Sample:
        """Read the probe now, outside any collection, and return the sample.

        For the time-based fallback when no collection sampled for a while, and
        after a forced ``gc.collect()`` (``full=True``). The sample is returned,
        not queued; it counts in :attr:`samples` and restarts the interval.
        Drain first, then call this, and feed the samples in that order: times
        then never go backwards.

        Args:
            full: Whether a full collection just ran.

        Returns:
            The new sample.

        Raises:
            Exception: whatever the probe raises; the caller reports it (it is
                not counted in :attr:`errors`, which counts the callback's).
        """
        heap = int(self.probe.read())
        return self._record(self._clock(), heap, full=full)

    def reset(self) -> None:
        """Zero every counter and drop the pending samples (the callback stays installed)."""
        self._pending.clear()
        self._zero()

    def _after_fork_in_child(self) -> None:
        # The parent's counts and samples are not the child's. The lock may have
        # been held by another parent thread at fork time: take a fresh one.
        self._lock = threading.Lock()
        self.reset()

    # -- counters ----------------------------------------------------------------

    @property
    def collections(self) -> int:
        """Collections seen (every generation)."""
        return self._collections

    @property
    def full_collections(self) -> int:
        """Collections of the oldest generation (memwatch's ``num_full_gc``)."""
        return self._full_collections

    @property
    def incremental_collections(self) -> int:
        """Collections of younger generations (memwatch's ``num_inc_gc``)."""
        return self._incremental_collections

    @property
    def compactions(self) -> int:
        """Collections that freed at least one object (memwatch's ``heap_compactions``)."""
        return self._compactions

    @property
    def samples(self) -> int:
        """Probe readings taken, in callbacks and by :meth:`sample_now`."""
        return self._samples

    @property
    def dropped(self) -> int:
        """Samples dropped because ``max_pending`` were waiting to be drained."""
        return self._dropped

    @property
    def errors(self) -> int:
        """Exceptions caught inside the callback."""
        return self._errors

    @property
    def last_error(self) -> str:
        """The latest of them as ``"gc callback: Type"``, or ``""``."""
        return self._last_error

    def take_exception(self) -> BaseException | None:
        """The latest exception caught in the callback, once; ``None`` if none since the last call.

        Its message and traceback are for the ``memwatch`` logger, which the
        callback itself may not use.
        """
        exc, self._last_exception = self._last_exception, None
        return exc

    @property
    def last_heap_bytes(self) -> int:
        """The latest probe reading, or 0 before the first."""
        return self._last_heap_bytes

    @property
    def last_sample_time(self) -> float:
        """The clock at the latest sample, or ``-inf`` before the first.

        ``clock() - last_sample_time`` is then infinite, so a time-based
        fallback samples at once.
        """
        return self._last_sample_time
