"""Captured profiles: a baseline census when one starts, a second census and a diff when it ends.

Censuses are single-flight per :class:`Profiler`, together with the watcher's
forced collections (:class:`SingleFlight`): a second one while one runs raises
:class:`~memwatch.errors.CensusBusyError` at once instead of doubling the
pause. Baselines of running profiles are kept here, never in the store: they
are large and internal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from typing import TYPE_CHECKING

import attrs

from memwatch.census import Census, take_census
from memwatch.diff import diff_censuses
from memwatch.errors import (
    CensusBusyError,
    ProfileConflictError,
    ProfileNotFoundError,
    describe_error,
)
from memwatch.explain import CaptureExplainer
from memwatch.explain import prepare as prepare_explaining
from memwatch.explained import Verdict
from memwatch.forks import reset_after_fork
from memwatch.models import (
    AllocationSite,
    EventKind,
    GCStats,
    HeapDiffReport,
    LeakReport,
    Profile,
    ProfileTrigger,
)
from memwatch.store import new_profile_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from memwatch.store import ProfileStore

__all__ = ["Profiler", "SingleFlight", "StateSnapshot"]


@attrs.frozen
class StateSnapshot:
    """The watcher's state a profile records when it ends."""

    last_event: EventKind
    last_gc: GCStats
    last_leak: LeakReport


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class SingleFlight:
    """One heavy pass over the heap at a time: a census, or a forced full collection.

    A second one while one runs would double the pause (40 concurrent forced
    collections on a 1.5M-object heap stalled an app's own requests for
    seconds); it is refused at once with a retry delay instead.
    """

    def __init__(self) -> None:
        """Nothing runs yet; the first retry delay is two seconds."""
        self._lock = threading.Lock()
        self._last_seconds = 1.0

    @property
    def retry_after(self) -> float:
        """The seconds to wait before trying again (twice the last pass's time, at least 1)."""
        return max(1.0, round(self._last_seconds * 2, 1))

    @contextlib.contextmanager
    def claim(self) -> Iterator[None]:
        """Hold the heap for the ``with`` block.

        Raises:
            CensusBusyError: another pass holds it now.
        """
        if not self._lock.acquire(blocking=False):
            raise CensusBusyError(retry_after=self.retry_after)
        started = time.perf_counter()
        try:
            yield
        finally:
            self._last_seconds = time.perf_counter() - started
            self._lock.release()

    def reset(self) -> None:
        """A fresh lock (in a forked child, a parent thread's pass never ends)."""
        self._lock = threading.Lock()


