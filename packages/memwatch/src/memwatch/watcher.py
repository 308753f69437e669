"""The watcher: collector, detector and profiles wired together, with the state the API serves.

Data flows one way. The collector's gc callback counts collections and queues
heap samples; a background thread (``memwatch-watcher``) drains them about
once a second, feeds them to the detector, keeps the latest ``stats`` and
``leak`` events, tells the listeners added with :meth:`Watcher.on`, and on a
leak auto-captures a profile. Nothing heavy ever runs inside the gc callback,
and the watcher never raises into it.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import os
import platform
import sys
import sysconfig
import threading
import time
import tracemalloc
import weakref
from typing import TYPE_CHECKING, Any, Literal, overload

from memwatch.collector import Collector
from memwatch.detector import Detector, LeakFinding, StatsFinding, make_detector
from memwatch.errors import CensusBusyError, MemwatchError
from memwatch.events import Listeners
from memwatch.models import (
    EventKind,
    GCResult,
    GCStats,
    HeapDiffReport,
    LeakReport,
    ProcessInfo,
    Profile,
    Status,
    WatcherInfo,
)
from memwatch.probes import Probe, make_probe
from memwatch.profiles import Profiler, StateSnapshot
from memwatch.store import MemoryProfileStore, ProfileStore

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType

    from memwatch.samples import Sample

__all__ = ["Watcher", "default_watcher"]

logger = logging.getLogger("memwatch")

_POLL_SECONDS = 1.0

#: Seconds a status may reuse the last ``sys.getallocatedblocks()`` reading.
_BLOCKS_MAX_AGE = 1.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# What the interpreter is does not change while it runs: read once, not per status.
_PYTHON_VERSION = platform.python_version()
_IMPLEMENTATION = sys.implementation.name
_FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


#: Attempts and pause of _collect_fully while another thread's collection is running.
_COLLECT_ATTEMPTS = 200
_COLLECT_RETRY_SECONDS = 0.005


def _collect_fully() -> int:
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


class Watcher:
    """Watches this process's heap for leaks and captures heap diffs.

    Construct one, call :meth:`start` (or use it as a context manager), and
    read :meth:`status`. Adapters usually share :func:`default_watcher`.

    Args:
        mode: Leak detector mode, ``"trend"`` (default) or ``"memwatch"``.
        detector_options: Options for :func:`memwatch.detector.make_detector`.
        detector: A ready detector; overrides ``mode`` and ``detector_options``.
        probe: A probe name for :func:`memwatch.probes.make_probe` or a probe object.
        sample_interval: Seconds between heap samples outside full collections;
            also the time-based fallback when the process does not collect.
        store: Where profiles are kept (default: 20 in memory).
        auto_capture: Start a profile automatically when a leak is reported.
        capture_seconds: An auto-captured profile ends after this long, or at the
            next leak event, whichever comes first.
        capture_cooldown: Seconds between two auto-captures, so that a leaking
            service is not censused continuously.
        max_details: Types kept in a diff's details.
        max_sites: Allocation sites kept in a diff (when tracemalloc traces).
        census_time_budget: Seconds a census may run before it stops and says ``partial``.
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
        sample_interval: float = 5.0,
        store: ProfileStore | None = None,
        auto_capture: bool = True,
        capture_seconds: float = 60.0,
        capture_cooldown: float = 600.0,
        max_details: int = 100,
        max_sites: int = 20,
        census_time_budget: float | None = 30.0,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the watcher; nothing is installed until :meth:`start`."""
        if sample_interval <= 0:
            msg = f"sample_interval must be positive, got {sample_interval}"
            raise ValueError(msg)
        options = dict(detector_options or {})
        if mode == "trend":
            # The trend detector's slots are the watcher's sampling period unless told otherwise.
            options.setdefault("sample_interval", sample_interval)
        self._detector = detector or make_detector(mode, **options)
        self._probe = make_probe(probe) if isinstance(probe, str) else probe
        self.sample_interval = sample_interval
        self.auto_capture = auto_capture
        self.capture_seconds = capture_seconds
        self.capture_cooldown = capture_cooldown
        self.background = background
        self._clock = clock
        self._collector = Collector(probe=self._probe, sample_interval=sample_interval, clock=clock)
        self._profiler = Profiler(
            store if store is not None else MemoryProfileStore(),
            record_diff=self._record_diff,
            pid=os.getpid,
            max_details=max_details,
            max_sites=max_sites,
            census_time_budget=census_time_budget,
        )
        self._lifecycle = threading.Lock()
        self._state = threading.RLock()
        self._capture_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors = 0
        self._last_error = ""
        self._listeners = Listeners()
        self._blocks = 0
        self._blocks_read_at = -math.inf
        self._reset_state()
        _watch_forks(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Watcher:
        """A watcher configured by ``MEMWATCH_*`` environment variables.

        Lets operators tune a deployed service without a code change. Read:
        ``MEMWATCH_MODE``, ``MEMWATCH_PROBE``, ``MEMWATCH_SAMPLE_INTERVAL``,
        ``MEMWATCH_AUTO_CAPTURE`` (``1``/``0``, ``true``/``false``),
        ``MEMWATCH_CAPTURE_SECONDS``, ``MEMWATCH_CAPTURE_COOLDOWN``,
        ``MEMWATCH_MAX_DETAILS`` and ``MEMWATCH_CENSUS_TIME_BUDGET``. Keyword
        ``overrides`` win over the environment.

        Raises:
            ValueError: a variable holds a value of the wrong kind; the message names it.
        """
        env = os.environ if environ is None else environ
        options: dict[str, Any] = {}
        for name, (key, parse) in _ENV_OPTIONS.items():
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                options[key] = parse(raw)
            except ValueError:
                msg = f"{name}={raw!r} is not a valid {parse.__name__.lstrip('_')}"
                raise ValueError(msg) from None
        options.update(overrides)
        return cls(**options)

    # -- lifecycle ---------------------------------------------------------

    def _reset_state(self) -> None:
        self._pid = os.getpid()
        self._mono_origin = self._clock()
        self._wall_origin = _utcnow()
        self._last_event: EventKind = ""
        self._last_gc = GCStats()
        self._last_leak = LeakReport()
        self._last_diff = HeapDiffReport()
        self._last_fed = float("-inf")
        self._last_auto_capture: float | None = None
        self._auto_started: float | None = None
        self._auto_id: str | None = None

    @property
    def pid(self) -> int:
        """The id of the process this watcher watches."""
        return os.getpid()

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
        status's ``watcher.errors`` and the others still run (:mod:`memwatch.events`).

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
            if self.background and (self._thread is None or not self._thread.is_alive()):
                self._stop_event = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, name="memwatch-watcher", daemon=True
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Remove the gc callback and stop the polling thread. Idempotent."""
        with self._lifecycle:
            self._collector.uninstall()
            thread, self._thread = self._thread, None
            self._stop_event.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

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
        """Start afresh in a forked child: its heap is its own, its counts start at zero."""
        self._lifecycle = threading.Lock()
        self._state = threading.RLock()
        self._capture_lock = threading.Lock()
        self._collector.reset()
        self._detector.reset()
        self._profiler.reset()
        self._errors = 0
        self._last_error = ""
        self._reset_state()
        was_polling = self._thread is not None
        self._thread = None
        if was_polling and self._collector.installed:
            self.start()

    def _run(self) -> None:
        stop = self._stop_event
        while not stop.wait(_POLL_SECONDS):
            self.poll()

    # -- the polling step ----------------------------------------------------

    def _wall(self, mono: float) -> dt.datetime:
        return self._wall_origin + dt.timedelta(seconds=mono - self._mono_origin)

    def _note_error(self, exc: BaseException) -> None:
        self._note_error_text(f"{type(exc).__name__}: {exc}")

    def _note_error_text(self, text: str) -> None:
        with self._state:
            self._errors += 1
            self._last_error = text[:500]
        if self._errors == 1 or self._errors % 1000 == 0:
            logger.warning("memwatch: error #%d in the watcher: %s", self._errors, self._last_error)

    def poll(self) -> None:
        """Process pending samples now: feed the detector, keep events, run auto-capture.

        The background thread calls this about once a second. It never raises:
        errors are counted and shown in :meth:`status`.
        """
        try:
            now = self._clock()
            with self._state:
                samples = self._collector.drain()
                if (
                    not samples
                    and self.running
                    and (now - self._collector.last_sample_time >= self.sample_interval)
                ):
                    samples = [self._collector.sample_now()]
                reports, leaks = self._feed(samples)
            self._after_feed(reports, leaks)
            self._maybe_end_auto_capture(now)
        except Exception as exc:  # noqa: BLE001 - the watcher must never hurt the service
            self._note_error(exc)

    def _feed(self, samples: list[Sample]) -> tuple[list[GCStats | LeakReport], list[LeakFinding]]:
        """Feed samples in time order; the caller holds ``_state``.

        Returns the events kept (for the listeners) and the leak events (for
        auto-capture), both handed to :meth:`_after_feed` once the lock is released.

        A sample older than the last one fed (a collection in another thread
        queued it while a forced sample was being fed) is dropped: the
        detector needs time to move forward, and one sample less costs nothing.
        """
        reports: list[GCStats | LeakReport] = []
        leaks: list[LeakFinding] = []
        for sample in samples:
            if sample.time < self._last_fed:
                continue
            self._last_fed = sample.time
            for event in self._detector.feed(sample):
                if isinstance(event, StatsFinding):
                    reports.append(self._record_stats(event))
                elif isinstance(event, LeakFinding):
                    reports.append(self._record_leak(event))
                    leaks.append(event)
        return reports, leaks

    def _after_feed(self, reports: list[GCStats | LeakReport], leaks: list[LeakFinding]) -> None:
        """Tell the listeners, then auto-capture; outside the state lock, never raising."""
        for report in reports:
            name = "leak" if isinstance(report, LeakReport) else "stats"
            self._listeners.emit(name, report, self._note_error_text)
        self._after_leaks(leaks)

    def _after_leaks(self, leaks: list[LeakFinding]) -> None:
        """Auto-capture for new leak events, outside the state lock (a census takes a while).

        Best effort, never raising: the poll thread and a forced collection may
        both get here; one captures, the other skips. A manual census running
        right now (busy) skips this leak event's capture; other errors are counted.
        """
        if not (self.auto_capture and leaks):
            return
        if not self._capture_lock.acquire(blocking=False):
            return
        try:
            for event in leaks:
                self._auto_capture_on_leak(event.time)
        except CensusBusyError:
            pass  # a manual census holds the heap's attention; the next leak event tries again
        except Exception as exc:  # noqa: BLE001 - auto-capture must never fail the caller
            self._note_error(exc)
        finally:
            self._capture_lock.release()

    def _record_stats(self, event: StatsFinding) -> GCStats:
        stats = GCStats(
            timestamp=self._wall(event.time),
            num_full_gc=event.num_full_gc,
            num_inc_gc=event.num_inc_gc,
            heap_compactions=event.heap_compactions,
            estimated_base=event.estimated_base,
            current_base=event.current_base,
            min=event.min,
            max=event.max,
            usage_trend=event.usage_trend,
        )
        with self._state:
            self._last_gc = stats
            self._last_event = "stats"
        return stats

    def _record_leak(self, event: LeakFinding) -> LeakReport:
        report = LeakReport(
            timestamp=self._wall(event.time),
            start=self._wall(event.start),
            end=self._wall(event.end),
            growth=event.growth,
            reason=event.reason,
        )
        with self._state:
            self._last_leak = report
            self._last_event = "leak"
        logger.warning("memwatch: leak detected in pid %d: %s", os.getpid(), event.reason)
        return report

    def _auto_capture_on_leak(self, now: float) -> None:
        if self._auto_id is not None:
            # The next leak event ends a running capture: it has seen the growth.
            self._end_auto_capture(self._auto_id)
            return
        last = self._last_auto_capture
        if last is not None and now - last < self.capture_cooldown:
            return
        self._last_auto_capture = now
        try:
            profile = self._profiler.start("leak")
        except CensusBusyError:
            self._last_auto_capture = last  # no census ran: the next leak event tries again
            raise
        self._auto_id, self._auto_started = profile.id, now

    def _auto_capture_due(self, now: float) -> str | None:
        """The running auto-capture's id once it has run ``capture_seconds``, else ``None``."""
        profile_id, started = self._auto_id, self._auto_started
        if profile_id is None or started is None or now - started < self.capture_seconds:
            return None
        return profile_id

    def _maybe_end_auto_capture(self, now: float) -> None:
        if self._auto_capture_due(now) is None:
            return
        if not self._capture_lock.acquire(blocking=False):
            return
        try:
            # Asked again under the lock: meanwhile another thread may have ended
            # that capture and started a new one, which is not due yet.
            profile_id = self._auto_capture_due(now)
            if profile_id is not None:
                self._end_auto_capture(profile_id)
        except CensusBusyError:
            pass  # still pending: the next poll ends it
        finally:
            self._capture_lock.release()

    def _end_auto_capture(self, profile_id: str) -> None:
        """End the running auto-capture; on a busy census it stays pending (the caller retries).

        The caller holds ``_capture_lock``. A capture that the user already ended or
        deleted is let go; one whose census failed is counted as an error.
        """
        if any(p.id == profile_id for p in self._profiler.running("leak")):
            profile = self._profiler.end(profile_id)
            if profile.state == "failed":
                self._note_error_text(profile.error)
        self._auto_id, self._auto_started = None, None

    def _record_diff(self, report: HeapDiffReport) -> StateSnapshot:
        with self._state:
            self._last_diff = report
            self._last_event = "diff"
            return StateSnapshot(self._last_event, self._last_gc, self._last_leak)

    # -- what the API serves ---------------------------------------------------

    def status(self) -> Status:
        """This process's status: the latest events, the latest diff, and who answered."""
        collector = self._collector
        with self._state:
            last_event, last_gc = self._last_event, self._last_gc
            last_leak, last_diff = self._last_leak, self._last_diff
            errors = self._errors + collector.errors
            last_error = collector.last_error or self._last_error
        return Status(
            last_event=last_event,
            last_gc=last_gc,
            last_leak=last_leak,
            last_diff=last_diff,
            process=ProcessInfo(
                pid=os.getpid(),
                python_version=_PYTHON_VERSION,
                implementation=_IMPLEMENTATION,
                free_threaded=_FREE_THREADED,
                gc_enabled=gc.isenabled(),
                gc_thresholds=tuple(gc.get_threshold()),
                gc_freeze_count=gc.get_freeze_count(),
                tracemalloc_tracing=tracemalloc.is_tracing(),
            ),
            watcher=WatcherInfo(
                running=self.running,
                mode=self._detector.mode,
                probe=self._probe.name,
                sample_interval=self.sample_interval,
                collections=collector.collections,
                samples=collector.samples,
                heap_bytes=collector.last_heap_bytes,
                allocated_blocks=self._allocated_blocks(),
                errors=errors,
                last_error=last_error,
                gc_callbacks=Collector.installed_anywhere(),
            ),
        )

    def _allocated_blocks(self) -> int:
        """``sys.getallocatedblocks()``, read at most once per ``_BLOCKS_MAX_AGE`` seconds.

        It walks every pymalloc arena (about 40 us at 1M objects, 100 us at 3M),
        which made it most of a status request's own cost on a large heap
        (benchmarks/bench_endpoints.py). A racing reader at worst reads it twice.
        """
        now = time.monotonic()
        if now - self._blocks_read_at >= _BLOCKS_MAX_AGE:
            self._blocks = sys.getallocatedblocks()
            self._blocks_read_at = now
        return self._blocks

    def force_gc(self) -> GCResult:
        """Run a full collection now, take a sample after it, and return the stats."""
        collected = _collect_fully()
        with self._state:
            # Samples the collection itself queued come first, so time only moves forward.
            samples = [*self._collector.drain(), self._collector.sample_now(full=True)]
            reports, leaks = self._feed(samples)
            result = GCResult(last_gc=self._last_gc, collected=collected)
        self._after_feed(reports, leaks)
        return result

    def start_profile(self) -> Profile:
        """Start a manual profile: take the baseline census now.

        Raises:
            ProfileConflictError: a manual profile is already running.
            CensusBusyError: another census is running right now.
        """
        try:
            return self._profiler.start("manual")
        except MemwatchError:
            raise  # a conflict or a busy census is an answer, not a fault
        except Exception as exc:
            self._note_error(exc)  # a failing census or store shows in status
            raise

    def end_profile(self, profile_id: str) -> Profile:
        """End a running profile: second census, diff, and the status as it stands.

        Raises:
            ProfileNotFoundError: no stored profile has that id.
            ProfileConflictError: the profile is not running.
            CensusBusyError: another census is running right now.
        """
        try:
            profile = self._profiler.end(profile_id)
        except MemwatchError:
            raise
        except Exception as exc:
            self._note_error(exc)
            raise
        if profile.state == "failed":
            self._note_error_text(profile.error)
        return profile

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


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


