"""The options of the ``trend`` rule and the checks that keep them consistent.

Kept apart from :mod:`memwatch.detector.trend` because the options are
documented, validated and tuned (``benchmarks/detector_figures.py``) on their
own, while the rule that reads them is read as an algorithm. Every time is in
seconds, so the rule means the same whatever the watcher's sample interval.
"""

from __future__ import annotations

import attrs

from memwatch.detector.findings import _raise_problems, _require

__all__ = ["TrendConfig"]

_MIB = 1024 * 1024


@attrs.frozen
class TrendConfig:
    """Options of the ``trend`` mode; every time is in seconds.

    The defaults are chosen for heaps of 25-300 MB whose probe reading wanders by
    up to ±5% from one sample to the next (allocation churn), sampled every 1-5 s;
    ``benchmarks/detector_figures.py`` measures them (latency of 10 kB/s to 1 MB/s
    leaks, false positives over 10,000 stable ten-minute series and 500 stable
    hours, cost of a sample).

    Attributes:
        warmup: Seconds after the first sample whose samples are ignored.
        resolution: Seconds per window slot; samples closer than this share a slot,
            which keeps its lowest reading. The window is judged once per slot.
        window: Seconds of slots kept: the longest span judged (15 minutes).
        quick_span: The shortest window judged, in seconds. A window shorter than
            ``min_span`` must show at least ``quick_growth``.
        quick_growth: Least growth of the floor, relative to the first floor, of a
            window shorter than ``min_span``: strong growth (0.8: the heap grew by
            four fifths) is believed after ``quick_span``; a cache that fills once
            rarely adds that much.
        min_span: The shortest window in which weaker growth is believed, in
            seconds: 150 s, longer than a cache that fills for two minutes.
        recent_span: The shortest recent window of weaker growth judged by the
            window's tests alone (then twice, four times as long ...), in seconds,
            for a leak that starts long after the process: the whole window would
            hold a flat past beside it. 300 s: a cache that starts filling, or a
            slow sawtooth, looks like a leak for minutes.
        late_ratio: Recent windows from ``min_span`` up to ``recent_span`` are
            judged too, each ``late_ratio`` times as long as the one before (150 s,
            157.5 s, 165 s ... 297 s), so that a late leak of weaker growth is
            believed soon after ``min_span``, not after ``recent_span``. Such a
            window must also pass the edge tests (``fill_span``).
        fill_span: The longest cache fill, in seconds, that such a window must
            tell from a leak (120 s). A window of ``d`` seconds is cut into three
            edges of ``(d - fill_span) / 3``: the first, and the last two with
            ``fill_span`` between them and the first. The floor of the rest of the
            window must sit above the first edge's (the heap rose before the first
            edge ended), and the last edge's above the one before it (it rose
            again after ``fill_span`` more): a fill that rises for ``fill_span``
            or less cannot do both.
        edge_margin: How many times a floor's own uncertainty each edge's rise
            must exceed: the median height of the window's readings above their
            segment's floor, once its rise is taken out, times ``2 / (m + 1)``
            for an edge of ``m`` slots. 6: on a flat heap with ±5% noise each
            test passes by chance in about 2 of 1,000 judgements, and a fill
            passes one of the two at most; a heap rising by a 300th of itself a
            second passes both in a window of 180 s nine times in ten.
        segments: Parts the window is cut into; the floor (lowest reading) of each
            must not fall below the previous one.
        min_rate: Least growth worth reporting, in bytes per hour.
        min_growth: Least growth of the floor over a whole ``window``, relative to
            the first floor; a window of ``d`` seconds needs
            ``min_growth * window / d`` (2.8% over 15 minutes, 17% over 150 s):
            the shorter the window, the stronger the growth it must show.
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
            height of readings above their segment's floor once the window's own
            rise is taken out, scaled by ``2 / (slots per segment + 1)`` per floor
            (noise, sawtooth, churn).
        confirm: Seconds for which every judgement must pass before a report (10 s:
            three judgements of 5 s slots); 0 reports on the first.

    Raises:
        ValueError: if an option is out of range; the message names each one.
    """

    warmup: float = 10.0
    resolution: float = 5.0
    window: float = 900.0
    quick_span: float = 30.0
    quick_growth: float = 0.8
    min_span: float = 150.0
    recent_span: float = 300.0
    late_ratio: float = 1.05
    fill_span: float = 120.0
    edge_margin: float = 6.0
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
    confirm: float = 10.0

    def __attrs_post_init__(self) -> None:
        """Validate the options."""
        problems: list[str] = []
        _require(problems, self.warmup >= 0, "warmup must be >= 0")
        _require(problems, self.resolution > 0, "resolution must be > 0")
        _require(problems, self.segments >= 2, "segments must be >= 2")
        _require(problems, self.parts >= 1, "parts must be >= 1")
        _require(
            problems,
            self.quick_span >= self.resolution * (self.least_slots - 1),
            "quick_span must hold a slot per segment and two per part",
        )
        _require(problems, self.min_span >= self.quick_span, "min_span must be >= quick_span")
        _require(problems, self.window >= self.min_span, "window must be >= min_span")
        _require(problems, self.recent_span >= self.min_span, "recent_span must be >= min_span")
        _require(problems, self.late_ratio > 1, "late_ratio must be > 1")
        _require(problems, self.fill_span >= 0, "fill_span must be >= 0")
        _require(problems, self.edge_margin >= 0, "edge_margin must be >= 0")
        _require(problems, self.quick_growth > 0, "quick_growth must be > 0")
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
        _require(problems, self.confirm >= 0, "confirm must be >= 0")
        _raise_problems("TrendConfig", problems)

    @property
    def least_slots(self) -> int:
        """How few slots a window may hold and still be judged (one per segment, two per part)."""
        return max(self.segments, 2 * self.parts)

    def spans(self, held: float) -> list[float]:
        """The recent window spans judged besides every slot held, longest first.

        ``quick_span`` and its doublings under ``min_span`` (strong growth only),
        ``min_span`` and its multiples by ``late_ratio`` under ``recent_span``
        (edge tests too, see :meth:`edged`), and ``recent_span`` and its
        doublings, while shorter than ``held`` seconds: a leak that starts long
        after the process did shares the whole window with a flat past that
        hides it (a flat segment, a flat part); the most recent spans hold only
        the leak.
        """
        found: list[float] = []
        span = self.quick_span
        while span < min(held, self.min_span):
            found.append(span)
            span *= 2
        span = self.min_span
        while span < min(held, self.recent_span):
            found.append(span)
            span *= self.late_ratio
        span = self.recent_span
        while span < held:
            found.append(span)
            span *= 2
        return sorted(found, reverse=True)

    def edged(self, span: float) -> bool:
        """Whether a recent window of ``span`` seconds must pass the edge tests (``fill_span``)."""
        return self.min_span <= span < self.recent_span
