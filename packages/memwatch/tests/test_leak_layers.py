"""A leak report's preliminary verdict: the probe readings over the leak's window."""

from __future__ import annotations

from memwatch.detector import LeakFinding
from memwatch.leak_layers import PRELIMINARY, LeakLayers
from memwatch.reports import LatestReports
from memwatch.samples import Sample

from .scripted import MIB, ScriptedProbe


def _finding(start: float, end: float, growth: int) -> LeakFinding:
    return LeakFinding(
        time=end, start=start, end=end, start_base=0, end_base=growth, growth=growth, reason="r"
    )


def test_growth_in_pythons_blocks_is_python_memory_and_says_preliminary() -> None:
    """Python's allocator holding a leak's worth more blocks reads as Python memory, preliminary."""
    layers = LeakLayers(malloc=ScriptedProbe())
    layers.read(0.0)
    kept = [[index] for index in range(100_000)]  # about 100k small blocks, the leak
    layers.read(10.0)
    verdict = layers.judge(_finding(0.0, 10.0, growth=8 * MIB))
    assert len(kept) == 100_000
    assert verdict.layer == "python objects"
    assert verdict.text.startswith(PRELIMINARY)
    assert verdict.figures.census is False
    assert verdict.figures.blocks_growth >= 100_000


def test_malloc_growing_alone_is_native_memory() -> None:
    """malloc's in-use bytes growing as much as the leak, Python's blocks not, reads as native."""
    layers = LeakLayers(malloc=ScriptedProbe(step=50 * MIB))
    layers.read(0.0)
    layers.read(10.0)
    verdict = layers.judge(_finding(0.0, 10.0, growth=50 * MIB))
    assert verdict.layer == "native memory"
    assert "memray run --native" in verdict.text


def test_neither_allocator_growing_is_allocator_retention() -> None:
    """Process growth no allocator accounts for reads as allocator retention."""
    layers = LeakLayers(malloc=ScriptedProbe())
    layers.read(0.0)
    layers.read(10.0)
    assert layers.judge(_finding(0.0, 10.0, growth=200 * MIB)).layer == "allocator retention"


def test_a_window_older_than_the_ring_is_judged_at_the_rate_the_ring_saw() -> None:
    """malloc growth over the last 10 s of a 100 s window counts ten times over."""
    layers = LeakLayers(malloc=ScriptedProbe(step=5 * MIB))
    layers.read(90.0)
    layers.read(100.0)
    verdict = layers.judge(_finding(0.0, 100.0, growth=50 * MIB))
    assert verdict.figures.malloc_growth == 50 * MIB
    assert verdict.layer == "native memory"


def test_without_two_readings_in_the_window_nothing_is_judged() -> None:
    """One reading, or none, leaves the verdict unjudged rather than guessed."""
    layers = LeakLayers(malloc=ScriptedProbe())
    assert layers.judge(_finding(0.0, 10.0, growth=50 * MIB)).layer == ""
    layers.read(5.0)
    assert layers.judge(_finding(0.0, 10.0, growth=50 * MIB)).layer == ""


def test_readings_are_rate_limited_and_bounded() -> None:
    """Readings closer than ``every`` (or back in time) are skipped; the ring is bounded."""
    layers = LeakLayers(every=2.0, capacity=5, malloc=ScriptedProbe())
    for moment in (0.0, 1.0, 1.9, -3.0):
        layers.read(moment)
    assert len(layers) == 1
    for moment in range(2, 40, 2):
        layers.read(float(moment))
    assert len(layers) == 5


def test_the_latest_leak_report_carries_the_verdict_and_a_reset_forgets_the_readings() -> None:
    """Samples fed with a growing heap give a leak report whose verdict is judged, preliminary."""
    reports = LatestReports(clock=lambda: 0.0, layer_every=0.5)

    class Grows:
        """A detector that reports the whole span fed so far as one leak at the tenth sample."""

        mode = "test"
        first: float | None = None

        def feed(self, sample: Sample) -> list[LeakFinding]:
            self.first = sample.time if self.first is None else self.first
            if sample.time < 9.0:
                return []
            return [_finding(self.first, sample.time, growth=64 * MIB)]

        def reset(self) -> None:
            self.first = None

    detector = Grows()
    for moment in range(10):
        reports.feed(detector, [Sample(time=float(moment), heap_bytes=0, full=False)])
    leak = reports.last_leak
    assert leak.verdict.layer != ""
    assert leak.verdict.text.startswith(PRELIMINARY)
    assert leak.verdict.figures.process_growth == 64 * MIB
    reports.reset()
    assert len(reports.layers) == 0


def test_clearing_never_waits_for_the_lock_a_parents_thread_held_at_fork() -> None:
    """A forked child's reset clears the ring even while the inherited lock reads as held."""
    layers = LeakLayers(malloc=ScriptedProbe())
    layers.read(0.0)
    with layers._lock:  # as a parent's thread held it when the process forked
        layers.clear()
    assert len(layers) == 0
    layers.read(1.0)
    assert len(layers) == 1
