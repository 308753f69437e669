"""What the HTTP API asks of a watcher: profiles started, ended, read, deleted; a forced gc.

:class:`ProfileActions` is mixed into :class:`memwatch.watcher.Watcher`, which
owns the parts these actions use (the profiler, the collector, the latest
reports, the host link). Kept apart so the watcher module holds the watching
(lifecycle, polling, events) and this one the requests: each action either
answers here or, for another worker's profile, hands the request over through
the shared store (:mod:`memwatch.host`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from memwatch.errors import MemwatchError
from memwatch.models import GCResult
from memwatch.process import collect_fully

if TYPE_CHECKING:
    from memwatch.collector import Collector
    from memwatch.detector import Detector, LeakFinding
    from memwatch.errors import ErrorLog
    from memwatch.host import HostLink
    from memwatch.models import GCStats, LeakReport, Profile
    from memwatch.profiles import Profiler
    from memwatch.reports import LatestReports

__all__ = ["ProfileActions"]


class ProfileActions:
    """Profiles and forced collections, for a watcher (see :class:`memwatch.watcher.Watcher`)."""

    if TYPE_CHECKING:
        host: HostLink
        _profiler: Profiler
        _collector: Collector
        _detector: Detector
        _reports: LatestReports
        _errors: ErrorLog

        def _after_feed(
            self, reports: list[GCStats | LeakReport], leaks: list[LeakFinding]
        ) -> None: ...

    def force_gc(self) -> GCResult:
        """Run a full collection now, take a sample after it, and return the stats.

        Single-flight together with the censuses: a full collection walks the
        whole heap as a census does, and forty at once stalled an app for seconds.

        Raises:
            CensusBusyError: a census or another forced collection is running right now.
        """
        with self._profiler.single_flight.claim():
            collected = collect_fully()
            with self._reports.lock:
                # Samples the collection itself queued come first, so time only moves forward.
                samples = [*self._collector.drain(), self._collector.sample_now(full=True)]
                reports, leaks = self._reports.feed(self._detector, samples)
                result = GCResult(last_gc=self._reports.last_gc, collected=collected)
        # Outside the claim: a leak it reveals may start a capture, which takes a census.
        self._after_feed(reports, leaks)
        return result

    def start_profile(self, pid: int | None = None, *, trace: bool = False) -> Profile:
        """Start a manual profile: take the baseline census now, here or in worker ``pid``.

        Args:
            pid: The worker to profile; ``None`` or this process: here.
            trace: Open a tracing window (for ``trace_seconds``), so that its
                diff names the allocating lines in application code (a profile
                handed to another worker is not traced).

        Raises:
            ProfileConflictError: a manual profile is already running (in that worker).
            CensusBusyError: another census is running right now.
            WorkerNotFoundError, WorkerTimeoutError: see
                :meth:`~memwatch.host.HostLink.start_elsewhere`.
        """
        if pid is not None and pid != os.getpid():
            return self.host.start_elsewhere(pid)
        try:
            self.host.announce()
            return self._profiler.start("manual", trace=trace)
        except MemwatchError:
            raise  # a conflict or a busy census is an answer, not a fault
        except Exception as exc:
            self._errors.note(exc, "profile start")  # a failing census or store shows in status
            raise

    def end_profile(self, profile_id: str) -> Profile:
        """End a running profile: second census, diff, and the status as it stands.

        Another worker's profile is ended by that worker (its baseline lives
        there): the request is handed over and its result awaited.

        Raises:
            ProfileNotFoundError: no stored profile has that id.
            ProfileConflictError: the profile is not running.
            CensusBusyError: another census is running right now.
            WorkerTimeoutError: the owning worker did not end it in time.
        """
        stored = self._profiler.get(profile_id)
        if stored.pid != os.getpid() and self.host.shared:
            return self.host.end_elsewhere(stored)
        try:
            profile = self._profiler.end(profile_id)
        except MemwatchError:
            raise
        except Exception as exc:
            self._errors.note(exc, "profile end")
            raise
        return profile  # a failed census was noted by the profiler (its on_error)

    def get_profile(self, profile_id: str) -> Profile:
        """One stored profile.

        Raises:
            ProfileNotFoundError: no stored profile has that id.
        """
        return self._profiler.get(profile_id)

    def delete_profile(self, profile_id: str) -> None:
        """Delete a stored profile (a running one is abandoned).

        Raises:
            ProfileNotFoundError: no stored profile has that id.
        """
        self._profiler.delete(profile_id)

    def list_profiles(self) -> list[Profile]:
        """Every stored profile, oldest first."""
        return self._profiler.list()