class Profiler:
    """Starts, ends and deletes profiles on behalf of a watcher.

    Args:
        store: Where finished and running profiles are kept.
        record_diff: Called with each new diff; the watcher records it as its
            ``lastDiff`` and returns its state, which the profile keeps.
        pid: Returns the current process id (profiles name their process).
        max_details: Types kept in a diff's details.
        max_sites: Allocation sites kept in a diff.
        census_time_budget: Seconds a census may take before it stops and says ``partial``.
        single_flight: The gate censuses share with other heavy passes (the
            watcher's forced collections); a new one by default.
        on_error: Describes (and may count and log) a census that failed a
            profile; returns the profile's ``error``.
            :func:`~memwatch.errors.describe_error` by default.
        trace_leaks: Open a tracing window for every profile captured on a leak
            (a manual profile asks with ``trace=True``).
        trace_seconds: Seconds a tracing window stays open at most
            (:meth:`close_due_windows` closes it; the profile goes on);
            ``None``: until its profile ends.
        explain: Add retention paths, grown containers and a verdict to each
            diff (:mod:`memwatch.explain`).
    """

    def __init__(
        self,
        store: ProfileStore,
        *,
        record_diff: Callable[[HeapDiffReport], StateSnapshot],
        pid: Callable[[], int],
        max_details: int = 100,
        max_sites: int = 20,
        census_time_budget: float | None = 30.0,
        single_flight: SingleFlight | None = None,
        on_error: Callable[[BaseException, str], str] = describe_error,
        trace_leaks: bool = True,
        trace_seconds: float | None = 20.0,
        explain: bool = True,
    ) -> None:
        """Bind the profiler to a store and to its watcher's state."""
        if trace_seconds is not None and trace_seconds <= 0:
            raise ValueError(f"trace_seconds must be positive or None, got {trace_seconds}")
        self._store = store
        self._record_diff = record_diff
        self._pid = pid
        self.max_details = max_details
        self.max_sites = max_sites
        self.census_time_budget = census_time_budget
        self.single_flight = single_flight if single_flight is not None else SingleFlight()
        self._on_error = on_error
        self.trace_leaks = trace_leaks
        self.trace_seconds = trace_seconds
        self.explain = explain
        self._state_lock = threading.Lock()
        self._baselines: dict[str, Census] = {}
        self._explainers: dict[str, CaptureExplainer] = {}
        if explain:
            prepare_explaining()
        reset_after_fork(self, Profiler.reset)

    def _census(self, *, trace_sites: bool = True) -> Census:
        """Take a census; the caller holds ``single_flight``."""
        return take_census(time_budget=self.census_time_budget, trace_sites=trace_sites)

    def running(self, trigger: ProfileTrigger | None = None) -> list[Profile]:
        """The running profiles, optionally only those with ``trigger``."""
        with self._state_lock:
            ids = list(self._baselines)
        found = [self._store.get(pid) for pid in ids]
        return [p for p in found if p is not None and (trigger is None or p.trigger == trigger)]

    def start(
        self,
        trigger: ProfileTrigger = "manual",
        profile_id: str | None = None,
        *,
        trace: bool | None = None,
    ) -> Profile:
        """Take a baseline census and store a running profile.

        Args:
            trigger: What started it.
            profile_id: The id another worker chose when it handed the start
                over (:mod:`memwatch.host`); a new one otherwise.
            trace: Open a tracing window (``trace_seconds``); ``None``: for a leak
                trigger when ``trace_leaks`` is set, else not.

        Raises:
            ProfileConflictError: a manual profile is already running (manual trigger only).
            CensusBusyError: another census is running right now.
        """
        with self.single_flight.claim():
            if trigger == "manual":
                for other in self.running("manual"):
                    raise ProfileConflictError(
                        f"profile {other.id} is already running; end it with "
                        f"POST .../memoryProfile/{other.id}/end before starting another",
                        other.id,
                    )
            baseline = self._census()
            profile = Profile(
                id=profile_id or new_profile_id(),
                state="running",
                trigger=trigger,
                started=baseline.taken_at,
                pid=self._pid(),
            )
            if trace is None:
                trace = trigger == "leak" and self.trace_leaks
            explainer = (
                CaptureExplainer(trace=trace, trace_seconds=self.trace_seconds)
                if self.explain or trace
                else None
            )
            with self._state_lock:
                self._baselines[profile.id] = baseline
                if explainer is not None:
                    self._explainers[profile.id] = explainer
            try:
                self._store.put(profile)
            except BaseException:
                # A store that fails must not leave the baseline (8 bytes an object) behind.
                self._forget(profile.id)
                raise
            return profile

    def close_due_windows(self, now: float | None = None) -> int:
        """Close the tracing windows open ``trace_seconds`` (at ``now``, monotonic); how many.

        Off the request path (the watcher's poll): a window's reading takes ~0.1 s.
        """
        with self._state_lock:
            explainers = list(self._explainers.values())
        return sum(explainer.close_window_if_due(now) for explainer in explainers)

    def _forget(self, profile_id: str) -> CaptureExplainer | None:
        """Drop a profile's baseline and explainer (its window closed); the explainer, if any."""
        with self._state_lock:
            self._baselines.pop(profile_id, None)
            explainer = self._explainers.pop(profile_id, None)
        if explainer is not None:
            explainer.abandon()
        return explainer

    def end(self, profile_id: str) -> Profile:
        """Take the second census, diff it against the baseline, and complete the profile.

        A census that fails leaves the profile ``failed``, its ``error`` what
        ``on_error`` made of it (the exception's type, never its message); it is
        stored either way.

        Raises:
            ProfileNotFoundError: no stored profile has that id.
            ProfileConflictError: the profile is not running.
            CensusBusyError: another census is running right now.
        """
        profile = self._store.get(profile_id)
        if profile is None:
            raise ProfileNotFoundError(profile_id)
        with self._state_lock:
            baseline = self._baselines.get(profile_id)
        if profile.state != "running" or baseline is None:
            raise ProfileConflictError(
                f"profile {profile_id} is {profile.state}, not running", profile_id
            )
        with self.single_flight.claim():
            with self._state_lock:
                if self._baselines.pop(profile_id, None) is None:
                    raise ProfileConflictError(f"profile {profile_id} already ended", profile_id)
                explainer = self._explainers.pop(profile_id, None)
            try:
                if explainer is not None:
                    explainer.finish_window()  # so that the closing census is not traced
                after = self._census(trace_sites=explainer is None or not explainer.tracing)
                report = diff_censuses(
                    baseline, after, max_details=self.max_details, max_sites=self.max_sites
                )
            except Exception as exc:  # noqa: BLE001 - a failed census fails the profile, not the caller
                if explainer is not None:
                    explainer.abandon()
                ended = attrs.evolve(
                    profile, state="failed", ended=_utcnow(), error=self._on_error(exc, "census")
                )
            else:
                report, verdict = self._explained(explainer, baseline, after, report)
                del after, baseline
                state = self._record_diff(report)
                ended = attrs.evolve(
                    profile,
                    state="complete",
                    ended=report.timestamp,
                    last_event=state.last_event,
                    last_gc=state.last_gc,
                    last_leak=state.last_leak,
                    last_diff=report,
                    verdict=verdict,
                )
            if self._store.get(profile_id) is not None:
                try:
                    self._store.put(ended)
                except BaseException:
                    # Its baseline is gone: a stored "running" profile could never end.
                    self._store.delete(profile_id)
                    raise
            return ended

    def _explained(
        self,
        explainer: CaptureExplainer | None,
        before: Census,
        after: Census,
        report: HeapDiffReport,
    ) -> tuple[HeapDiffReport, Verdict]:
        """The diff with its explanation added; the plain diff if explaining fails."""
        if explainer is None:
            return report, Verdict()
        try:
            explanation = explainer.explain(before, after, report)
        except Exception as exc:  # noqa: BLE001 - the diff stands without its explanation
            self._on_error(exc, "explain")
            return report, Verdict()
        change = report.change
        sites = change.allocation_sites
        if explainer.tracing:
            sites = tuple(
                AllocationSite(s.file, s.line, s.size_bytes, s.count, s.library)
                for s in explanation.sites[: self.max_sites]
            )
        change = attrs.evolve(
            change,
            allocation_sites=sites,
            retention=explanation.retention,
            untracked=explanation.untracked,
        )
        return attrs.evolve(report, change=change), explanation.verdict

    def get(self, profile_id: str) -> Profile:
        """One stored profile.

        Raises:
            ProfileNotFoundError: no stored profile has that id.
        """
        profile = self._store.get(profile_id)
        if profile is None:
            raise ProfileNotFoundError(profile_id)
        return profile

    def list(self) -> list[Profile]:
        """Every stored profile, oldest first."""
        return self._store.list()

    def delete(self, profile_id: str) -> None:
        """Delete a profile; a running one is abandoned and its baseline freed.

        Raises:
            ProfileNotFoundError: no stored profile has that id.
        """
        self._forget(profile_id)
        if not self._store.delete(profile_id):
            raise ProfileNotFoundError(profile_id)

    def use_store(self, store: ProfileStore) -> None:
        """Keep profiles in ``store`` from now on (a forked child joining its workers' store)."""
        self._store = store

    def forget_vanished(self) -> None:
        """Free the baselines of running profiles that are no longer stored.

        Another worker may delete a profile this one is running; the baseline
        (8 bytes an object) must not stay behind.
        """
        with self._state_lock:
            ids = list(self._baselines)
        for profile_id in ids:
            if self._store.get(profile_id) is None:
                with self._state_lock:
                    self._baselines.pop(profile_id, None)

    def reset(self) -> None:
        """Forget every baseline, and every profile unless other workers share the store.

        A forked child starts with no profiles of its own: an in-memory store
        copied from the parent is emptied; a shared one holds its siblings'.
        """
        with self._state_lock:
            self._baselines.clear()
            explainers, self._explainers = list(self._explainers.values()), {}
        for explainer in explainers:
            explainer.abandon()
        if not getattr(self._store, "shared", False):
            self._store.clear()
        # A lock held by a parent thread at fork time stays held in the child forever.
        self.single_flight.reset()
        self._state_lock = threading.Lock()
