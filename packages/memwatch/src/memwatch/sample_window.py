"""The recent heap samples, kept for plotting: a bounded ring buffer fed by the watcher.

``GET {prefix}/memory/samples`` serves it: per sample its wall time (Unix
seconds, for a chart's x axis), the probe's reading and the detector's
baseline, plus the leak reports whose windows the chart marks. The watcher
feeds it from its ``stats`` and ``leak`` events, on its poll thread, outside
its locks; readers take a consistent copy under the window's own lock.

Bounded by construction: at most ``capacity`` samples (720 by default, an
hour at the default 5 s interval; about 25 KB of JSON when full) and the
latest ``max_leaks`` leak reports (10).
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING

import attrs

from memwatch.models import LeakReport

if TYPE_CHECKING:
    from memwatch.models import GCStats

__all__ = ["SampleSeries", "SampleWindow"]


@attrs.frozen
class SampleSeries:
    """``GET /memory/samples``: the recent window, column by column, for plotting.

    Attributes:
        probe: The probe whose readings these are (``"rss"``, ``"tracemalloc"`` ...).
        sample_interval: Seconds between samples outside full collections.
        capacity: The most samples the window keeps.
        time: Each sample's wall time, Unix seconds (millisecond precision), oldest first.
        reading: Each sample's probe reading, in bytes.
        baseline: The detector's baseline estimate after each sample, in bytes.
        leaks: The latest leak reports, oldest first (``start``..``end`` is the window
            that grew; ``timestamp`` is when it was reported).
    """

    probe: str
    sample_interval: float
    capacity: int
    time: tuple[float, ...] = ()
    reading: tuple[int, ...] = ()
    baseline: tuple[int, ...] = ()
    leaks: tuple[LeakReport, ...] = ()


class SampleWindow:
    """The latest ``capacity`` samples and ``max_leaks`` leak reports.

    Args:
        capacity: Samples kept; older ones drop off.
        max_leaks: Leak reports kept.

    Raises:
        ValueError: ``capacity`` or ``max_leaks`` is below 1.
    """

    def __init__(self, capacity: int = 720, max_leaks: int = 10) -> None:
        """An empty window."""
        if capacity < 1 or max_leaks < 1:
            msg = f"capacity and max_leaks must be at least 1, got {capacity} and {max_leaks}"
            raise ValueError(msg)
        self.capacity = capacity
        self._lock = threading.Lock()
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque(
            maxlen=capacity
        )
        self._leaks: collections.deque[LeakReport] = collections.deque(maxlen=max_leaks)

    def __len__(self) -> int:
        """The number of samples kept."""
        return len(self._samples)

    def add(self, report: GCStats | LeakReport) -> None:
        """Keep a stats event as a sample, or a leak report (the watcher calls it for each)."""
        if isinstance(report, LeakReport):
            self.add_leak(report)
        else:
            self.add_stats(report)

    def add_stats(self, stats: GCStats) -> None:
        """Keep one sample from a ``stats`` event (the watcher calls it for each one)."""
        if stats.timestamp is None:
            return
        moment = round(stats.timestamp.timestamp(), 3)
        with self._lock:
            self._samples.append((moment, stats.current_base, stats.estimated_base))

    def add_leak(self, leak: LeakReport) -> None:
        """Keep one leak report (the watcher calls it for each one)."""
        with self._lock:
            self._leaks.append(leak)

    def clear(self) -> None:
        """Forget every sample and leak (a forked child starts its own history)."""
        with self._lock:
            self._samples.clear()
            self._leaks.clear()

    def series(self, *, probe: str, sample_interval: float) -> SampleSeries:
        """A consistent copy of the window, as the route serves it."""
        with self._lock:
            samples = tuple(self._samples)
            leaks = tuple(self._leaks)
        times, readings, baselines = zip(*samples, strict=True) if samples else ((), (), ())
        return SampleSeries(
            probe=probe,
            sample_interval=sample_interval,
            capacity=self.capacity,
            time=tuple(times),
            reading=tuple(readings),
            baseline=tuple(baselines),
            leaks=leaks,
        )
