"""Node memwatch's leak rule: the heap grew after N consecutive full collections.

It is the ``"consecutive"`` mode of :func:`~memwatch.detector.make_detector`
(``"memwatch"`` is the same mode under its old name). Only samples taken right
after a full collection count, so on CPython, where full collections are rare,
it is slow to see anything; the ``"trend"`` mode is the default for that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from memwatch.detector.findings import (
    ANCIENT_PERIOD,
    RECENT_PERIOD,
    LeakFinding,
    StatsFinding,
    _Baselines,
    _check_time,
    _raise_problems,
    _require,
    _stats,
    _tail,
)

if TYPE_CHECKING:
    from memwatch.samples import Sample

__all__ = ["ConsecutiveGrowthConfig", "ConsecutiveGrowthDetector"]


@attrs.frozen
class ConsecutiveGrowthConfig:
    """Options of the ``consecutive`` mode (Node memwatch's constants).

    Attributes:
        consecutive_growth: Full-collection samples that must each grow for a leak (N).
        recent_period: Samples averaged into the recent baseline (``estimated_base``).
        ancient_period: Samples averaged into the long-run baseline.
        settle_samples: Samples before min/max are recorded.

    Raises:
        ValueError: if an option is out of range; the message names each one.
    """

    consecutive_growth: int = 5
    recent_period: int = RECENT_PERIOD
    ancient_period: int = ANCIENT_PERIOD
    settle_samples: int = 3

    def __attrs_post_init__(self) -> None:
        """Validate the options."""
        problems: list[str] = []
        _require(problems, self.consecutive_growth >= 1, "consecutive_growth must be >= 1")
        _require(problems, self.recent_period >= 1, "recent_period must be >= 1")
        _require(problems, self.ancient_period >= 1, "ancient_period must be >= 1")
        _require(problems, self.settle_samples >= 1, "settle_samples must be >= 1")
        _raise_problems("ConsecutiveGrowthConfig", problems)


class ConsecutiveGrowthDetector:
    """Node memwatch's leak rule: the heap grew after N consecutive full collections.

    Only samples taken right after a full collection are accepted; the others
    yield no findings. ``estimated_base`` is the recent baseline (a running mean
    over the first ``recent_period`` samples, then an exponential moving average
    with that period), ``usage_trend`` compares it with the long-run baseline
    (``ancient_period``), and min/max are recorded from the ``settle_samples``-th
    sample on, as in memwatch.

    Defects of the original that this class fixes:

    * Growth and duration are measured from the last sample *before* the growth
      began; memwatch measured from the first growing sample, so it under-reported
      both by one step.
    * The first sample is not counted as growth; memwatch compared it with 0.
    * A window of 0 s does not divide by zero (see :func:`~memwatch.detector.hourly_rate`).
    * The N in the reason is the configured N; memwatch always printed 5.
    * ``usage_trend`` can be negative; memwatch subtracted unsigned integers,
      so a shrinking heap wrapped around to a huge percentage.
    * Over the first ``recent_period`` samples the baselines are running means;
      memwatch meant a weighted mean there, but integer division made its weight
      0, so its baseline just copied the latest sample.
    """

    # The name status reports (``watcher.mode``); the HTTP contract documents
    # "memwatch" for this rule, so it stays whichever mode name built the detector.
    mode = "memwatch"

    def __init__(self, config: ConsecutiveGrowthConfig | None = None) -> None:
        """Create a detector with ``config`` (defaults: memwatch's constants)."""
        self.config = config if config is not None else ConsecutiveGrowthConfig()
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

    def feed(self, sample: Sample) -> list[StatsFinding | LeakFinding]:
        """Take one sample; full-collection samples yield a stats finding and maybe a leak.

        Raises:
            ValueError: if the sample is older than the previous one.
        """
        if not sample.full:
            return []
        _check_time(None if self._last is None else self._last.time, sample)
        findings: list[StatsFinding | LeakFinding] = []
        previous = self._last
        if previous is not None and sample.heap_bytes > previous.heap_bytes:
            if self._run == 0:
                self._run_start_time = previous.time
                self._run_start_base = previous.heap_bytes
            self._run += 1
            if self._run >= self.config.consecutive_growth:
                findings.append(self._leak(sample))
                self._run = 0
        else:
            self._run = 0
        self._last = sample
        self._bases.update(sample.heap_bytes)
        if self._bases.count >= self.config.settle_samples:
            heap = sample.heap_bytes
            self._min = heap if self._min == 0 else min(self._min, heap)
            self._max = max(self._max, heap)
        findings.insert(0, _stats(sample, self._bases, self._min, self._max))
        return findings

    def _leak(self, sample: Sample) -> LeakFinding:
        growth = sample.heap_bytes - self._run_start_base
        duration = sample.time - self._run_start_time
        n = self.config.consecutive_growth
        return LeakFinding(
            time=sample.time,
            start=self._run_start_time,
            end=sample.time,
            start_base=self._run_start_base,
            end_base=sample.heap_bytes,
            growth=growth,
            reason=f"heap growth over {n} consecutive GCs {_tail(growth, duration)}",
        )
