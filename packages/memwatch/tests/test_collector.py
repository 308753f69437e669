"""Tests of the gc collector against real collections: counting, sampling, errors, fork."""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import threading
import warnings
import weakref

import pytest

from memwatch import forks
from memwatch.collector import Collector
from memwatch.probes import RssProbe, make_probe
from memwatch.samples import Sample


class CountingProbe:
    """A probe whose readings are 1000, 2000, 3000, ... so each sample says which read it was."""

    name = "counting"

    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> int:
        self.reads += 1
        return self.reads * 1000


class FailingProbe:
    """A probe that always fails, as a broken custom probe would."""

    name = "failing"

    def __init__(self, message: str = "probe is broken") -> None:
        self.message = message

    def read(self) -> int:
        raise RuntimeError(self.message)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gc_off():
    """Disable automatic collections so that only the test's gc.collect() calls run."""
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


@pytest.fixture
def make_collector():
    """Build collectors and uninstall every one of them after the test."""
    made = []

    def make(**options):
        options.setdefault("probe", CountingProbe())
        made.append(Collector(**options))
        return made[-1]

    yield make
    for collector in made:
        collector.uninstall()


def _ours(collector):
    return [callback for callback in gc.callbacks if callback is collector._callback]


def _make_cyclic_garbage(count=10):
    for _ in range(count):
        cycle = []
        cycle.append(cycle)


# -- installation ------------------------------------------------------------------


def test_install_and_uninstall_are_idempotent(make_collector):
    """Installing twice adds exactly one callback; uninstalling twice removes just it."""
    collector = make_collector()
    before = list(gc.callbacks)
    assert not collector.installed
    collector.install()
    collector.install()
    assert collector.installed
    assert len(_ours(collector)) == 1
    assert len(gc.callbacks) == len(before) + 1
    collector.uninstall()
    collector.uninstall()
    assert not collector.installed
    assert gc.callbacks == before


def test_uninstall_leaves_other_collectors_installed(make_collector):
    """Uninstalling one collector keeps another's callback in place."""
    first, second = make_collector(), make_collector()
    first.install()
    second.install()
    first.uninstall()
    assert not first.installed
    assert second.installed


def test_installed_reflects_gc_callbacks(make_collector):
    """A callback removed from gc.callbacks by others shows as uninstalled; install restores it."""
    collector = make_collector()
    collector.install()
    gc.callbacks.remove(collector._callback)
    assert not collector.installed
    collector.install()
    assert len(_ours(collector)) == 1


def test_context_manager_installs_and_uninstalls_even_on_error(make_collector):
    """The with block installs the callback, and leaving it (even by an exception) removes it."""
    collector = make_collector()
    with collector as entered:
        assert entered is collector
        assert collector.installed
    assert not collector.installed
    with pytest.raises(KeyError), collector:
        raise KeyError("service error")
    assert not collector.installed


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"probe": object()}, TypeError, "needs a name and a read"),
        ({"sample_interval": -1.0}, ValueError, "sample_interval"),
        ({"sample_interval": math.nan}, ValueError, "sample_interval"),
        ({"max_pending": 0}, ValueError, "max_pending"),
    ],
)
def test_invalid_options_are_refused(options, error, match):
    """A probe without name/read(), a negative or NaN interval, or max_pending < 1 is refused."""
    options.setdefault("probe", CountingProbe())
    with pytest.raises(error, match=match):
        Collector(**options)


# -- counting ------------------------------------------------------------------------


@pytest.mark.usefixtures("gc_off")
def test_counts_full_and_incremental_collections(make_collector):
    """gc.collect(0) and (1) count as incremental, gc.collect(2) as full, each once."""
    collector = make_collector()
    collector.install()
    gc.collect(0)
    gc.collect(1)
    gc.collect(2)
    gc.collect()
    assert collector.collections == 4
    assert collector.incremental_collections == 2
    assert collector.full_collections == 2


