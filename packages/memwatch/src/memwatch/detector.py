"""The leak detector: heap samples in, ``stats`` and ``leak`` events out.

A detector is a pure, deterministic state machine. It never reads a clock, runs
the collector or does I/O: every sample carries its own time. Two modes exist:

* ``"trend"`` (the default, :class:`TrendDetector`): uses every sample, ignores a
  warm-up period, and reports when the *floor* of the heap rises steadily across
  a window. It is built for CPython, where reference counting frees most garbage
  at once and full collections are rare.
* ``"memwatch"`` (:class:`MemwatchDetector`): Node memwatch's rule, growth over
  N consecutive full-collection samples, with its known defects fixed.

Use :func:`make_detector` to build one by name.
"""

from __future__ import annotations

import collections
import itertools
import math
from typing import Any, Protocol

import attrs

from memwatch.formatting import format_duration, format_rate, format_size

__all__ = [
    "Detector",
    "Event",
    "LeakEvent",
    "MemwatchConfig",
    "MemwatchDetector",
    "Sample",
    "StatsEvent",
    "TrendConfig",
    "TrendDetector",
    "hourly_rate",
    "make_detector",
]

_MIB = 1024 * 1024


@attrs.frozen
class Sample:
    """One heap measurement, as the collector hands it to a detector.

    Attributes:
        time: Monotonic seconds; the detector never reads a clock.
        heap_bytes: The probe's reading, in bytes.
        full: Whether it was taken right after a full (oldest-generation) collection.
        num_full_gc: Cumulative full collections when the sample was taken.
        num_inc_gc: Cumulative younger-generation collections when the sample was taken.
        heap_compactions: Cumulative collections that reclaimed unreachable objects.
    """

    time: float
    heap_bytes: int
    full: bool
    num_full_gc: int = 0
    num_inc_gc: int = 0
    heap_compactions: int = 0


@attrs.frozen
class StatsEvent:
    """The ``stats`` event: counters and baselines after one accepted sample.

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
class LeakEvent:
    """The ``leak`` event: the heap's baseline grew from ``start`` to ``end``.

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


Event = StatsEvent | LeakEvent


class Detector(Protocol):
    """What the watcher needs from a detector."""

    mode: str

    def feed(self, sample: Sample) -> list[Event]:
        """Take one sample; return a stats event per accepted sample and at most one leak."""
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


