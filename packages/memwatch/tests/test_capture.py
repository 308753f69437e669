"""The auto-capture policy: one capture at a time, trigger and duration as inputs, a cooldown."""

from __future__ import annotations

import itertools
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memwatch.capture import AutoCapture
from memwatch.errors import describe_error
from memwatch.models import GCStats, LeakReport
from memwatch.profiles import Profiler, StateSnapshot
from memwatch.store import MemoryProfileStore


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FailingStore(MemoryProfileStore):
    """A store whose writes fail, as a full disk would."""

    def put(self, profile: object) -> None:  # noqa: ARG002 - it fails whatever it is given
        raise OSError("disk full: /var/lib/SECRET")


class Errors:
    """Collects what the policy reports, as the watcher's error log would."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, exc: BaseException, context: str) -> str:
        text = describe_error(exc, context)
        self.seen.append(text)
        return text


def make(
    *, cooldown: float = 600.0, store: MemoryProfileStore | None = None
) -> tuple[AutoCapture, Profiler, Clock, Errors]:
    clock, errors = Clock(), Errors()
    profiler = Profiler(
        store if store is not None else MemoryProfileStore(max_profiles=1000),
        record_diff=lambda _report: StateSnapshot("diff", GCStats(), LeakReport()),
        pid=os.getpid,
        on_error=errors,
        # The policy is tested here; tracing and explaining every capture would only slow it.
        trace_leaks=False,
        explain=False,
    )
    return (
        AutoCapture(profiler, cooldown=cooldown, on_error=errors, clock=clock),
        profiler,
        clock,
        errors,
    )


def states(profiler: Profiler) -> list[tuple[str, str]]:
    return [(p.trigger, p.state) for p in profiler.list()]


def test_a_trigger_starts_a_capture_that_ends_once_its_time_is_up():
    """A trigger takes a baseline now; a tick before its seconds keeps it, one after ends it."""
    capture, profiler, clock, errors = make()
    capture.trigger("leak", seconds=30.0)
    assert states(profiler) == [("leak", "running")]
    assert capture.ends_at == clock.now + 30.0
    clock.now += 29.9
    capture.tick()
    assert states(profiler) == [("leak", "running")]
    clock.now += 0.1
    capture.tick()
    assert states(profiler) == [("leak", "complete")]
    assert capture.running is None
    assert errors.seen == []


def test_the_duration_is_the_callers_input():
    """Each capture lasts the seconds its trigger asked for."""
    capture, profiler, clock, _ = make(cooldown=0.0)
    capture.trigger("leak", seconds=5.0)
    clock.now += 5.0
    capture.tick()
    capture.trigger("leak", seconds=50.0)
    clock.now += 5.0
    capture.tick()
    assert states(profiler) == [("leak", "complete"), ("leak", "running")]


def test_the_next_trigger_ends_a_capture_and_the_cooldown_spaces_new_ones():
    """A trigger ends the running capture; within the cooldown none starts; after it one does."""
    capture, profiler, clock, _ = make(cooldown=600.0)
    capture.trigger("leak", seconds=3600.0)
    clock.now += 10
    capture.trigger("leak", seconds=3600.0)
    assert states(profiler) == [("leak", "complete")]
    clock.now += 10
    capture.trigger("leak", seconds=3600.0)
    assert states(profiler) == [("leak", "complete")]
    clock.now += 600
    capture.trigger("leak", seconds=3600.0)
    assert states(profiler) == [("leak", "complete"), ("leak", "running")]


def test_a_trigger_meeting_a_busy_census_starts_nothing_and_uses_no_cooldown():
    """A trigger while another census runs is skipped; the next one is captured at once."""
    capture, profiler, _, errors = make(cooldown=3600.0)
    with profiler.single_flight.claim():
        capture.trigger("leak", seconds=60.0)
    assert profiler.list() == []
    capture.trigger("leak", seconds=60.0)
    assert states(profiler) == [("leak", "running")]
    assert errors.seen == []


def test_a_due_capture_meeting_a_busy_census_stays_pending_until_a_later_tick():
    """A capture due while a census runs stays running, never raises, and ends at the next tick."""
    capture, profiler, clock, errors = make()
    capture.trigger("leak", seconds=0.0)
    with profiler.single_flight.claim():
        capture.tick()
        assert states(profiler) == [("leak", "running")]
    clock.now += 1
    capture.tick()
    assert states(profiler) == [("leak", "complete")]
    assert errors.seen == []


def finishes(work) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "blocked on a lock another thread holds"


def test_a_thread_arriving_while_another_captures_skips_without_waiting():
    """While another thread holds the policy, triggers and ticks return at once and do nothing."""
    capture, profiler, _, _ = make(cooldown=0.0)
    capture.trigger("leak", seconds=0.0)
    assert capture._lock.acquire(timeout=5)
    try:
        finishes(capture.tick)
        finishes(lambda: capture.trigger("leak", seconds=0.0))
    finally:
        capture._lock.release()
    assert states(profiler) == [("leak", "running")]


@pytest.mark.parametrize("action", ["delete", "end"])
def test_a_capture_the_user_deleted_or_ended_is_let_go(action):
    """A capture ended or deleted through the API is let go at its due time, without an error."""
    capture, profiler, clock, errors = make(cooldown=0.0)
    capture.trigger("leak", seconds=10.0)
    first = capture.running
    assert first is not None
    getattr(profiler, action)(first)
    clock.now += 10
    capture.tick()
    assert capture.running is None
    capture.trigger("leak", seconds=10.0)
    assert capture.running not in {None, first}
    assert errors.seen == []


def test_an_unexpected_error_is_reported_never_raised_and_names_no_message():
    """A store failing during a capture goes to on_error as context and type, not raised."""
    capture, profiler, _, errors = make(store=FailingStore())
    capture.trigger("leak", seconds=60.0)
    assert errors.seen == ["auto-capture: OSError"]
    assert capture.running is None
    assert profiler._baselines == {}


def test_a_capture_ended_and_replaced_by_another_thread_is_not_ended_early():
    """A due capture replaced by another thread before the tick got the lock is not ended."""
    capture, profiler, clock, _ = make(cooldown=0.0)
    real_lock = capture._lock

    class ReplacedMeanwhile:
        """The policy's lock, as seen by a tick that loses the race for it."""

        def acquire(self, blocking: bool = True) -> bool:
            # Before the tick gets the lock, another thread's trigger ends the due
            # capture and the one after starts the next.
            capture._lock = real_lock
            capture.trigger("leak", seconds=30.0)
            capture.trigger("leak", seconds=30.0)
            return real_lock.acquire(blocking)

        def release(self) -> None:
            real_lock.release()

    capture.trigger("leak", seconds=30.0)
    first = capture.running
    clock.now += 30.0
    capture._lock = ReplacedMeanwhile()  # type: ignore[assignment]
    capture.tick()
    second = capture.running
    assert second not in {None, first}
    assert profiler.get(first).state == "complete"
    assert profiler.get(second).state == "running"
    clock.now += 30.0
    capture.tick()
    assert profiler.get(second).state == "complete"


