"""The watcher wires collector, detector and profiles together and never hurts its host."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import tracemalloc
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

import memwatch
from forked import run_in_fork
from memwatch import profiles as profiles_module
from memwatch.errors import CensusBusyError, ProfileConflictError, ProfileNotFoundError
from memwatch.samples import Sample
from memwatch.store import MemoryProfileStore
from memwatch.watcher import Watcher, default_watcher
from scripted import MIB, ScriptedProbe

if TYPE_CHECKING:
    from collections.abc import Callable

    from memwatch.models import Profile


T = TypeVar("T")


class FailingProbe:
    """A probe that always fails, as a broken platform probe would."""

    name = "failing"

    def read(self) -> int:
        raise OSError("statm vanished")


class LeakedWidget:
    """Instances of this class are what the profile diffs must name."""

    def __init__(self, n: int) -> None:
        self.n = n


def our_callbacks(watcher: Watcher) -> list[object]:
    return [cb for cb in gc.callbacks if getattr(cb, "__self__", None) is watcher._collector]


def test_start_and_stop_are_idempotent_and_install_one_callback():
    """Starting twice installs one callback; stopping twice removes it and the thread."""
    watcher = Watcher(probe=ScriptedProbe(), background=True)
    try:
        watcher.start()
        watcher.start()
        assert watcher.running
        assert len(our_callbacks(watcher)) == 1
        assert watcher._poller.thread is not None
        assert watcher._poller.thread.is_alive()
    finally:
        watcher.stop()
        watcher.stop()
    assert not watcher.running
    assert our_callbacks(watcher) == []
    assert watcher._poller.thread is None


def test_context_manager_starts_and_stops():
    """`with Watcher()` watches inside the block only."""
    with Watcher(probe=ScriptedProbe(), background=False) as watcher:
        assert watcher.running
    assert not watcher.running


def test_invalid_sample_interval_is_refused():
    """A non-positive sample interval is a clear configuration error."""
    with pytest.raises(ValueError, match="sample_interval must be positive"):
        Watcher(sample_interval=0)


def test_poll_turns_collections_into_stats():
    """After collections and a poll, status shows the stats event with counts and a timestamp."""
    with Watcher(probe=ScriptedProbe(), background=False, sample_interval=0.001) as watcher:
        gc.collect(0)
        gc.collect()
        watcher.poll()
        status = watcher.status()
    assert status.last_event == "stats"
    assert status.last_gc.timestamp is not None
    assert status.last_gc.num_full_gc >= 1
    assert status.last_gc.current_base > 0
    assert status.watcher.collections >= 2
    assert status.watcher.samples >= 1
    assert status.watcher.probe == "scripted"
    assert status.watcher.mode == "trend"
    assert status.process is not None
    assert status.process.pid == os.getpid()
    assert status.process.gc_thresholds == gc.get_threshold()


def test_poll_samples_on_a_timer_when_nothing_collects():
    """With no collection for a sample interval, poll takes a fallback sample itself."""
    now = [100.0]
    watcher = Watcher(
        probe=ScriptedProbe(), background=False, sample_interval=5.0, clock=lambda: now[0]
    )
    with watcher:
        watcher.poll()
        taken = watcher.status().watcher.samples
        now[0] += 1.0
        watcher.poll()
        assert watcher.status().watcher.samples == taken
        now[0] += 5.0
        watcher.poll()
        assert watcher.status().watcher.samples == taken + 1


def test_force_gc_reports_a_full_collection():
    """A forced collection counts as full and returns the stats taken right after it."""
    with Watcher(probe=ScriptedProbe(), background=False) as watcher:
        result = watcher.force_gc()
    assert result.last_gc.num_full_gc >= 1
    assert result.collected >= 0
    assert result.last_gc.current_base == watcher.status().last_gc.current_base


def test_a_manual_profile_names_what_was_allocated():
    """Start, allocate, end: the diff names the class with a '+' of the right order."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    started = watcher.start_profile()
    assert started.state == "running"
    assert started.trigger == "manual"
    assert started.pid == os.getpid()
    kept = [LeakedWidget(i) for i in range(3000)]
    ended = watcher.end_profile(started.id)
    assert ended.state == "complete"
    assert ended.ended is not None
    assert ended.last_event == "diff"
    details = {d.what: d for d in ended.last_diff.change.details}
    widget = details[f"{__name__}.LeakedWidget"]
    assert 3000 <= widget.allocated <= 3100
    assert widget.size_bytes > 0
    status = watcher.status()
    assert status.last_event == "diff"
    assert status.last_diff == ended.last_diff
    assert watcher.get_profile(started.id) == ended
    assert [p.id for p in watcher.list_profiles()] == [started.id]
    del kept


