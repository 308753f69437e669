"""What a detector outputs, and the machinery both detection rules share.

A detector turns each accepted :class:`~memwatch.samples.Sample` into a
:class:`StatsFinding` (counters and baselines) and, when its rule holds, a
:class:`LeakFinding`. The watcher turns these into the models that status and
listeners see; a finding itself never leaves the process.

The helpers prefixed ``_`` are private to the detector package: memwatch's
recent/ancient baselines (both rules report them), the shared tail of a leak's
reason, the check that time never goes backwards, and the option checks that
let a config name every bad option in one error.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import attrs

from memwatch.formatting import format_duration, format_rate

if TYPE_CHECKING:
    from memwatch.samples import Sample

__all__ = ["Detector", "Finding", "LeakFinding", "StatsFinding", "hourly_rate"]

# Node memwatch's baseline periods, in samples; both rules report these baselines.
RECENT_PERIOD = 10
ANCIENT_PERIOD = 120


@attrs.frozen
class StatsFinding:
    """The ``stats`` finding: counters and baselines after one accepted sample.

    Attributes:
        time: The sample's time.
        num_full_gc: Full collections, passed through from the sample.
        num_inc_gc: Younger collections, passed through from the sample.
        heap_compactions: Reclaiming collections, passed through from the sample.
        estimated_base: The smoothed recent baseline, in bytes.
        current_base: The heap at this sample, in bytes.
        min: The lowest baseline seen after warm-up (0 before).
        max: The highest baseline seen after warm-up (0 before).
        usage_trend: How far the recent baseline sits above the long-run one, in
            percent with one decimal.
    """

    time: float
    num_full_gc: int
    num_inc_gc: int
    heap_compactions: int
    estimated_base: int
    current_base: int
    min: int
    max: int
    usage_trend: float


@attrs.frozen
class LeakFinding:
    """The ``leak`` finding: the heap's baseline grew from ``start`` to ``end``.

    Attributes:
        time: The time of the sample that fired it; equal to ``end``.
        start: When the growth began (the baseline before it).
        end: When the growth was reported.
        start_base: The baseline at ``start``, in bytes.
        end_base: The baseline at ``end``, in bytes.
        growth: ``end_base - start_base``.
        reason: Human-readable, ending in memwatch's ``(duration) - rate/hr`` tail.
    """

    time: float
    start: float
    end: float
    start_base: int
    end_base: int
    growth: int
    reason: str


# Either finding. The feed signatures spell the union out: the reference then
# links each member, where an alias would be an unresolved name.
Finding = StatsFinding | LeakFinding


class Detector(Protocol):
    """What the watcher needs from a detector."""

    mode: str

    def feed(self, sample: Sample) -> list[StatsFinding | LeakFinding]:
        """Take one sample; return a stats finding per accepted sample and at most one leak."""
        ...

    def reset(self) -> None:
        """Forget everything (used in a forked child)."""
        ...


def hourly_rate(growth: int, duration: float) -> float:
    """Growth per hour over ``duration`` seconds; windows under one second count as one.

    One second is the resolution of the printed duration, so a window printed
    as ``0s`` never divides by zero and its rate stays a finite upper bound.
    """
    return growth / max(duration, 1.0) * 3600.0


def _tail(growth: int, duration: float) -> str:
    return f"({format_duration(duration)}) - {format_rate(hourly_rate(growth, duration))}"


def _round_tenth(value: float) -> float:
    """Round to one decimal, halves away from zero (C's ``round``, as memwatch does)."""
    return math.copysign(math.floor(abs(value) * 10.0 + 0.5) / 10.0, value)


class _Baselines:
    """memwatch's recent/ancient baselines and the min/max of accepted samples."""

    def __init__(self, recent_period: int, ancient_period: int) -> None:
        self._recent_period = recent_period
        self._ancient_period = ancient_period
        self.count = 0
        self.recent = 0.0
        self.ancient = 0.0

    def update(self, heap: int) -> None:
        # A running mean until a period has passed, then an exponential moving
        # average over that period: base = base*(p-1)/p + heap/p.
        self.count += 1
        recent = min(self.count, self._recent_period)
        ancient = min(self.count, self._ancient_period)
        self.recent = (self.recent * (recent - 1) + heap) / recent
        self.ancient = (self.ancient * (ancient - 1) + heap) / ancient

    def usage_trend(self) -> float:
        if self.ancient <= 0:
            return 0.0
        return _round_tenth((self.recent - self.ancient) / self.ancient * 100.0)


def _stats(sample: Sample, bases: _Baselines, low: int, high: int) -> StatsFinding:
    return StatsFinding(
        time=sample.time,
        num_full_gc=sample.num_full_gc,
        num_inc_gc=sample.num_inc_gc,
        heap_compactions=sample.heap_compactions,
        estimated_base=round(bases.recent),
        current_base=sample.heap_bytes,
        min=low,
        max=high,
        usage_trend=bases.usage_trend(),
    )


def _check_time(previous: float | None, sample: Sample) -> None:
    if previous is not None and sample.time < previous:
        msg = f"sample time went backwards: {sample.time} after {previous}"
        raise ValueError(msg)


def _require(problems: list[str], ok: bool, text: str) -> None:
    if not ok:
        problems.append(text)


def _raise_problems(name: str, problems: list[str]) -> None:
    if problems:
        raise ValueError(f"invalid {name}: " + "; ".join(problems))
