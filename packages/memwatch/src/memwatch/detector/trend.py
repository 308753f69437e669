"""The ``trend`` rule, the default: the heap's floor rises steadily across a window.

It uses every sample, not only those after a full collection, because on
CPython reference counting frees most garbage at once and full collections are
rare. Its options are :class:`~memwatch.detector.TrendConfig`; the figures that
chose their defaults come from ``benchmarks/detector_figures.py``.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import math
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
from memwatch.detector.window_stats import Slot, blocks, edges_rise, floor_noise, theil_sen
from memwatch.formatting import format_size

if TYPE_CHECKING:
    from memwatch.samples import Sample

__all__ = ["TrendDetector"]

# A slope needs two points; a last segment of one slot (the shortest windows) has none.
_SLOPE_POINTS = 2


class TrendDetector:
    """Reports a leak when the heap's floor rises steadily across a window.

    Every sample is accepted and yields a stats finding (``estimated_base`` and
    ``usage_trend`` as in the consecutive mode, over all samples). Samples within the
    warm-up are ignored for leak detection and for min/max. After it, samples
    go into slots of ``resolution`` seconds (a slot keeps its lowest reading, its
    *baseline*), and the slots of the last ``window`` seconds are kept. The
    window is judged each time a slot opens.

    A window is cut into ``segments`` parts and the floor of each (its lowest
    baseline) is taken. The window *passes* when all of these hold:

    * it spans at least ``quick_span`` seconds, and the last floor is above the
      first by at least ``min_growth * window / d`` of it for a window of ``d``
      seconds, and by ``quick_growth`` if ``d`` is under ``min_span``: evidence
      scales with magnitude, so a heap that nearly doubles steadily is believed
      within ``quick_span`` while a few percent need minutes, and a cache that
      fills for two minutes is over before a window of weak growth is believed;
    * the growth is at least ``noise_margin`` times the floors' uncertainty
      estimated from the window itself (noise, sawtooth and churn raise it);
    * the rate from the first floor to now is at least ``min_rate``;
    * no segment's floor fell (or rose less than ``min_step_share`` of an even
      split), no segment contributed more than ``max_step_share`` of the growth
      and no two adjacent ones more than ``max_pair_ratio`` times an even split:
      a cache that fills once is one jump, a leak spreads its growth over every
      segment;
    * the robust (Theil-Sen) slope of each of ``parts`` consecutive parts of the
      window is at least ``min_part_rate`` of the window's rate: a jump leaves
      the part before or after it flat, a leak keeps every part rising; in a
      window shorter than ``recent_span`` the last segment's slope too, since a
      cache that filled for two minutes has stopped rising by then.

    Besides every slot held, the most recent spans of :meth:`TrendConfig.spans`
    are judged as windows of their own, so that a leak starting an hour into the
    process is not hidden by the flat hour before it; the longest window that
    passes is the one reported. A recent window of ``min_span`` up to
    ``recent_span`` must also show that its rise outlasted a cache fill: the
    heap rose before its first edge of ``(d - fill_span) / 3`` seconds ended, and
    again within its last two edges, ``fill_span`` later, each rise by
    ``edge_margin`` times a floor's uncertainty estimated from the window. A
    sliding window can begin just before a fill wherever it happens, so it needs
    this evidence, where the window from the first slot cannot; a late leak of
    weak growth is then believed after about ``min_span``, not ``recent_span``.
    A leak is reported when windows pass on every
    judgement for ``confirm`` seconds. Floors ignore upward spikes, and a single
    dip lowers one floor for one window at most, so neither resets the evidence.
    After a report the window restarts from the current slot: a steady leak is
    reported once per window of further growth, never once per sample.
    """

    mode = "trend"

    def __init__(self, config: TrendConfig | None = None) -> None:
        """Create a detector with ``config`` (defaults: see :class:`TrendConfig`)."""
        self.config = config if config is not None else TrendConfig()
        self._capacity = math.ceil(self.config.window / self.config.resolution) + 1
        self.reset()

    def reset(self) -> None:
        """Forget every sample seen."""
        self._bases = _Baselines(RECENT_PERIOD, ANCIENT_PERIOD)
        self._first: float | None = None
        self._last: float | None = None
        self._slots: collections.deque[Slot] = collections.deque(maxlen=self._capacity)
        self._slot_start = 0.0
        self._warm = False
        self._min = 0
        self._max = 0
        self._passing_since: float | None = None

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
            if self._add(sample):
                leak = self._judge(sample)
                if leak is not None:
                    findings.append(leak)
                    self._slots = collections.deque([self._slots[-1]], maxlen=self._capacity)
        findings.insert(0, _stats(sample, self._bases, self._min, self._max))
        return findings

    def _add(self, sample: Sample) -> bool:
        """Put the sample in its slot; tell whether it opened a new one."""
        if self._slots and sample.time - self._slot_start < self.config.resolution:
            time, base, count = self._slots[-1]
            if sample.heap_bytes < base:
                time, base = sample.time, sample.heap_bytes
            self._slots[-1] = (time, base, count + 1)
            return False
        self._slot_start = sample.time
        self._slots.append((sample.time, sample.heap_bytes, 1))
        return True

    def _needed(self, duration: float) -> float:
        """The least relative growth a window of ``duration`` seconds must show."""
        config = self.config
        needed = config.min_growth * config.window / duration
        return max(needed, config.quick_growth) if duration < config.min_span else needed

    def _grew_enough(self, first: int, last: int, duration: float) -> bool:
        """Whether a window of ``duration`` seconds grew enough, and fast enough, to judge on."""
        config = self.config
        growth = last - first
        return (
            duration >= config.quick_span
            and growth > 0
            and growth >= self._needed(duration) * first
            and hourly_rate(growth, duration) >= config.min_rate
        )

    def _window_passes(
        self, slots: list[Slot], floors: list[Slot], duration: float, *, edged: bool
    ) -> bool:
        """The shape tests of a window that grew enough: spread, noise, every part rising.

        ``edged`` tells that the window is a recent one that must pass the edge
        tests too (:meth:`TrendConfig.edged`).
        """
        config = self.config
        n = len(slots)
        k = config.segments
        growth = floors[-1][1] - floors[0][1]
        steps = [b[1] - a[1] for a, b in itertools.pairwise(floors)]
        pairs = [a + b for a, b in itertools.pairwise(steps)]
        if (
            min(steps) < config.min_step_share * growth / (k - 1)
            or max(steps) > config.max_step_share * growth
            or max(pairs, default=0) > config.max_pair_ratio * 2 * growth / (k - 1)
        ):
            return False
        rate = growth / duration
        # Only strong growth is taken out of its own noise: in a longer window a
        # sawtooth's rise would be taken out with it, and its scatter is the evidence.
        rise = rate if duration < config.min_span else 0.0
        if growth < config.noise_margin * floor_noise(slots, k, rise):
            return False
        if edged and not edges_rise(slots, rate, config):
            return False
        p = config.parts
        parts = [slots[i * n // p : (i + 1) * n // p] for i in range(p)]
        if duration < config.recent_span:
            # A cache that fills for two minutes has stopped rising by the end of
            # a window this short; a leak has not: its last segment rises too.
            parts.append(slots[(k - 1) * n // k :])
        return all(
            len(part) < _SLOPE_POINTS
            or theil_sen(blocks(part, config.part_points)) >= config.min_part_rate * rate
            for part in parts
        )

    def _late_may_grow(self, bases: list[int], late: list[int]) -> bool:
        """Whether any edged window of ``late`` lengths (in slots) might grow enough.

        The edged windows are many and, on a healthy heap, none grows enough; one
        bound rules them all out. Each one's first floor is no lower than the
        lowest slot of the longest, its last floor no higher than the lowest of
        the slots every last segment holds; it is shorter than ``recent_span``
        (so needs more growth than that span) and at least ``quick_span`` long.
        """
        config = self.config
        k = config.segments
        tail = min(n - (k - 1) * n // k for n in late)
        first = min(bases[-max(late) :])
        growth = min(bases[-tail:]) - first
        return (
            growth > 0
            and growth >= self._needed(config.recent_span) * first
            and hourly_rate(growth, config.quick_span) >= config.min_rate
        )

    def _lengths(self, held: list[Slot], now: float) -> list[tuple[int, bool]]:
        """The windows judged, longest first: every slot held, then recent ones.

        Each is its length in slots and whether it must pass the edge tests.
        """
        config = self.config
        least = config.least_slots
        lengths = [(len(held), False)] if len(held) >= least else []
        times = [slot[0] for slot in held]
        for span in config.spans(now - held[0][0]):
            n = len(held) - bisect.bisect_left(times, now - span)
            if least <= n < lengths[-1][0]:
                lengths.append((n, config.edged(span)))
        return lengths

    def _window(self, sample: Sample) -> tuple[list[Slot], list[Slot], float] | None:
        """The longest window that passes, with its floors and duration, or ``None``."""
        held = list(self._slots)
        # min() and index() over a plain list of ints run in C: floors are most of the cost.
        bases = [slot[1] for slot in held]
        k = self.config.segments

        def floor(start: int, stop: int) -> Slot:
            return held[bases.index(min(bases[start:stop]), start, stop)]

        lengths = self._lengths(held, sample.time)
        late = [n for n, edged in lengths if edged]
        if late and not self._late_may_grow(bases, late):
            lengths = [(n, edged) for n, edged in lengths if not edged]
        for n, edged in lengths:
            offset = len(held) - n
            bounds = [offset + i * n // k for i in range(k + 1)]
            first, last = floor(bounds[0], bounds[1]), floor(bounds[-2], bounds[-1])
            duration = sample.time - first[0]
            # Most windows of a healthy heap fail on growth alone: judge it before the rest.
            if not self._grew_enough(first[1], last[1], duration):
                continue
            floors = [first, *(floor(a, b) for a, b in itertools.pairwise(bounds[1:-1])), last]
            if self._window_passes(held[offset:], floors, duration, edged=edged):
                return held[offset:], floors, duration
        return None

    def _judge(self, sample: Sample) -> LeakFinding | None:
        config = self.config
        window = self._window(sample)
        if window is None:
            self._passing_since = None
            return None
        if self._passing_since is None:
            self._passing_since = sample.time
        if sample.time - self._passing_since < config.confirm:
            return None
        self._passing_since = None
        slots, floors, duration = window
        first_time, first = floors[0][0], floors[0][1]
        last = floors[-1][1]
        growth = last - first
        count = sum(slot[2] for slot in slots[slots.index(floors[0]) :])
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