def test_profile_conflicts_and_unknown_ids():
    """A second manual start is a conflict naming the running one; ending twice conflicts too."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    first = watcher.start_profile()
    with pytest.raises(ProfileConflictError, match=first.id) as info:
        watcher.start_profile()
    assert info.value.profile_id == first.id
    watcher.end_profile(first.id)
    with pytest.raises(ProfileConflictError, match="complete, not running"):
        watcher.end_profile(first.id)
    for call in (watcher.get_profile, watcher.end_profile, watcher.delete_profile):
        with pytest.raises(ProfileNotFoundError):
            call("nope")
    watcher.delete_profile(first.id)
    assert watcher.list_profiles() == []


def test_deleting_a_running_profile_abandons_it():
    """A deleted running profile cannot be ended and frees the way for a new one."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    running = watcher.start_profile()
    watcher.delete_profile(running.id)
    with pytest.raises(ProfileNotFoundError):
        watcher.end_profile(running.id)
    assert watcher.start_profile().state == "running"


def test_censuses_are_single_flight():
    """While a census runs, another profile request is refused with a retry delay."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    with watcher._profiler.single_flight.claim():  # as a census in another thread holds it
        with pytest.raises(CensusBusyError) as info:
            watcher.start_profile()
        assert info.value.retry_after >= 1
    assert watcher.start_profile().state == "running"


def test_a_failing_census_fails_the_profile_not_the_caller(monkeypatch):
    """A census that raises leaves the profile 'failed' with the error's type, stored, readable."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    running = watcher.start_profile()

    def broken_census(**_: object) -> object:
        raise MemoryError("census ran out of memory")

    monkeypatch.setattr(profiles_module, "take_census", broken_census)
    failed = watcher.end_profile(running.id)
    assert failed.state == "failed"
    assert failed.error == "census: MemoryError"
    assert watcher.get_profile(running.id).state == "failed"
    assert watcher.status().last_event == ""