def test_reset_forgets_the_running_capture_and_the_cooldown():
    """After reset (a forked child) the next trigger starts a capture at once."""
    capture, profiler, _, _ = make(cooldown=3600.0)
    capture.trigger("leak", seconds=60.0)
    profiler.reset()
    capture.reset()
    assert capture.running is None
    capture.trigger("leak", seconds=60.0)
    assert states(profiler) == [("leak", "running")]


steps = st.lists(
    st.tuples(st.sampled_from(["trigger", "tick"]), st.floats(0, 100), st.floats(0, 100)),
    max_size=12,
)


# Each step may take a real census (about 0.1 s): fewer examples, same property.
@settings(max_examples=25)
@given(steps)
def test_captures_never_overlap_and_starts_respect_the_cooldown(script):
    """Whatever triggers and ticks come when, one capture runs at most and starts are spaced."""
    capture, profiler, clock, errors = make(cooldown=50.0)
    starts: list[float] = []
    for action, wait, seconds in script:
        clock.now += wait
        before = capture.running
        if action == "trigger":
            capture.trigger("leak", seconds=seconds)
        else:
            capture.tick()
        if capture.running is not None and capture.running != before:
            starts.append(clock.now)
        running = [p for p in profiler.list() if p.state == "running"]
        assert len(running) <= 1
        assert [p.id for p in running] == ([capture.running] if capture.running else [])
        if action == "tick" and capture.ends_at is not None:
            assert clock.now < capture.ends_at
    assert all(b - a >= 50.0 for a, b in itertools.pairwise(starts))
    assert errors.seen == []


def test_a_limit_trigger_ends_a_running_leak_capture_at_once():
    """Near the limit a leak capture is ended now, so its profile is complete before a kill."""
    capture, profiler, clock, errors = make(cooldown=0.0)
    capture.trigger("leak", seconds=60.0)
    clock.now += 5.0
    capture.trigger("limit", seconds=3.0)
    assert states(profiler) == [("leak", "complete")]
    assert capture.running is None
    assert errors.seen == []


def test_a_limit_trigger_leaves_a_running_limit_capture_to_its_time():
    """Limit triggers on every poll do not end the limit capture they started: it runs its time."""
    capture, profiler, clock, errors = make(cooldown=0.0)
    capture.trigger("limit", seconds=3.0)
    for _ in range(2):
        clock.now += 1.0
        capture.trigger("limit", seconds=3.0)
        capture.tick()
    assert states(profiler) == [("limit", "running")]
    clock.now += 1.0
    capture.tick()
    assert states(profiler) == [("limit", "complete")]
    assert errors.seen == []


def test_a_leak_trigger_ends_a_running_limit_capture():
    """A leak reported during a limit capture closes it, as any next trigger does."""
    capture, profiler, clock, _ = make(cooldown=0.0)
    capture.trigger("limit", seconds=30.0)
    clock.now += 2.0
    capture.trigger("leak", seconds=60.0)
    assert states(profiler) == [("limit", "complete")]
