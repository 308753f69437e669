"""The watcher: collector, detector and profiles wired together, with the state the API serves.

Data flows one way. The collector's gc callback (:mod:`memwatch.collector`)
counts collections and queues heap samples; a background thread
(``memwatch-watcher``) drains them about once a second, feeds them to the
detector and keeps the latest reports (:mod:`memwatch.reports`), tells the
listeners added with :meth:`Watcher.on` (:mod:`memwatch.listeners`), and on a
leak lets the auto-capture policy (:mod:`memwatch.capture`) take a profile
(:mod:`memwatch.profiles`). Nothing heavy ever runs inside the gc callback, and
the watcher never raises into it: errors are counted and described by type
(:mod:`memwatch.errors`). Configuration from the environment is :mod:`memwatch.config`;
facts about the process, :mod:`memwatch.process`; a fork's reset, :mod:`memwatch.forks`.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, Literal, overload

import attrs

from memwatch.actions import ProfileActions
from memwatch.capture import AutoCapture
from memwatch.collector import Collector
from memwatch.config import watcher_options
from memwatch.converter import converter
from memwatch.detector import Detector, LeakFinding, make_detector
from memwatch.errors import ErrorLog
from memwatch.forks import reset_after_fork
from memwatch.headroom import Headroom
from memwatch.hooks import build_hooks
from memwatch.host import HostLink, acting_for
from memwatch.limits import MemoryLimits
from memwatch.listeners import Listeners
from memwatch.models import GCStats, LeakReport, Status
from memwatch.polling import PollingThread
from memwatch.probes import Probe, make_probe
from memwatch.process import AllocatedBlocks
from memwatch.profiles import Profiler
from memwatch.reports import LatestReports
from memwatch.sample_window import SampleSeries, SampleWindow
from memwatch.status import StatusSources, assemble_status
from memwatch.store.location import choose_store

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType

    from memwatch.store import ProfileStore

__all__ = ["Watcher", "default_watcher"]

_POLL_SECONDS = 1.0


class Watcher(ProfileActions):
    """Watches this process's heap for leaks and captures heap diffs.

    Construct one, call :meth:`start` (or use it as a context manager), and
    read :meth:`status`. Adapters usually share :func:`default_watcher`.

    Args:
        mode: Leak detector mode, ``"trend"`` (default) or ``"consecutive"`` (``"memwatch"``).
        detector_options: Options for :func:`memwatch.detector.make_detector`.
        detector: A ready detector; overrides ``mode`` and ``detector_options``.
        probe: A probe name for :func:`memwatch.probes.make_probe` or a probe object.
        sample_interval: Seconds between heap samples outside full collections;
            also the time-based fallback when the process does not collect, and
            the least time between two readings of the memory limit. 1 s: a
            reading costs about 2 us, and the detector's 5 s slots then keep the
            lowest of five readings.
        store: Where profiles are kept. By default the store for where this process
            runs (:func:`memwatch.store.location.choose_store`): in memory for one
            process, the host's SQLite store for a worker of gunicorn or uvicorn;
            chosen again in a forked child.
        auto_capture: Start a profile automatically when a leak is reported.
        capture_seconds: An auto-captured profile ends after this long, or at the
            next leak event, whichever comes first.
        capture_cooldown: Seconds between two auto-captures, so that a leaking
            service is not censused continuously.
        trace_captures: An auto-captured profile opens a tracing window (tracemalloc
            on while it runs), so that its diff names the allocating lines.
        trace_seconds: Seconds a tracing window stays open at most (it slows the
            service; 20 s of a leak name its lines), or ``None``: until the profile ends.
        max_details: Types kept in a diff's details.
        max_sites: Allocation sites kept in a diff (when tracemalloc traces).
        census_time_budget: Seconds a census may run before it stops and says ``partial``.
        memory_limit: A memory limit in bytes that wins over the cgroup's and the
            rlimits (``MEMWATCH_MEMORY_LIMIT``), compared with the resident set.
        limit_capture_ratio: Share of the memory limit at which a profile is
            captured whatever the detector says (trigger ``limit``).
        background: Run the polling thread. Without it, call :meth:`poll` yourself.
        clock: Monotonic clock (seconds); tests inject one.
    """

    def __init__(
        self,
        *,
        mode: str = "trend",
        detector_options: Mapping[str, Any] | None = None,
        detector: Detector | None = None,
        probe: str | Probe = "auto",
        sample_interval: float = 1.0,
        store: ProfileStore | None = None,
        auto_capture: bool = True,
        capture_seconds: float = 60.0,
        capture_cooldown: float = 600.0,
        trace_captures: bool = True,
        trace_seconds: float | None = 20.0,
        max_details: int = 100,
        max_sites: int = 20,
        census_time_budget: float | None = 30.0,
        memory_limit: int | None = None,
        limit_capture_ratio: float = 0.9,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the watcher; nothing is installed until :meth:`start`."""
        if sample_interval <= 0:
            msg = f"sample_interval must be positive, got {sample_interval}"
            raise ValueError(msg)
        self._detector = detector or make_detector(mode, **dict(detector_options or {}))
        self._probe = make_probe(probe) if isinstance(probe, str) else probe
        self.sample_interval = sample_interval
        self.auto_capture = auto_capture
        self.capture_seconds = capture_seconds
        self.background = background
        self._clock = clock
        self._errors = ErrorLog()
        self._headroom = Headroom(
            MemoryLimits(explicit_limit=memory_limit),
            every=sample_interval,
            ratio=limit_capture_ratio,
        )
        self._reports = LatestReports(
            clock, leak_reason=self._headroom.leak_reason, layer_every=min(sample_interval, 2.0)
        )
        self._window = SampleWindow()
        # Built before the watcher registers its own fork reset: theirs run first in a child.
        self._collector = Collector(probe=self._probe, sample_interval=sample_interval, clock=clock)
        self._store_chosen = store is None
        self._store = store if store is not None else choose_store()
        self._profiler = Profiler(
            self._store,
            record_diff=self._reports.record_diff,
            pid=os.getpid,
            max_details=max_details,
            max_sites=max_sites,
            census_time_budget=census_time_budget,
            on_error=self._errors.note,
            trace_leaks=trace_captures,
            trace_seconds=trace_seconds,
        )
        self._capture = AutoCapture(
            self._profiler, cooldown=capture_cooldown, on_error=self._errors.note, clock=clock
        )
        self._lifecycle = threading.Lock()
        self._poller = PollingThread(self.poll, name="memwatch-watcher", period=_POLL_SECONDS)
        self._listeners = Listeners()
        self._status_sources = StatusSources(
            collector=self._collector,
            detector=self._detector,
            probe=self._probe,
            reports=self._reports,
            errors=self._errors,
            allocated_blocks=AllocatedBlocks(),
            sample_interval=sample_interval,
            store=self._store,
            headroom=self._headroom,
        )
        self.host = self._link()
        reset_after_fork(self, Watcher._after_fork_in_child)

    def _link(self) -> HostLink:
        """This worker's link to its host's other workers, through the store."""
        return HostLink.for_store(
            self._store,
            status=lambda: converter.unstructure(self.status()),
            act=acting_for(self._profiler, self._errors.note),
            interval=self.sample_interval,
            wait_seconds=(self._profiler.census_time_budget or 30.0) + 2 * _POLL_SECONDS + 1,
            clock=self._clock,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Watcher:
        """A watcher configured by ``MEMWATCH_*`` environment variables (docs/configuration.md).

        Lets operators tune a deployed service without a code change; the variables
        are :data:`memwatch.config.ENV_VARIABLES`. Keyword ``overrides`` win.

        Raises:
            ValueError: a variable holds a value of the wrong kind; the message names it.
        """
        return cls(**{**watcher_options(environ), **overrides})

    @property
    def pid(self) -> int:
        """The id of the process this watcher watches."""
        return os.getpid()

    @property
    def capture_cooldown(self) -> float:
        """Seconds between two auto-captures' starts (a leaking service is not censused nonstop)."""
        return self._capture.cooldown

    @capture_cooldown.setter
    def capture_cooldown(self, seconds: float) -> None:
        self._capture.cooldown = seconds

    @property
    def running(self) -> bool:
        """True while the gc callback is installed."""
        return self._collector.installed

    @overload
    def on(
        self, event: Literal["leak"], listener: Callable[[LeakReport], object]
    ) -> Callable[[], None]: ...

    @overload
    def on(
        self, event: Literal["stats"], listener: Callable[[GCStats], object]
    ) -> Callable[[], None]: ...

    def on(self, event: str, listener: Callable[[Any], object]) -> Callable[[], None]:
        """Call ``listener`` with every ``"leak"`` or ``"stats"`` event, as Node memwatch's ``on``.

        ``"leak"`` listeners get the :class:`~memwatch.models.LeakReport` that
        becomes the status's ``lastLeak``; ``"stats"`` listeners get the
        :class:`~memwatch.models.GCStats` of each accepted sample (``lastGC``).
        Listeners run on the thread that fed the detector, outside the watcher's
        locks and never inside a gc callback; one that raises is counted in the
        status's ``watcher.errors`` and the others still run (:mod:`memwatch.listeners`).

        Returns:
            A function that removes the listener again.

        Raises:
            ValueError: ``event`` is neither ``"leak"`` nor ``"stats"``.
            TypeError: ``listener`` is not callable.
        """
        return self._listeners.add(event, listener)

    def start(self) -> Watcher:
        """Install the gc callback and start the polling thread. Idempotent."""
        with self._lifecycle:
            self._collector.install()
            if self.background:
                self._poller.start()
        return self

    def stop(self) -> None:
        """Remove the gc callback and stop the polling thread. Idempotent."""
        with self._lifecycle:
            self._collector.uninstall()
        self._poller.stop()

    def __enter__(self) -> Watcher:  # noqa: PYI034 - Self needs Python 3.11
        """Start watching."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop watching."""
        self.stop()

    def _after_fork_in_child(self) -> None:
        """Start afresh in a forked child (collector and profiler reset themselves first)."""
        self._lifecycle = threading.Lock()
        self._detector.reset()
        self._capture.reset()
        self._headroom.reset()
        self._errors.reset()
        self._listeners.after_fork_in_child()
        self._reports.reset()
        if self._store_chosen:
            # A --preload master kept memory; its forked workers join their host's store.
            self._store = choose_store()
            self._profiler.use_store(self._store)
            self._status_sources = attrs.evolve(self._status_sources, store=self._store)
        self.host = self._link()
        self._window.clear()
        if self._poller.forget() and self._collector.installed:
            self.start()

    # -- the polling step ----------------------------------------------------

    def poll(self) -> None:
        """Process pending samples now: feed the detector, keep events, run auto-capture.

        The background thread calls this about once a second. It never raises:
        errors are counted and shown in :meth:`status`.
        """
        try:
            build_hooks()  # once: no census may count cattrs' objects for memwatch's own bodies
            now = self._clock()
            self._headroom.read(now)
            with self._reports.lock:
                samples = self._collector.drain()
                if (
                    not samples
                    and self.running
                    and (now - self._collector.last_sample_time >= self.sample_interval)
                ):
                    samples = [self._collector.sample_now()]
                reports, leaks = self._reports.feed(self._detector, samples)
            self._after_feed(reports, leaks)
            self._capture.tick()
            self._profiler.close_due_windows()
            # Near the memory limit a profile is captured whatever the detector says.
            limit_seconds = self._headroom.capture_due(now, self.capture_seconds)
            if self.auto_capture and limit_seconds is not None:
                self._capture.trigger("limit", seconds=limit_seconds)
        except Exception as exc:  # noqa: BLE001 - the watcher must never hurt the service
            self._errors.note(exc, "poll")
        self._poll_host()
        self._log_collector_error()

    def _poll_host(self) -> None:
        """Write this worker's status (once per interval) and act on requests left for it."""
        try:
            self.host.poll()
            self._profiler.forget_vanished()
        except Exception as exc:  # noqa: BLE001 - the watcher must never hurt the service
            self._errors.note(exc, "store")

    def _log_collector_error(self) -> None:
        """Log the gc callback's latest exception (the callback itself may not log)."""
        collector = self._collector
        exc = collector.take_exception()
        if exc is not None:
            self._errors.log(exc, collector.last_error, count=collector.errors)

    def _after_feed(self, reports: list[GCStats | LeakReport], leaks: list[LeakFinding]) -> None:
        """Tell the listeners, then auto-capture; outside the state lock, never raising.

        Several leak events in one batch are one growth: they fire one trigger.
        """
        for report in reports:
            self._window.add(report)
            name = "leak" if isinstance(report, LeakReport) else "stats"
            self._listeners.emit(name, report, self._errors.note)
        if self.auto_capture and leaks:
            self._capture.trigger("leak", seconds=self.capture_seconds)

    # -- what the API serves ---------------------------------------------------

    def status(self) -> Status:
        """This process's status: the latest events, the latest diff, and who answered.

        Assembled by :func:`memwatch.status.assemble_status`; errors show by type only.
        """
        return assemble_status(self._status_sources)

    def samples(self) -> SampleSeries:
        """The recent samples and leak reports, for plotting (``GET /memory/samples``)."""
        return self._window.series(probe=self._probe.name, sample_interval=self.sample_interval)


# -- the process-wide default ------------------------------------------------------


class _ProcessDefault:
    """The process-wide watcher, built on first use under a lock a forked child renews."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.watcher: Watcher | None = None

    def after_fork_in_child(self) -> None:
        # A parent thread may have held the lock at fork time; the watcher resets itself.
        self.lock = threading.Lock()


_default = _ProcessDefault()
reset_after_fork(_default, _ProcessDefault.after_fork_in_child)


def default_watcher() -> Watcher:
    """The process-wide watcher adapters share, created and started on first use.

    In a forked child (gunicorn workers, uvicorn ``--workers``) the same object
    starts afresh with its own counts; in a spawned one it is created anew.
    It is configured by ``MEMWATCH_*`` environment variables (see
    :meth:`Watcher.from_env`).
    """
    with _default.lock:
        if _default.watcher is None:
            _default.watcher = Watcher.from_env()
        watcher = _default.watcher
    return watcher.start()