def test_a_profile_deleted_while_its_closing_census_runs_stays_deleted(monkeypatch):
    """A DELETE landing during a profile's closing census wins: the profile is not stored again."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    running = watcher.start_profile()
    real_census = profiles_module.take_census

    def census_during_a_delete(**options: Any) -> object:
        watcher.delete_profile(running.id)  # another request's DELETE, while this census runs
        return real_census(**options)

    monkeypatch.setattr(profiles_module, "take_census", census_during_a_delete)
    ended = watcher.end_profile(running.id)
    assert ended.state == "complete"
    assert watcher.list_profiles() == []
    with pytest.raises(ProfileNotFoundError):
        watcher.get_profile(running.id)
    monkeypatch.undo()
    assert watcher.start_profile().state == "running"  # nothing of the deleted one is left running


def leaking_watcher(**options: object) -> tuple[Watcher, ScriptedProbe]:
    probe = ScriptedProbe(step=4 * MIB)
    # These tests are about when captures start and end: a tracing window per capture
    # would trace the test itself (every allocation) and only slow it down.
    options.setdefault("trace_captures", False)
    watcher = Watcher(
        mode="memwatch",
        detector_options={"consecutive_growth": 3},
        probe=probe,
        background=False,
        **options,  # type: ignore[arg-type]
    )
    return watcher, probe


def test_a_leak_event_auto_captures_a_profile_that_ends_after_its_delay():
    """A leak starts a 'leak' profile; once its time is up the next poll completes it."""
    watcher, _ = leaking_watcher(capture_seconds=0.0)
    with watcher:
        for _ in range(10):
            watcher.force_gc()
            if watcher.list_profiles():
                break
        status = watcher.status()
        assert status.last_event == "leak"
        assert status.last_leak.growth > 0
        assert "consecutive GCs" in status.last_leak.reason
        captured = watcher.list_profiles()
        assert [(p.trigger, p.state) for p in captured] == [("leak", "running")]
        watcher.poll()
    ended = watcher.get_profile(captured[0].id)
    assert ended.state == "complete"
    assert ended.last_leak == status.last_leak


def test_the_next_leak_event_ends_a_capture_and_cooldown_limits_new_ones():
    """A capture ends at the next leak; a leak within the cooldown starts no new capture."""
    watcher, _ = leaking_watcher(capture_seconds=3600.0, capture_cooldown=3600.0)
    with watcher:
        for _ in range(10):
            watcher.force_gc()
    captured = watcher.list_profiles()
    assert [(p.trigger, p.state) for p in captured] == [("leak", "complete")]


def test_auto_capture_can_be_turned_off():
    """With auto_capture off a leak is reported and nothing is censused."""
    watcher, _ = leaking_watcher(auto_capture=False)
    with watcher:
        for _ in range(4):
            watcher.force_gc()
    assert watcher.status().last_leak.growth > 0
    assert watcher.list_profiles() == []


def test_errors_are_counted_and_shown_never_raised(capsys):
    """A failing probe never raises into the service: errors show in status, never printed."""
    with Watcher(probe=FailingProbe(), background=False, sample_interval=0.001) as watcher:
        for _ in range(50):
            gc.collect(0)
        watcher.poll()
        watcher.poll()
        status = watcher.status()
    assert status.watcher.errors >= 50
    assert status.watcher.last_error == "gc callback: OSError"
    captured = capsys.readouterr()
    assert "statm vanished" not in captured.err


def test_the_background_thread_processes_samples():
    """Without anyone polling, the background thread turns collections into stats."""
    with Watcher(probe=ScriptedProbe(), sample_interval=0.01) as watcher:
        gc.collect()
        deadline = time.monotonic() + 10
        while watcher.status().last_event != "stats" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.status().last_event == "stats"


def test_default_watcher_is_one_started_watcher_per_process():
    """The process-wide default is created once and started on first use."""
    first = default_watcher()
    assert first is default_watcher()
    assert first.running
    assert isinstance(first, memwatch.Watcher)


def test_a_store_can_be_supplied():
    """Profiles go to the store the caller provides."""
    store = MemoryProfileStore(max_profiles=2)
    watcher = Watcher(probe=ScriptedProbe(), background=False, store=store)
    profile = watcher.start_profile()
    assert store.get(profile.id) == profile


def _fork_report(watcher: Watcher) -> dict[str, Any]:
    """What a forked child sees of ``watcher``."""
    status = watcher.status()
    thread = watcher._poller.thread
    return {
        "child_pid": status.process.pid if status.process else -1,
        "collections": status.watcher.collections,
        "profiles": len(watcher.list_profiles()),
        "last_event": status.last_event,
        "running": status.watcher.running,
        "thread": thread is not None and thread.is_alive(),
    }


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_afresh():
    """In a forked child the counts start at zero, profiles are gone, and the pid is its own."""
    watcher = Watcher(probe=ScriptedProbe(), sample_interval=0.01)
    watcher.start()
    try:
        gc.collect()
        watcher.force_gc()
        watcher.start_profile()
        parent = watcher.status()
        assert parent.watcher.collections > 0
        report = run_in_fork(lambda: _fork_report(watcher))
    finally:
        watcher.stop()
    assert report["child_pid"] == report["pid"] != os.getpid()
    assert report["collections"] == 0
    assert report["profiles"] == 0
    assert report["last_event"] == ""
    assert report["running"] is True
    assert report["thread"] is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_listener_added_before_a_fork_hears_the_childs_own_leaks():
    """A listener registered in the parent (gunicorn --preload) hears each child's leaks there."""
    watcher, _ = leaking_watcher(auto_capture=False)
    heard_in: list[int] = []
    watcher.on("leak", lambda _leak: heard_in.append(os.getpid()))

    def leak_in_child() -> dict[str, Any]:
        for _ in range(4):
            watcher.force_gc()
        return {"heard_in": heard_in}

    with watcher:
        report = run_in_fork(leak_in_child)
    assert report["heard_in"]
    assert set(report["heard_in"]) == {report["pid"]}
    assert heard_in == []  # the child's leaks are the child's


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_no_polling_thread_its_parent_did_not_have():
    """A self-polled watcher keeps watching in a child, threadless; a stopped one stays stopped."""
    self_polled = Watcher(probe=ScriptedProbe(), background=False).start()
    stopped = Watcher(probe=ScriptedProbe(), sample_interval=0.01)
    stopped.start()
    stopped.stop()
    try:
        self_polled.force_gc()
        report = run_in_fork(
            lambda: {"self_polled": _fork_report(self_polled), "stopped": _fork_report(stopped)}
        )
    finally:
        self_polled.stop()
    assert report["self_polled"]["running"] is True
    assert report["self_polled"]["thread"] is False
    assert report["self_polled"]["last_event"] == ""
    assert report["self_polled"]["collections"] == 0
    assert report["stopped"]["running"] is False
    assert report["stopped"]["thread"] is False


