"""The latest reports a status shows: the detector's findings made models, with wall-clock times.

The detector speaks in samples and monotonic seconds; the status speaks in
:class:`~memwatch.models.GCStats`, :class:`~memwatch.models.LeakReport` and
:class:`~memwatch.models.HeapDiffReport` with RFC 3339 timestamps.
:class:`LatestReports` feeds samples to a detector in time order, turns what it
finds into those models, and keeps the latest of each kind (and which came
last) for the status and for the profile that ends next. A leak's report
carries a preliminary layer verdict from the probe readings over its window
(:mod:`memwatch.leak_layers`), read here before each batch of samples is fed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from typing import TYPE_CHECKING

from memwatch.detector import LeakFinding, StatsFinding
from memwatch.leak_layers import LeakLayers
from memwatch.models import EventKind, GCStats, HeapDiffReport, LeakReport
from memwatch.profiles import StateSnapshot

if TYPE_CHECKING:
    from collections.abc import Callable

    from memwatch.detector import Detector
    from memwatch.samples import Sample

__all__ = ["LatestReports"]

logger = logging.getLogger("memwatch")


class LatestReports:
    """The latest stats, leak and diff of one process, and the order they came in.

    Args:
        clock: The monotonic clock the samples' times come from; its reading at
            construction is pinned to the wall clock then.
        leak_reason: Makes a leak's reason from its finding (the watcher adds the
            projection to the memory limit); the finding's own reason by default.
        layer_every: Least seconds between two of the probe readings a leak's
            verdict is judged on (:class:`~memwatch.leak_layers.LeakLayers`).

    Attributes:
        lock: Held while reports change; a caller that must drain and feed as
            one step (so that sample times only move forward) holds it around both.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        leak_reason: Callable[[LeakFinding], str] | None = None,
        layer_every: float = 2.0,
    ) -> None:
        """Nothing reported yet."""
        self._clock = clock
        self._leak_reason = leak_reason
        self.layers = LeakLayers(every=layer_every)
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every report (a forked child starts with none); the lock is renewed."""
        self.lock = threading.RLock()
        self._mono_origin = self._clock()
        self._wall_origin = dt.datetime.now(dt.timezone.utc)
        self.last_event: EventKind = ""
        self.last_gc = GCStats()
        self.last_leak = LeakReport()
        self.last_diff = HeapDiffReport()
        self.leak_events = 0
        self._last_fed = float("-inf")
        self.layers.clear()

    def _wall(self, mono: float) -> dt.datetime:
        return self._wall_origin + dt.timedelta(seconds=mono - self._mono_origin)

    def feed(
        self, detector: Detector, samples: list[Sample]
    ) -> tuple[list[GCStats | LeakReport], list[LeakFinding]]:
        """Feed ``samples`` to ``detector`` in time order and keep what it reports.

        A sample older than the last one fed (a collection in another thread
        queued it while a forced sample was being fed) is dropped: the
        detector needs time to move forward, and one sample less costs nothing.

        Returns:
            The reports made (for the listeners) and the leak findings (for auto-capture).
        """
        reports: list[GCStats | LeakReport] = []
        leaks: list[LeakFinding] = []
        with self.lock:
            if samples:
                self.layers.read(max(sample.time for sample in samples))
            for sample in samples:
                if sample.time < self._last_fed:
                    continue
                self._last_fed = sample.time
                for finding in detector.feed(sample):
                    if isinstance(finding, StatsFinding):
                        reports.append(self._stats(finding))
                    elif isinstance(finding, LeakFinding):
                        reports.append(self._leak(finding))
                        leaks.append(finding)
        return reports, leaks

    def _stats(self, finding: StatsFinding) -> GCStats:
        self.last_gc = GCStats(
            timestamp=self._wall(finding.time),
            num_full_gc=finding.num_full_gc,
            num_inc_gc=finding.num_inc_gc,
            heap_compactions=finding.heap_compactions,
            estimated_base=finding.estimated_base,
            current_base=finding.current_base,
            min=finding.min,
            max=finding.max,
            usage_trend=finding.usage_trend,
        )
        self.last_event = "stats"
        return self.last_gc

    def _leak(self, finding: LeakFinding) -> LeakReport:
        reason = finding.reason if self._leak_reason is None else self._leak_reason(finding)
        self.last_leak = LeakReport(
            timestamp=self._wall(finding.time),
            start=self._wall(finding.start),
            end=self._wall(finding.end),
            growth=finding.growth,
            reason=reason,
            verdict=self.layers.judge(finding),
        )
        self.last_event = "leak"
        self.leak_events += 1
        logger.warning("memwatch: leak detected in pid %d: %s", os.getpid(), reason)
        return self.last_leak

    def record_diff(self, report: HeapDiffReport) -> StateSnapshot:
        """Keep a profile's diff as the latest; return the state that profile records."""
        with self.lock:
            self.last_diff = report
            self.last_event = "diff"
            return StateSnapshot(self.last_event, self.last_gc, self.last_leak)

    def snapshot(self) -> tuple[EventKind, GCStats, LeakReport, HeapDiffReport]:
        """The latest event kind, stats, leak and diff, read together."""
        with self.lock:
            return self.last_event, self.last_gc, self.last_leak, self.last_diff