_flag.__name__ = "flag (1/0, true/false)"


def _text(raw: str) -> str:
    return raw


_text.__name__ = "text"


_ENV_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "MEMWATCH_MODE": ("mode", _text),
    "MEMWATCH_PROBE": ("probe", _text),
    "MEMWATCH_SAMPLE_INTERVAL": ("sample_interval", float),
    "MEMWATCH_AUTO_CAPTURE": ("auto_capture", _flag),
    "MEMWATCH_CAPTURE_SECONDS": ("capture_seconds", float),
    "MEMWATCH_CAPTURE_COOLDOWN": ("capture_cooldown", float),
    "MEMWATCH_MAX_DETAILS": ("max_details", int),
    "MEMWATCH_CENSUS_TIME_BUDGET": ("census_time_budget", float),
}


# -- fork safety ---------------------------------------------------------------

_watched: weakref.WeakSet[Watcher] = weakref.WeakSet()
_fork_hook_lock = threading.Lock()
_fork_hook_installed = False


def _reset_watchers_in_child() -> None:
    global _default_lock  # noqa: PLW0603 - a lock held by a parent thread stays held in the child
    _default_lock = threading.Lock()
    for watcher in list(_watched):
        watcher._after_fork_in_child()  # noqa: SLF001 - the module owns its watchers' fork handling


def _watch_forks(watcher: Watcher) -> None:
    global _fork_hook_installed  # noqa: PLW0603 - one process-wide at-fork hook
    _watched.add(watcher)
    with _fork_hook_lock:
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_reset_watchers_in_child)
            _fork_hook_installed = True


# -- the process-wide default ------------------------------------------------------

_default: Watcher | None = None
_default_lock = threading.Lock()


def default_watcher() -> Watcher:
    """The process-wide watcher adapters share, created and started on first use.

    In a forked child (gunicorn workers, uvicorn ``--workers``) the same object
    starts afresh with its own counts; in a spawned one it is created anew.
    It is configured by ``MEMWATCH_*`` environment variables (see
    :meth:`Watcher.from_env`).
    """
    global _default  # noqa: PLW0603 - a lazily built process-wide default
    with _default_lock:
        if _default is None:
            _default = Watcher.from_env()
        watcher = _default
    return watcher.start()
