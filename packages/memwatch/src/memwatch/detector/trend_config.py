"""The options of the ``trend`` rule and the checks that keep them consistent.

Kept apart from :mod:`memwatch.detector.trend` because the options are
documented, validated and tuned (``benchmarks/detector_figures.py``) on their
own, while the rule that reads them is read as an algorithm.
"""

from __future__ import annotations

import attrs

from memwatch.detector.findings import _raise_problems, _require

__all__ = ["TrendConfig"]

_MIB = 1024 * 1024


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