def test_stop_from_another_thread_while_polling_does_not_deadlock():
    """Stopping while requests read status from other threads finishes promptly."""
    watcher = Watcher(probe=ScriptedProbe(), sample_interval=0.01).start()
    stop_reading = threading.Event()

    def reader() -> None:
        while not stop_reading.is_set():
            watcher.status()

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(20):
            gc.collect(0)
        watcher.stop()
    finally:
        stop_reading.set()
        for t in threads:
            t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert not watcher.running
    assert sys.getrefcount(watcher) > 1


def test_the_trend_detector_does_not_follow_the_sample_interval():
    """The trend detector's time constants are its own seconds, whatever the sample interval."""
    assert Watcher().sample_interval == 1.0
    fast, slow = Watcher(sample_interval=1.0), Watcher(sample_interval=5.0)
    assert fast._detector.config == slow._detector.config  # type: ignore[attr-defined]
    explicit = Watcher(detector_options={"resolution": 2.0})
    assert explicit._detector.config.resolution == 2.0  # type: ignore[attr-defined]


class FailingStore(MemoryProfileStore):
    """A store whose writes fail, as a full disk or a dropped connection would."""

    def put(self, profile: object) -> None:  # noqa: ARG002 - the store fails whatever it is given
        raise OSError("store is read-only")


def test_a_failing_store_shows_in_status_and_keeps_no_baseline():
    """A store that refuses a new profile raises to the caller, counts in status, leaks nothing."""
    watcher = Watcher(probe=ScriptedProbe(), background=False, store=FailingStore())
    with pytest.raises(OSError, match="read-only"):
        watcher.start_profile()
    status = watcher.status()
    assert status.watcher.errors == 1
    assert status.watcher.last_error == "profile start: OSError"
    assert watcher._profiler._baselines == {}
    assert watcher.pid == os.getpid()


def test_samples_older_than_the_last_fed_are_dropped():
    """A sample queued before one already fed is skipped instead of breaking the detector."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    feed = watcher._reports.feed
    feed(watcher._detector, [Sample(time=10.0, heap_bytes=MIB, full=True)])
    before = watcher.status().last_gc
    assert feed(watcher._detector, [Sample(time=5.0, heap_bytes=2 * MIB, full=True)]) == ([], [])
    assert watcher.status().last_gc == before


class StoreFailingOnEnd(MemoryProfileStore):
    """A store that accepts running profiles but fails to store finished ones."""

    def put(self, profile: Profile) -> None:
        if profile.state != "running":
            raise OSError("store went away")
        super().put(profile)


def test_a_store_failing_at_end_leaves_no_profile_stuck_running():
    """If the finished profile cannot be stored, the running one is removed, not left forever."""
    watcher = Watcher(probe=ScriptedProbe(), background=False, store=StoreFailingOnEnd())
    running = watcher.start_profile()
    with pytest.raises(OSError, match="store went away"):
        watcher.end_profile(running.id)
    assert watcher.list_profiles() == []
    assert watcher.start_profile().state == "running"
    assert watcher.status().watcher.errors == 1


def test_an_auto_capture_blocked_by_a_busy_census_ends_on_a_later_poll():
    """A leak capture due while another census runs stays pending, then completes; no raise."""
    watcher, _ = leaking_watcher(capture_seconds=0.0)
    with watcher:
        (captured,) = force_gc_until_captured(watcher)
        with watcher._profiler.single_flight.claim():
            watcher.poll()  # due, but the census is busy: must not raise, must stay pending
            assert watcher.get_profile(captured.id).state == "running"
        watcher.poll()
    assert watcher.get_profile(captured.id).state == "complete"
    assert watcher.status().watcher.errors == 0


def test_a_forced_gc_never_fails_because_auto_capture_is_busy():
    """POST /memory/gc answers even when the leak it reveals cannot be captured right now."""
    watcher, _ = leaking_watcher()
    capture_lock = watcher._capture._lock  # held as another thread mid-capture holds it
    with watcher:
        assert capture_lock.acquire(timeout=5)
        try:
            results = finishes(lambda: [watcher.force_gc() for _ in range(6)])
        finally:
            capture_lock.release()
    assert results[-1].last_gc.num_full_gc >= 6
    assert watcher.status().last_leak.growth > 0
    assert watcher.list_profiles() == []


def finishes(work: Callable[[], T]) -> T:
    """Run ``work`` in another thread and return its result; fail instead of hanging."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(work()))
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "blocked on a lock another thread holds"
    return results[0]


