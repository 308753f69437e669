"""What a capture adds to its diff: allocating lines, holders, untracked data, the layer.

A :class:`CaptureExplainer` starts with a capture (right after its baseline
census): it reads the probes, records the large containers' item counts and,
when asked, opens a tracing window. The window is read and closed after
``trace_seconds`` (tracemalloc slows every allocation while it runs; the
capture itself goes on), or at the capture's end *before* the closing census
(so the census does not run traced), and after the diff
:meth:`CaptureExplainer.explain` adds:

- the window's allocation sites (innermost application frame, library beside);
- retention paths for the diff's top growing types (sampled new objects);
- the grown containers and the untracked data they gained, with their holders;
- the layer verdict over the capture's window.

It runs where the census runs (never inside a gc callback, never on an event
loop) and keeps only numbers and ids between start and end.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from typing import TYPE_CHECKING

import attrs

from memwatch.census import bookkeeping
from memwatch.explained import GrownContainer, LayerReadings, TypeRetention, Verdict
from memwatch.probe_readings import ProbeReading, make_probes, read_probes
from memwatch.retention import explain_retention, sample_new_ids
from memwatch.tracing import DEFAULT_FRAMES, TracingWindow, WindowReading, WindowSite
from memwatch.untracked import count_containers, grown_containers
from memwatch.verdict import judge

if TYPE_CHECKING:
    from memwatch.census import Census
    from memwatch.models import HeapDiffReport

__all__ = ["CaptureExplainer", "Explanation", "prepare"]

#: Types whose holders are searched, and new objects sampled per type.
RETENTION_TYPES = 5
RETENTION_SAMPLES = 20
#: A type with fewer new objects is no leak to explain (a class made once, a cache warming).
MIN_NEW_OBJECTS = 20


@bookkeeping
@attrs.frozen
class Explanation:
    """What a capture found beyond the per-type diff.

    Attributes:
        sites: The tracing window's allocation sites; empty without a window.
        retention: Holders of the top growing types' new objects.
        untracked: Grown containers and the untracked data they gained.
        verdict: Which layer of memory grew over the capture.
    """

    sites: tuple[WindowSite, ...]
    retention: tuple[TypeRetention, ...]
    untracked: tuple[GrownContainer, ...]
    verdict: Verdict


def prepare() -> None:
    """Make the probes now: a first capture would otherwise see their ctypes types as new."""
    make_probes()


@bookkeeping
class CaptureExplainer:
    """Started with a capture; at its end, explains the diff.

    Args:
        trace: Open a tracing window for the capture.
        frames: Frames per trace in the window.
        trace_seconds: Seconds after which :meth:`close_window_if_due` closes the
            window; ``None``: it stays open until the capture ends.
        time_budget: Seconds the retention search may take at the end.
    """

    def __init__(
        self,
        *,
        trace: bool,
        frames: int = DEFAULT_FRAMES,
        trace_seconds: float | None = None,
        time_budget: float = 5.0,
    ) -> None:
        """Read the probes, count the large containers and open the window if asked."""
        self._process, self._malloc = make_probes()
        self._time_budget = time_budget
        self._trace_seconds = trace_seconds
        self._start = read_probes(self._process, self._malloc)
        self._counts = count_containers()
        self._window = TracingWindow(frames=frames).open() if trace else None
        self._window_lock = threading.Lock()
        self._reading: WindowReading | None = None
        self._window_seconds: float | None = None
        self._window_overhead = 0
        self._end: ProbeReading | None = None

    @property
    def tracing(self) -> bool:
        """Whether this capture has a tracing window."""
        return self._window is not None

    def close_window_if_due(self, now: float | None = None, *, limit: int = 20) -> bool:
        """Read and close the window once it has been open ``trace_seconds``.

        Args:
            now: ``time.monotonic()`` by default.
            limit: At most this many sites kept.

        Returns:
            True if this call closed it.
        """
        if self._window is None or self._trace_seconds is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self._start.at < self._trace_seconds:
            return False
        return self._close_window(now, limit)

    def finish_window(self, *, limit: int = 20) -> None:
        """Read the probes, then read and close the window; call it before the closing census.

        The probes are read first: the window's snapshot, the closing census
        and the diff are memwatch's own work, and the memory they leave in the
        allocators (a snapshot of 25k traces kept 2.7 MB of RSS) is not the leak's.
        """
        if self._end is None:
            self._end = read_probes(self._process, self._malloc)
        self._close_window(self._end.at, limit)

    def _close_window(self, at: float, limit: int) -> bool:
        """Read and close the window unless it was; what tracemalloc itself held then is kept."""
        if self._window is None:
            return False
        with self._window_lock:
            if self._reading is not None:
                return False
            self._window_overhead = max(
                0, tracemalloc.get_tracemalloc_memory() - self._start.tracing
            )
            self._reading = self._window.finish(limit=limit)
            self._window_seconds = at - self._start.at
            return True

    def abandon(self) -> None:
        """Close the window without reading it (the capture was deleted or failed)."""
        if self._window is not None:
            with self._window_lock:
                self._window.close()

    def explain(self, before: Census, after: Census, report: HeapDiffReport) -> Explanation:
        """Everything beyond the per-type diff, for ``report`` (the diff of ``before``, ``after``).

        Args:
            before: The capture's baseline census.
            after: Its closing census.
            report: Their diff.

        Returns:
            The explanation.
        """
        self.finish_window()
        end = self._end or read_probes(self._process, self._malloc)
        names = [
            d.what
            for d in report.change.details
            if d.allocated >= MIN_NEW_OBJECTS and d.size_bytes > 0
        ][:RETENTION_TYPES]
        retention = explain_retention(_new_ids(before, after, names), time_budget=self._time_budget)
        untracked = grown_containers(self._counts, time_budget=self._time_budget)
        reading = self._reading
        # tracemalloc's own traces are malloc'd memory the window added: not the leak's.
        # A window closed early gave them back to malloc (no longer in use) but the
        # resident set may keep them.
        held = max(0, end.tracing - self._start.tracing)
        overhead = max(held, self._window_overhead)
        seconds = end.at - self._start.at
        # A window closed before the capture ended saw part of it: scaled to the whole.
        share = _window_share(self._window_seconds, seconds)
        process = _growth(self._start.process, end.process)
        malloc = _growth(self._start.malloc, end.malloc)
        readings = LayerReadings(
            seconds=seconds,
            # Without a process probe, what the census saw is the best figure there is.
            process_growth=max(report.change.size_bytes, 0)
            if process is None
            else process - overhead,
            malloc_growth=None if malloc is None else malloc - held,
            tracing_overhead=overhead,
            blocks_growth=end.blocks - self._start.blocks,
            census_growth=_grown_bytes(report),
            untracked_growth=sum(entry.size_bytes for entry in untracked),
            traced_growth=None if reading is None else round(reading.traced_bytes / share),
            foreign_traced_growth=0 if reading is None else round(reading.foreign_bytes / share),
        )
        return Explanation(
            sites=() if reading is None else reading.sites,
            retention=retention,
            untracked=untracked,
            verdict=judge(readings),
        )


def _new_ids(before: Census, after: Census, names: list[str]) -> dict[str, list[int]]:
    """Sampled ids of each named type's new objects.

    A function of its own so that the censuses' per-type tables it reads
    (one dict per census, a few hundred names) are gone before the grown
    containers are searched: they would be listed as containers that grew.
    """
    old, new = before.types, after.types
    return {
        name: sample_new_ids(old[name].ids if name in old else (), new[name].ids, RETENTION_SAMPLES)
        for name in names
        if name in new
    }


def _grown_bytes(report: HeapDiffReport) -> int:
    """The bytes the diff's growing types gained.

    Not the diff's net size: the types that shrank are mostly what was in
    flight at the baseline census (a request's frames, dicts, lists) and freed
    since, which would take the leak's own objects out of what the census
    explains (a logger per request read 0.3 MB net against 1.4 MB traced, and
    its Logger objects were judged untracked data).
    """
    return sum(detail.size_bytes for detail in report.change.details if detail.size_bytes > 0)


def _window_share(window: float | None, capture: float) -> float:
    """The share of the capture's seconds its window traced (1 when it traced to the end)."""
    if window is None or window <= 0 or capture <= 0:
        return 1.0
    return min(1.0, window / capture)


def _growth(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else end - start