@pytest.mark.usefixtures("gc_off")
def test_compactions_count_collections_that_freed_objects(make_collector):
    """A collection that frees cyclic garbage is a compaction; one that frees nothing is not."""
    collector = make_collector()
    gc.collect()
    collector.install()
    gc.collect(0)
    assert collector.compactions == 0
    _make_cyclic_garbage()
    gc.collect(0)
    assert collector.compactions == 1
    assert collector.collections == 2


def test_allocation_triggers_young_collections_that_are_counted(make_collector):
    """A loop allocating container cycles triggers automatic young collections, all counted."""
    collector = make_collector(sample_interval=3600.0)
    gc.enable()
    collector.install()
    before = sum(stats["collections"] for stats in gc.get_stats())
    _make_cyclic_garbage(20_000)
    ran = sum(stats["collections"] for stats in gc.get_stats()) - before
    collector.uninstall()
    assert ran > 0
    assert collector.collections == ran
    assert collector.incremental_collections > 0
    assert collector.collections == collector.full_collections + collector.incremental_collections
    assert collector.compactions > 0
    # With an hour's interval only the first collection and the full ones are sampled.
    samples = collector.drain()
    assert len([sample for sample in samples if sample.full]) == collector.full_collections
    assert len([sample for sample in samples if not sample.full]) <= 1
    assert samples[0].num_full_gc + samples[0].num_inc_gc == 1


def test_a_callback_that_takes_no_lock_cannot_deadlock(make_collector):
    """A collection run while the collector's lock is held completes: the callback takes no lock."""
    collector = make_collector()
    collector.install()
    finished = threading.Event()

    def collect_while_locked():
        with collector._lock:
            gc.collect()
        finished.set()

    worker = threading.Thread(target=collect_while_locked, daemon=True)
    worker.start()
    assert finished.wait(timeout=30)
    worker.join()
    assert collector.full_collections >= 1


# -- sampling ------------------------------------------------------------------------


@pytest.mark.usefixtures("gc_off")
def test_young_collections_are_sampled_at_most_once_per_interval(make_collector):
    """Young collections are sampled once per sample_interval at most; full ones always."""
    clock = Clock(100.0)
    collector = make_collector(sample_interval=5.0, clock=clock)
    collector.install()
    taken = []
    for now, generation in [
        (100.0, 0),  # first collection: sampled
        (101.0, 0),
        (104.9, 1),
        (105.0, 0),  # 5 s after the last sample: sampled
        (106.0, 2),  # full: always sampled
        (106.5, 2),  # full again, 0.5 s later: sampled anyway
        (110.0, 0),  # 3.5 s after the last (full) sample: not sampled
        (111.5, 0),  # 5 s after it: sampled
    ]:
        clock.now = now
        gc.collect(generation)
        taken.extend((sample.time, sample.full) for sample in collector.drain())
    assert taken == [
        (100.0, False),
        (105.0, False),
        (106.0, True),
        (106.5, True),
        (111.5, False),
    ]
    assert collector.samples == 5
    assert collector.last_sample_time == 111.5


@pytest.mark.usefixtures("gc_off")
def test_samples_carry_the_reading_and_the_counts_at_that_moment(make_collector):
    """Each sample holds the probe's reading, the clock, and the cumulative counts then."""
    clock = Clock(7.0)
    probe = CountingProbe()
    collector = make_collector(probe=probe, sample_interval=0.0, clock=clock)
    collector.install()
    gc.collect(0)
    _make_cyclic_garbage()
    clock.now = 8.0
    gc.collect(2)
    first, second = collector.drain()
    assert isinstance(first, Sample)
    assert first == Sample(
        time=7.0, heap_bytes=1000, full=False, num_full_gc=0, num_inc_gc=1, heap_compactions=0
    )
    assert second == Sample(
        time=8.0, heap_bytes=2000, full=True, num_full_gc=1, num_inc_gc=1, heap_compactions=1
    )
    assert collector.last_heap_bytes == 2000
    assert probe.reads == 2


