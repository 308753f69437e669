"""The ``trend`` rule, the default: the heap's floor rises steadily across a window.

It uses every sample, not only those after a full collection, because on
CPython reference counting frees most garbage at once and full collections are
rare. Its options are :class:`~memwatch.detector.TrendConfig`; the figures that
chose their defaults come from ``benchmarks/detector_figures.py``.
"""

from __future__ import annotations

import collections
import itertools
from typing import TYPE_CHECKING

from memwatch.detector.findings import (
    ANCIENT_PERIOD,
    RECENT_PERIOD,
    LeakFinding,
    StatsFinding,
    _Baselines,
    _check_time,
    _stats,
    _tail,
    hourly_rate,
)
from memwatch.detector.trend_config import TrendConfig
from memwatch.formatting import format_size

if TYPE_CHECKING:
    from memwatch.samples import Sample

__all__ = ["TrendDetector"]

_Slot = tuple[float, int]


class TrendDetector:
    """Reports a leak when the heap's floor rises steadily across a window.

    Every sample is accepted and yields a stats finding (``estimated_base`` and
    ``usage_trend`` as in the consecutive mode, over all samples). Samples within the
    warm-up are ignored for leak detection and for min/max. After it, samples
    go into slots of ``sample_interval`` seconds (a slot keeps its lowest
    reading, its *baseline*), and the last ``window`` slots are kept.

    Once ``min_samples`` slots are held, the window is cut into ``segments``
    parts and the floor of each (its lowest baseline) is taken. The window
    *passes* when all of these hold:

    * the last floor is at least ``min_growth * window / n`` above the first for
      a window of ``n`` slots (a short window is stricter: its floors are less
      certain), and at least ``noise_margin`` times the floors' uncertainty
      estimated from the window itself (noise, sawtooth and churn raise it);
    * the rate from the first floor to now is at least ``min_rate``;
    * no segment's floor fell (or rose less than ``min_step_share`` of an even
      split), no segment contributed more than ``max_step_share`` of the growth
      and no two adjacent ones more than ``max_pair_ratio`` times an even split:
      a cache that fills once is one jump, a leak spreads its growth over every
      segment;
    * the robust (Theil-Sen) slope of each of ``parts`` consecutive parts of the
      window is at least ``min_part_rate`` of the window's rate: a jump leaves
      the part before or after it flat, a leak keeps every part rising.

    Besides every slot held, the most recent ``recent_window`` slots (and twice,
    four times as many, while fewer than held) are judged as windows of their
    own, so that a leak starting an hour into the process is not hidden by the
    flat hour before it; the longest window that passes is the one reported.
    A leak is reported when a window passes on ``confirm`` consecutive slots.
    Floors ignore upward spikes, and a single dip lowers one floor for one
    window at most, so neither resets the evidence. After a report the window
    restarts from the current slot: a steady leak is reported once per window of
    further growth, never once per sample.
    """

    mode = "trend"

    def __init__(self, config: TrendConfig | None = None) -> None:
        """Create a detector with ``config`` (defaults: see :class:`TrendConfig`)."""
        self.config = config if config is not None else TrendConfig()
        self.reset()

    def reset(self) -> None:
        """Forget every sample seen."""
        self._bases = _Baselines(RECENT_PERIOD, ANCIENT_PERIOD)
        self._first: float | None = None
        self._last: float | None = None
        self._slots: collections.deque[_Slot] = collections.deque(maxlen=self.config.window)
        self._slot_start = 0.0
        self._warm = False
        self._min = 0
        self._max = 0
        self._streak = 0
        self._streak_slot = -1.0

    def feed(self, sample: Sample) -> list[StatsFinding | LeakFinding]:
        """Take one sample; return its stats finding and, when the floor rose steadily, a leak.

        Raises:
            ValueError: if the sample is older than the previous one.
        """
        _check_time(self._last, sample)
        self._last = sample.time
        if self._first is None:
            self._first = sample.time
        self._bases.update(sample.heap_bytes)
        findings: list[StatsFinding | LeakFinding] = []
        if sample.time - self._first >= self.config.warmup:
            heap = sample.heap_bytes
            if not self._warm:
                self._warm = True
                self._min = self._max = heap
            self._min = min(self._min, heap)
            self._max = max(self._max, heap)
            self._add(sample)
            leak = self._judge(sample)
            if leak is not None:
                findings.append(leak)
                self._slots = collections.deque([self._slots[-1]], maxlen=self.config.window)
        findings.insert(0, _stats(sample, self._bases, self._min, self._max))
        return findings

    def _add(self, sample: Sample) -> None:
        point = (sample.time, sample.heap_bytes)
        if self._slots and sample.time - self._slot_start < self.config.sample_interval:
            if sample.heap_bytes < self._slots[-1][1]:
                self._slots[-1] = point
        else:
            self._slot_start = sample.time
            self._slots.append(point)

    def _passes(self, slots: list[_Slot], floors: list[_Slot], duration: float) -> bool:
        config = self.config
        n = len(slots)
        k = config.segments
        first = floors[0][1]
        growth = floors[-1][1] - first
        if growth <= 0 or growth < config.min_growth * max(1.0, config.window / n) * first:
            return False
        if hourly_rate(growth, duration) < config.min_rate:
            return False
        steps = [b[1] - a[1] for a, b in itertools.pairwise(floors)]
        pairs = [a + b for a, b in itertools.pairwise(steps)]
        if (
            min(steps) < config.min_step_share * growth / (k - 1)
            or max(steps) > config.max_step_share * growth
            or max(pairs, default=0) > config.max_pair_ratio * 2 * growth / (k - 1)
        ):
            return False
        if growth < config.noise_margin * _floor_noise(slots, k):
            return False
        p = config.parts
        rate = growth / duration
        return all(
            _theil_sen(_blocks(slots[i * n // p : (i + 1) * n // p], config.part_points))
            >= config.min_part_rate * rate
            for i in range(p)
        )

    def _lengths(self, held: int) -> list[int]:
        """The window lengths judged, longest first: every slot held, then recent ones.

        A leak that starts long after the process did shares the whole window with
        a flat past that hides it (a flat segment, a flat part); the most recent
        ``recent_window`` slots, twice that, four times ... hold only the leak.
        """
        lengths = [held]
        length = self.config.recent_window
        while 0 < length < held:
            lengths.insert(1, length)
            length *= 2
        return lengths

    def _window(self, sample: Sample) -> tuple[list[_Slot], list[_Slot], float] | None:
        """The longest window that passes, with its floors and duration, or ``None``."""
        held = list(self._slots)
        k = self.config.segments
        for n in self._lengths(len(held)):
            slots = held[-n:]
            floors = [min(slots[i * n // k : (i + 1) * n // k], key=_base) for i in range(k)]
            duration = sample.time - floors[0][0]
            if self._passes(slots, floors, duration):
                return slots, floors, duration
        return None

    def _judge(self, sample: Sample) -> LeakFinding | None:
        config = self.config
        if len(self._slots) < config.min_samples:
            self._streak = 0
            return None
        window = self._window(sample)
        if window is None:
            self._streak = 0
            return None
        slots, floors, duration = window
        n = len(slots)
        first_time, first = floors[0]
        if slots[-1][0] != self._streak_slot:
            # Count each slot once, however many samples it merged.
            self._streak_slot = slots[-1][0]
            self._streak += 1
        if self._streak < config.confirm:
            return None
        self._streak = 0
        last = floors[-1][1]
        growth = last - first
        count = n - slots.index(floors[0])
        reason = (
            f"heap baseline grew {format_size(growth)} over {count} samples "
            f"{_tail(growth, duration)}"
        )
        return LeakFinding(
            time=sample.time,
            start=first_time,
            end=sample.time,
            start_base=first,
            end_base=last,
            growth=growth,
            reason=reason,
        )


def _base(slot: _Slot) -> int:
    return slot[1]


def _theil_sen(points: list[_Slot]) -> float:
    """The median of the slopes between every pair of points (times are distinct)."""
    slopes = sorted((b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.combinations(points, 2))
    return slopes[len(slopes) // 2]


def _blocks(slots: list[_Slot], most: int) -> list[_Slot]:
    """``slots`` if there are at most ``most``, else the floors of ``most`` even blocks."""
    n = len(slots)
    if n <= most:
        return slots
    return [min(slots[i * n // most : (i + 1) * n // most], key=_base) for i in range(most)]


def _floor_noise(slots: list[_Slot], k: int) -> float:
    """The uncertainty of a growth between two floors of ``k`` segments of ``slots``.

    Within each segment, the height of the median reading above the lowest one
    measures how far readings scatter above the floor; its median over the
    segments is robust to one segment holding a jump. A floor of ``m`` readings
    is uncertain by about ``2 / (m + 1)`` of that height (exact for uniform
    scatter), and the growth spans ``k - 1`` segment steps.
    """
    n = len(slots)
    heights = []
    for i in range(k):
        values = sorted(b for _, b in slots[i * n // k : (i + 1) * n // k])
        heights.append(values[len(values) // 2] - values[0])
    heights.sort()
    return heights[len(heights) // 2] * 2 * (k - 1) / (n / k + 1)