def _stats(sample: Sample, bases: _Baselines, low: int, high: int) -> StatsEvent:
    return StatsEvent(
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


@attrs.frozen
class MemwatchConfig:
    """Options of the ``memwatch`` mode (Node memwatch's constants).

    Attributes:
        consecutive_growth: Full-collection samples that must each grow for a leak (N).
        recent_period: Samples averaged into the recent baseline (``estimated_base``).
        ancient_period: Samples averaged into the long-run baseline.
        settle_samples: Samples before min/max are recorded.

    Raises:
        ValueError: if an option is out of range; the message names each one.
    """

    consecutive_growth: int = 5
    recent_period: int = 10
    ancient_period: int = 120
    settle_samples: int = 3

    def __attrs_post_init__(self) -> None:
        """Validate the options."""
        problems: list[str] = []
        _require(problems, self.consecutive_growth >= 1, "consecutive_growth must be >= 1")
        _require(problems, self.recent_period >= 1, "recent_period must be >= 1")
        _require(problems, self.ancient_period >= 1, "ancient_period must be >= 1")
        _require(problems, self.settle_samples >= 1, "settle_samples must be >= 1")
        _raise_problems("MemwatchConfig", problems)


class MemwatchDetector:
    """Node memwatch's leak rule: the heap grew after N consecutive full collections.

    Only samples taken right after a full collection are accepted; the others
    yield no events. ``estimated_base`` is the recent baseline (a running mean
    over the first ``recent_period`` samples, then an exponential moving average
    with that period), ``usage_trend`` compares it with the long-run baseline
    (``ancient_period``), and min/max are recorded from the ``settle_samples``-th
    sample on, as in memwatch.

    Defects of the original that this class fixes:

    * Growth and duration are measured from the last sample *before* the growth
      began; memwatch measured from the first growing sample, so it under-reported
      both by one step.
    * The first sample is not counted as growth; memwatch compared it with 0.
    * A window of 0 s does not divide by zero (see :func:`hourly_rate`).
    * The N in the reason is the configured N; memwatch always printed 5.
    * ``usage_trend`` can be negative; memwatch subtracted unsigned integers,
      so a shrinking heap wrapped around to a huge percentage.
    * Over the first ``recent_period`` samples the baselines are running means;
      memwatch meant a weighted mean there, but integer division made its weight
      0, so its baseline just copied the latest sample.
    """

    mode = "memwatch"

    def __init__(self, config: MemwatchConfig | None = None) -> None:
        """Create a detector with ``config`` (defaults: memwatch's constants)."""
        self.config = config if config is not None else MemwatchConfig()
        self.reset()

    def reset(self) -> None:
        """Forget every sample seen."""
        self._bases = _Baselines(self.config.recent_period, self.config.ancient_period)
        self._last: Sample | None = None
        self._run = 0
        self._run_start_time = 0.0
        self._run_start_base = 0
        self._min = 0
        self._max = 0

    def feed(self, sample: Sample) -> list[Event]:
        """Take one sample; full-collection samples yield a stats event and maybe a leak.

        Raises:
            ValueError: if the sample is older than the previous one.
        """
        if not sample.full:
            return []
        _check_time(None if self._last is None else self._last.time, sample)
        events: list[Event] = []
        previous = self._last
        if previous is not None and sample.heap_bytes > previous.heap_bytes:
            if self._run == 0:
                self._run_start_time = previous.time
                self._run_start_base = previous.heap_bytes
            self._run += 1
            if self._run >= self.config.consecutive_growth:
                events.append(self._leak(sample))
                self._run = 0
        else:
            self._run = 0
        self._last = sample
        self._bases.update(sample.heap_bytes)
        if self._bases.count >= self.config.settle_samples:
            heap = sample.heap_bytes
            self._min = heap if self._min == 0 else min(self._min, heap)
            self._max = max(self._max, heap)
        events.insert(0, _stats(sample, self._bases, self._min, self._max))
        return events

    def _leak(self, sample: Sample) -> LeakEvent:
        growth = sample.heap_bytes - self._run_start_base
        duration = sample.time - self._run_start_time
        n = self.config.consecutive_growth
        return LeakEvent(
            time=sample.time,
            start=self._run_start_time,
            end=sample.time,
            start_base=self._run_start_base,
            end_base=sample.heap_bytes,
            growth=growth,
            reason=f"heap growth over {n} consecutive GCs {_tail(growth, duration)}",
        )


@attrs.frozen
class TrendConfig:
    """Options of the ``trend`` mode.

    The defaults are chosen for 5 s samples and heaps of 30-300 MB whose probe
    reading wanders by up to ±5% (allocation churn); ``benchmarks/detector_figures.py``
    measures them (latency of a 1 MB/s and a 1 MiB/min leak, false positives over
    10,000 stable ten-minute series, cost of a sample).

    Attributes:
        sample_interval: Seconds per window slot; samples closer than this share a
            slot, which keeps its lowest reading.
        warmup: Seconds after the first sample whose samples are ignored.
        window: Slots kept (the longest span examined): 180 x 5 s = 15 minutes.
        min_samples: Slots needed before a decision (20 x 5 s = 100 s).
        segments: Parts the window is cut into; the floor (lowest reading) of each
            must not fall below the previous one.
        min_rate: Least growth worth reporting, in bytes per hour.
        min_growth: Least growth of the floor over a full window, relative to the
            first floor; a window of ``n`` slots needs ``min_growth * window / n``
            (short windows are stricter: 25% at 20 slots, 2.8% at 180).
        min_step_share: Least rise of every segment's floor, as a share of an even
            split of the growth (0: a floor may stay level but never fall).
        max_step_share: Largest share of the growth one segment may contribute;
            one jump (a cache filling once) contributes all of it.
        max_pair_ratio: Largest growth two adjacent segments may contribute
            together, relative to an even split (``2 / (segments - 1)`` of the
            growth); a jump that straddles a segment border splits over two.
            1.4 allows 70% of the growth to two of five segments.
        parts: Parts the window is cut into for the slope test: the robust
            (Theil-Sen) slope of each part must keep up with the window's rate. A
            jump sits in one part and leaves another flat.
        part_points: Most points per part in the slope test; longer parts are
            reduced to this many block floors, which bounds the cost.
        min_part_rate: Least slope of each part, as a share of the window's rate.
        noise_margin: How many times the floors' own uncertainty the growth must
            exceed. The uncertainty is estimated from the window: the typical
            height of readings above their segment's floor, scaled by
            ``2 / (slots per segment + 1)`` per floor (noise, sawtooth, churn).
        confirm: Consecutive slots on which every test must hold before a report.
        recent_window: Slots of the shortest recent window also judged on its own
            (then twice as many, four times ...), for a leak that starts long after
            the process: the whole window would hold a flat past beside it for up to
            ``window`` slots. 60 x 5 s = 5 minutes: growth that lasts less, a cache
            filling for a minute or two, is not reported. 0 judges the whole window only.

    Raises:
        ValueError: if an option is out of range; the message names each one.
    """

    sample_interval: float = 5.0
    warmup: float = 10.0
    window: int = 180
    min_samples: int = 20
    segments: int = 5
    min_rate: float = 16.0 * _MIB
    min_growth: float = 0.028
    min_step_share: float = 0.0
    max_step_share: float = 0.45
    max_pair_ratio: float = 1.4
    parts: int = 2
    part_points: int = 12
    min_part_rate: float = 0.45
    noise_margin: float = 2.5
    confirm: int = 3
    recent_window: int = 60

    def __attrs_post_init__(self) -> None:
        """Validate the options."""
        problems: list[str] = []
        _require(problems, self.sample_interval > 0, "sample_interval must be > 0")
        _require(problems, self.warmup >= 0, "warmup must be >= 0")
        _require(problems, self.segments >= 2, "segments must be >= 2")
        _require(problems, self.parts >= 1, "parts must be >= 1")
        _require(
            problems,
            self.min_samples >= 2 * max(self.segments, self.parts),
            "min_samples must be >= 2 * segments and >= 2 * parts",
        )
        _require(problems, self.window >= self.min_samples, "window must be >= min_samples")
        _require(problems, self.min_rate >= 0, "min_rate must be >= 0")
        _require(problems, self.min_growth > 0, "min_growth must be > 0")
        _require(
            problems,
            1 / max(self.segments - 1, 1) <= self.max_step_share <= 1,
            "max_step_share must be between 1/(segments - 1) and 1",
        )
        _require(problems, self.max_pair_ratio >= 1, "max_pair_ratio must be >= 1")
        _require(problems, 0 <= self.min_step_share <= 1, "min_step_share must be between 0 and 1")
        _require(problems, self.part_points >= 2, "part_points must be >= 2")
        _require(problems, 0 <= self.min_part_rate <= 1, "min_part_rate must be between 0 and 1")
        _require(problems, self.noise_margin >= 0, "noise_margin must be >= 0")
        _require(problems, self.confirm >= 1, "confirm must be >= 1")
        _require(
            problems,
            self.recent_window == 0 or self.recent_window >= self.min_samples,
            "recent_window must be 0 or >= min_samples",
        )
        _raise_problems("TrendConfig", problems)


_Slot = tuple[float, int]


class TrendDetector:
    """Reports a leak when the heap's floor rises steadily across a window.

    Every sample is accepted and yields a stats event (``estimated_base`` and
    ``usage_trend`` as in memwatch mode, over all samples). Samples within the
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
        self._bases = _Baselines(MemwatchConfig().recent_period, MemwatchConfig().ancient_period)
        self._first: float | None = None
        self._last: float | None = None
        self._slots: collections.deque[_Slot] = collections.deque(maxlen=self.config.window)
        self._slot_start = 0.0
        self._warm = False
        self._min = 0
        self._max = 0
        self._streak = 0
        self._streak_slot = -1.0

    def feed(self, sample: Sample) -> list[Event]:
        """Take one sample; return its stats event and, when the floor rose steadily, a leak.

        Raises:
            ValueError: if the sample is older than the previous one.
        """
        _check_time(self._last, sample)
        self._last = sample.time
        if self._first is None:
            self._first = sample.time
        self._bases.update(sample.heap_bytes)
        events: list[Event] = []
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
                events.append(leak)
                self._slots = collections.deque([self._slots[-1]], maxlen=self.config.window)
        events.insert(0, _stats(sample, self._bases, self._min, self._max))
        return events

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

    def _judge(self, sample: Sample) -> LeakEvent | None:
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
        return LeakEvent(
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


_MODES: dict[str, tuple[type[MemwatchDetector | TrendDetector], type[Any]]] = {
    "trend": (TrendDetector, TrendConfig),
    "memwatch": (MemwatchDetector, MemwatchConfig),
}


def make_detector(mode: str = "trend", **options: object) -> Detector:
    """Build a detector by mode name, with its config options as keywords.

    Args:
        mode: ``"trend"`` (the default) or ``"memwatch"``.
        **options: Fields of :class:`TrendConfig` or :class:`MemwatchConfig`.

    Returns:
        A fresh detector.

    Raises:
        ValueError: for an unknown mode or option (the message lists the valid
            ones) or an option out of range.
    """
    if mode not in _MODES:
        raise ValueError(f"unknown detector mode {mode!r}; choose one of: {', '.join(_MODES)}")
    detector_class, config_class = _MODES[mode]
    valid = [field.name for field in attrs.fields(config_class)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) for mode {mode!r}: {', '.join(unknown)}; "
            f"valid options: {', '.join(valid)}"
        )
    detector: Detector = detector_class(config_class(**options))
    return detector