def force_gc_until_captured(watcher: Watcher, attempts: int = 10) -> list[Profile]:
    """Force collections until the leak they reveal is auto-captured; the profiles then."""
    for _ in range(attempts):
        watcher.force_gc()
        if watcher.list_profiles():
            break
    return watcher.list_profiles()


def test_a_leak_seen_while_another_thread_captures_is_skipped_without_waiting():
    """A leak seen while another thread captures neither waits nor captures twice; later ones do."""
    watcher, _ = leaking_watcher(capture_cooldown=3600.0)
    with watcher:
        capture_lock = watcher._capture._lock  # held as the poll thread holds it mid-census
        assert capture_lock.acquire(timeout=5)
        try:
            results = finishes(lambda: [watcher.force_gc() for _ in range(6)])
        finally:
            capture_lock.release()
        assert len(results) == 6
        assert watcher.status().last_leak.growth > 0
        assert watcher.list_profiles() == []
        captured = force_gc_until_captured(watcher)
    assert [(p.trigger, p.state) for p in captured] == [("leak", "running")]


def test_an_auto_capture_that_fails_is_counted_never_raised():
    """A store failing during an auto-capture never fails the forced collection; status shows it."""
    watcher, _ = leaking_watcher(store=FailingStore())
    with watcher:
        results = [watcher.force_gc() for _ in range(6)]
    status = watcher.status()
    assert results[-1].last_gc.num_full_gc >= 6
    assert status.last_leak.growth > 0
    assert status.watcher.errors == 1
    assert status.watcher.last_error == "auto-capture: OSError"
    assert watcher._profiler._baselines == {}


def test_a_due_capture_end_waits_while_another_thread_is_capturing():
    """A capture due to end while another thread holds the capture stays running, then ends."""
    watcher, _ = leaking_watcher(capture_seconds=0.0)
    with watcher:
        (captured,) = force_gc_until_captured(watcher)
        capture_lock = watcher._capture._lock
        assert capture_lock.acquire(timeout=5)
        try:
            finishes(watcher.poll)
            assert watcher.get_profile(captured.id).state == "running"
        finally:
            capture_lock.release()
        watcher.poll()
    assert watcher.get_profile(captured.id).state == "complete"
    assert watcher.status().watcher.errors == 0


@pytest.mark.parametrize("action", ["delete_profile", "end_profile"])
def test_a_leak_capture_the_user_deleted_or_ended_is_let_go(action):
    """A leak capture deleted or ended through the API stays so; the next leak starts a new one."""
    watcher, _ = leaking_watcher(capture_seconds=0.0, capture_cooldown=0.0)
    with watcher:
        (first,) = force_gc_until_captured(watcher)
        getattr(watcher, action)(first.id)
        after_user = watcher.list_profiles()
        watcher.poll()  # the capture is due: nothing left to end, nothing to complain about
        assert watcher.list_profiles() == after_user
        for _ in range(10):
            watcher.force_gc()
            if len(watcher.list_profiles()) > len(after_user):
                break
        profiles = watcher.list_profiles()
    assert [(p.trigger, p.state) for p in profiles[len(after_user) :]] == [("leak", "running")]
    assert profiles[-1].id != first.id
    assert watcher.status().watcher.errors == 0