@pytest.mark.usefixtures("gc_off")
def test_drain_returns_oldest_first_and_bounds_pending(make_collector):
    """drain() empties the queue oldest first; past max_pending the oldest samples are dropped."""
    clock = Clock(0.0)
    collector = make_collector(sample_interval=0.0, clock=clock, max_pending=3)
    collector.install()
    for second in range(5):
        clock.now = float(second)
        gc.collect(0)
    drained = collector.drain()
    assert [sample.time for sample in drained] == [2.0, 3.0, 4.0]
    assert [sample.heap_bytes for sample in drained] == [3000, 4000, 5000]
    assert collector.dropped == 2
    assert collector.samples == 5
    assert collector.drain() == []


@pytest.mark.usefixtures("gc_off")
def test_sample_now_reads_outside_callbacks_and_restarts_the_interval(make_collector):
    """sample_now() returns a fresh, unqueued sample and restarts the sampling interval."""
    clock = Clock(50.0)
    collector = make_collector(sample_interval=5.0, clock=clock)
    collector.install()
    gc.collect(0)
    collector.drain()
    clock.now = 60.0
    sample = collector.sample_now(full=True)
    assert sample == Sample(
        time=60.0, heap_bytes=2000, full=True, num_full_gc=0, num_inc_gc=1, heap_compactions=0
    )
    assert collector.drain() == []
    assert collector.samples == 2
    assert collector.last_sample_time == 60.0
    assert collector.last_heap_bytes == 2000
    clock.now = 63.0
    gc.collect(0)
    assert collector.drain() == []
    assert not collector.sample_now().full


def test_sample_now_raises_the_probes_error_without_counting_it(make_collector):
    """sample_now() lets the probe's error reach its caller, who reports it; errors stays at 0."""
    collector = make_collector(probe=FailingProbe("no reading"))
    with pytest.raises(RuntimeError, match="no reading"):
        collector.sample_now()
    assert collector.errors == 0
    assert collector.samples == 0


def test_before_any_sample_the_fallback_is_due_at_once(make_collector):
    """Before the first sample, last_sample_time is -inf and last_heap_bytes 0."""
    collector = make_collector()
    assert collector.last_sample_time == -math.inf
    assert collector._clock() - collector.last_sample_time == math.inf
    assert collector.last_heap_bytes == 0


def test_works_with_a_real_probe(make_collector):
    """With the platform's probe, samples after a real full collection hold positive byte counts."""
    probe = make_probe()
    collector = make_collector(probe=probe)
    with collector:
        gc.collect()
    samples = collector.drain()
    assert samples
    assert samples[-1].full
    assert all(sample.heap_bytes > 0 for sample in samples)


# -- errors ---------------------------------------------------------------------------


@pytest.mark.usefixtures("gc_off")
def test_a_failing_probe_is_counted_never_raised_nor_printed(make_collector, monkeypatch, capsys):
    """Probe errors are counted and described by type, never message; nothing raised or printed."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    collector = make_collector(probe=FailingProbe(), sample_interval=0.0)
    collector.install()
    for generation in (0, 1, 2, 2):
        gc.collect(generation)
    service_result = sum(range(10))  # the service goes on
    assert service_result == 45
    assert collector.errors == 4
    assert collector.last_error == "gc callback: RuntimeError"
    kept = collector.take_exception()
    assert isinstance(kept, RuntimeError)  # for the watcher's thread to log, with its message
    assert str(kept) == "probe is broken"
    assert collector.take_exception() is None
    assert collector.collections == 4
    assert collector.samples == 0
    assert collector.drain() == []
    assert unraisable == []
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


@pytest.mark.usefixtures("gc_off")
def test_a_failing_clock_is_counted_too(make_collector):
    """An error anywhere in the callback body, even the clock, is counted and not raised."""

    def broken_clock():
        raise OSError("clock gone")

    collector = make_collector(clock=broken_clock)
    collector.install()
    gc.collect(0)
    assert collector.errors == 1
    assert collector.last_error == "gc callback: OSError"
    assert collector.collections == 1


@pytest.mark.usefixtures("gc_off")
def test_an_error_message_never_reaches_last_error(make_collector):
    """last_error names the exception's type only, however long or secret its message is."""
    collector = make_collector(probe=FailingProbe("SECRET " * 500), sample_interval=0.0)
    collector.install()
    gc.collect(0)
    assert collector.last_error == "gc callback: RuntimeError"


