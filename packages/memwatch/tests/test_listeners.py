"""memwatch.listeners via Watcher.on: listeners hear every leak and stats event, never hurt it."""

from __future__ import annotations

import gc
import logging
import os
import threading
from typing import TYPE_CHECKING

import pytest

from memwatch.watcher import Watcher
from scripted import MIB, ScriptedProbe

if TYPE_CHECKING:
    from memwatch.models import GCStats, LeakReport


def leaking_watcher() -> Watcher:
    """A watcher whose heap grows 4 MiB per sample: memwatch mode reports every 3rd sample."""
    return Watcher(
        mode="memwatch",
        detector_options={"consecutive_growth": 3},
        probe=ScriptedProbe(step=4 * MIB),
        background=False,
        auto_capture=False,
    )


def test_a_leak_listener_hears_each_leak_as_the_status_reports_it():
    """Every leak event reaches the listener once, as the LeakReport the status then serves."""
    watcher = leaking_watcher()
    heard: list[LeakReport] = []
    watcher.on("leak", heard.append)
    reported: list[LeakReport] = []
    with watcher:
        for _ in range(8):
            watcher.force_gc()  # at most one leak each: two samples, three growths needed
            last = watcher.status().last_leak
            if last.growth and (not reported or reported[-1] != last):
                reported.append(last)
    assert len(reported) >= 2
    assert heard == reported
    assert all("consecutive GCs" in leak.reason for leak in heard)


def test_a_stats_listener_hears_every_accepted_sample():
    """Each forced collection's stats reach the listener; the last is the status's lastGC."""
    watcher = leaking_watcher()
    heard: list[GCStats] = []
    watcher.on("stats", heard.append)
    with watcher:
        results = [watcher.force_gc() for _ in range(3)]
    assert len(heard) >= 3
    assert heard[-1] == results[-1].last_gc == watcher.status().last_gc
    assert [s.num_full_gc for s in heard] == sorted(s.num_full_gc for s in heard)


def test_removing_a_listener_stops_it_and_only_it():
    """The function on() returns removes that registration; removing twice is harmless."""
    watcher = leaking_watcher()
    first: list[LeakReport] = []
    every: list[LeakReport] = []
    remove_first = watcher.on("leak", first.append)
    watcher.on("leak", every.append)
    watcher.on("leak", first.append)  # the same function again: a registration of its own
    with watcher:
        for _ in range(4):
            watcher.force_gc()
        before = len(every)
        remove_first()
        remove_first()
        for _ in range(4):
            watcher.force_gc()
    after = len(every) - before
    assert before >= 1
    assert after >= 1
    assert len(first) == 2 * before + after


def test_a_failing_listener_is_counted_and_the_others_still_run(caplog):
    """A listener that raises fails neither the collection nor the listeners after it."""
    caplog.set_level(logging.WARNING, logger="memwatch")
    watcher = leaking_watcher()
    heard: list[LeakReport] = []

    def broken(_leak: LeakReport) -> None:
        raise ConnectionError("POST https://hooks.example/SECRET-WEBHOOK-TOKEN")

    watcher.on("leak", broken)
    watcher.on("leak", heard.append)
    with watcher:
        for _ in range(4):
            watcher.force_gc()
    status = watcher.status()
    assert heard
    assert heard[-1] == status.last_leak
    assert status.watcher.errors == len(heard)
    # Its name and the exception's type, never the message: a webhook's token stays in the log.
    assert status.watcher.last_error == (
        "leak listener test_a_failing_listener_is_counted_and_the_others_still_run.<locals>."
        "broken: ConnectionError"
    )
    assert "SECRET-WEBHOOK-TOKEN" in caplog.text


def test_listeners_run_outside_the_watchers_locks():
    """A listener may wait for another thread that reads the status: no deadlock."""
    watcher = leaking_watcher()
    answers: list[int] = []

    def ask_another_thread(_leak: LeakReport) -> None:
        reader = threading.Thread(target=lambda: answers.append(watcher.status().process.pid))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the status waited for a lock the listener's thread holds"

    watcher.on("leak", ask_another_thread)
    with watcher:
        for _ in range(4):
            watcher.force_gc()
    assert answers
    assert set(answers) == {os.getpid()}
    assert watcher.status().watcher.errors == 0


def test_the_poll_thread_tells_listeners_too():
    """Leaks that poll() (the background thread's step) finds after real collections are heard."""
    watcher = leaking_watcher()
    heard: list[LeakReport] = []
    watcher.on("leak", heard.append)
    with watcher:
        for _ in range(8):
            gc.collect()  # the gc callback queues a full-collection sample ...
            watcher.poll()  # ... and the poll feeds it
            if heard:
                break
    assert len(heard) == 1
    assert heard[0] == watcher.status().last_leak


@pytest.mark.parametrize("event", ["gc", "Leak", ""])
def test_an_unknown_event_is_refused_with_the_names_there_are(event):
    """on() refuses an event name it never emits, naming the ones it does."""
    with pytest.raises(ValueError, match=r"a watcher emits 'leak', 'stats'"):
        Watcher(background=False).on(event, print)  # type: ignore[call-overload]


def test_a_listener_that_is_not_callable_is_refused():
    """on() refuses a listener it could never call, at once rather than at the first leak."""
    with pytest.raises(TypeError, match="a listener must be callable, got str"):
        Watcher(background=False).on("leak", "page me")  # type: ignore[call-overload]