def test_an_auto_capture_whose_closing_census_fails_is_counted_in_status(monkeypatch):
    """A leak capture failing at its end is stored failed and counted as an error."""
    watcher, _ = leaking_watcher(capture_seconds=0.0)
    with watcher:
        (captured,) = force_gc_until_captured(watcher)

        def broken_census(**_: object) -> object:
            raise MemoryError("census ran out of memory")

        monkeypatch.setattr(profiles_module, "take_census", broken_census)
        watcher.poll()  # the capture is due: its closing census fails
    status = watcher.status()
    assert watcher.get_profile(captured.id).state == "failed"
    assert status.watcher.errors == 1
    assert status.watcher.last_error == "census: MemoryError"


def test_a_forced_gc_met_by_another_threads_collection_still_collects(monkeypatch):
    """gc.collect() is a no-op while another thread collects; force_gc tries again until one ran."""
    real_collect = gc.collect
    calls: list[int] = []

    def busy_once(*args: int) -> int:
        calls.append(len(calls))
        if len(calls) == 1:
            return 0  # what CPython does while another thread's collection is under way
        return real_collect(*args)

    monkeypatch.setattr(gc, "collect", busy_once)
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    with watcher:
        before = gc.get_stats()[-1]["collections"]
        result = watcher.force_gc()
    assert len(calls) == 2
    assert gc.get_stats()[-1]["collections"] > before
    assert result.last_gc.num_full_gc >= 1


def test_forced_collections_are_single_flight_with_each_other_and_with_censuses():
    """While one thread's forced collection runs, force_gc and a census elsewhere are refused."""
    watcher = Watcher(probe=ScriptedProbe(), background=False)
    collecting, release = threading.Event(), threading.Event()
    forcing: list[int] = []
    results: list[object] = []

    def hold_the_collection(phase: str, info: dict[str, int]) -> None:
        # Keeps the forcing thread inside its full collection until the test lets go.
        if phase == "start" and info["generation"] == 2 and threading.get_ident() in forcing:
            collecting.set()
            release.wait(10)

    def force() -> None:
        forcing.append(threading.get_ident())
        results.append(watcher.force_gc())

    gc.callbacks.append(hold_the_collection)
    try:
        with watcher:
            thread = threading.Thread(target=force)
            thread.start()
            assert collecting.wait(10)
            started = time.monotonic()
            with pytest.raises(CensusBusyError) as busy:
                watcher.force_gc()
            refused_in = time.monotonic() - started
            with pytest.raises(CensusBusyError):
                watcher.start_profile()
            release.set()
            thread.join(10)
            assert not thread.is_alive()
            after = watcher.force_gc()
    finally:
        release.set()
        gc.callbacks.remove(hold_the_collection)
    assert refused_in < 0.5  # refused at once, not after a collection of its own
    assert busy.value.retry_after >= 1
    assert len(results) == 1
    assert after.last_gc.num_full_gc >= 2


def test_an_auto_capture_traces_by_default_and_stops_tracing_when_it_ends():
    """A leak's capture opens a tracing window; ending the capture turns tracemalloc off."""
    tracemalloc.stop()
    watcher, _ = leaking_watcher(capture_seconds=3600.0, trace_captures=True)
    with watcher:
        (profile,) = force_gc_until_captured(watcher)
        assert profile.trigger == "leak"
        assert tracemalloc.is_tracing()
        ended = watcher.end_profile(profile.id)
    assert not tracemalloc.is_tracing()
    assert ended.verdict.layer != ""


def test_a_poll_closes_a_tracing_window_after_trace_seconds_while_the_capture_goes_on():
    """tracemalloc stops at the first poll past trace_seconds; the capture is still running."""
    tracemalloc.stop()
    watcher, _ = leaking_watcher(capture_seconds=3600.0, trace_captures=True, trace_seconds=0.05)
    with watcher:
        (profile,) = force_gc_until_captured(watcher)
        assert tracemalloc.is_tracing()
        time.sleep(0.1)
        watcher.poll()
        assert not tracemalloc.is_tracing()
        assert watcher.get_profile(profile.id).state == "running"
        assert watcher.end_profile(profile.id).state == "complete"