# -- reset and fork ----------------------------------------------------------------------


def _snapshot(collector):
    return {
        "collections": collector.collections,
        "full": collector.full_collections,
        "incremental": collector.incremental_collections,
        "compactions": collector.compactions,
        "samples": collector.samples,
        "dropped": collector.dropped,
        "errors": collector.errors,
        "last_error": collector.last_error,
        "last_heap_bytes": collector.last_heap_bytes,
        "last_sample_time": collector.last_sample_time,
    }


ZEROED = {
    "collections": 0,
    "full": 0,
    "incremental": 0,
    "compactions": 0,
    "samples": 0,
    "dropped": 0,
    "errors": 0,
    "last_error": "",
    "last_heap_bytes": 0,
    "last_sample_time": -math.inf,
}


@pytest.mark.usefixtures("gc_off")
def test_reset_zeroes_counters_and_drops_pending_but_stays_installed(make_collector):
    """reset() zeroes every counter and the queue; the callback keeps counting afterwards."""
    collector = make_collector(probe=FailingProbe(), sample_interval=0.0, max_pending=1)
    collector.install()
    gc.collect(2)
    collector.probe = CountingProbe()
    _make_cyclic_garbage()
    gc.collect(0)
    gc.collect(0)
    assert collector.errors == 1
    assert collector.dropped == 1
    collector.reset()
    assert _snapshot(collector) == ZEROED
    assert collector.drain() == []
    assert collector.installed
    gc.collect(0)
    assert collector.collections == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
@pytest.mark.usefixtures("gc_off")
def test_a_forked_child_starts_from_zero(make_collector):
    """In a forked child the parent's counts are gone; the child counts its own collections."""
    collector = make_collector(probe=RssProbe(), sample_interval=0.0)
    collector.install()
    gc.collect(0)
    gc.collect(2)
    parent_before = _snapshot(collector)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # 3.12+ warns about forking a process with threads; the child only reports and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        code = 1
        try:
            os.close(read_end)
            report = {"after_fork": _snapshot(collector), "pending": len(collector.drain())}
            report["after_fork"]["last_sample_time"] = repr(collector.last_sample_time)
            collector.install()  # the lock is usable in the child
            gc.collect(2)
            report["after_gc"] = _snapshot(collector)
            report["installed"] = collector.installed
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["after_fork"] == dict(ZEROED, last_sample_time="-inf")
    assert report["pending"] == 0
    assert report["installed"] is True
    assert report["after_gc"]["collections"] == 1
    assert report["after_gc"]["full"] == 1
    assert report["after_gc"]["samples"] == 1
    assert report["after_gc"]["last_heap_bytes"] > 0
    assert _snapshot(collector) == parent_before


@pytest.mark.usefixtures("gc_off")
def test_a_collector_registers_one_fork_reset_and_holds_itself_weakly():
    """A collector registers its reset with the one fork hook, which does not keep it alive."""
    gc.collect()
    before = forks.registered()
    collector = Collector(probe=CountingProbe(), sample_interval=0.0)
    alive = weakref.ref(collector)
    assert forks.registered() == before + 1
    del collector
    gc.collect()  # its callback, a bound method it keeps, makes a cycle
    assert alive() is None
