"""What a trend window is judged on: its slots' floors, their noise, robust slopes, edges.

Pure functions of a window's slots (internal to :mod:`memwatch.detector`):
:class:`~memwatch.detector.trend.TrendDetector` keeps the slots and decides
which windows to judge; these measure one.
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memwatch.detector.trend_config import TrendConfig

__all__ = ["Slot", "blocks", "edges_rise", "floor_noise", "scatter", "theil_sen"]

Slot = tuple[float, int, int]
"""A slot: the time of its lowest reading, that reading, and how many samples it merged."""


def edges_rise(slots: list[Slot], rate: float, config: TrendConfig) -> bool:
    """Whether the heap rose before the first edge ended and again after ``fill_span`` more.

    The window's slots up to the current one are cut by time into a first
    edge, the rest, and two last edges (see ``fill_span``). A rise shows as
    a floor above the floor of the slots before it, by ``edge_margin`` times
    the uncertainty of a floor of an edge's slots (:func:`scatter`, with
    the window's own ``rate`` taken out).
    """
    start, now = slots[0][0], slots[-1][0]
    edge = (now - start - config.fill_span) / 3
    times = [slot[0] for slot in slots]
    bases = [slot[1] for slot in slots]
    first = bisect.bisect_left(times, start + edge)
    before = bisect.bisect_left(times, start + edge + config.fill_span)
    last = bisect.bisect_left(times, now - edge)
    fewest = min(first, last - before, len(slots) - last)
    if fewest < 1:
        return False
    margin = config.edge_margin * scatter(slots, config.segments, rate) * 2 / (fewest + 1)
    # Strictly above: on a clean plateau both floors are equal and the margin is 0.
    return (
        min(bases[first:]) - min(bases[:first]) > margin
        and min(bases[last:]) - min(bases[before:last]) > margin
    )


def _base(slot: Slot) -> int:
    return slot[1]


def theil_sen(points: list[Slot]) -> float:
    """The median of the slopes between every pair of points (times are distinct)."""
    slopes = sorted((b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.combinations(points, 2))
    return slopes[len(slopes) // 2]


def blocks(slots: list[Slot], most: int) -> list[Slot]:
    """``slots`` if there are at most ``most``, else the floors of ``most`` even blocks."""
    n = len(slots)
    if n <= most:
        return slots
    return [min(slots[i * n // most : (i + 1) * n // most], key=_base) for i in range(most)]


def floor_noise(slots: list[Slot], k: int, rate: float) -> float:
    """The uncertainty of a growth between two floors of ``k`` segments of ``slots``.

    Within each segment, the height of the median reading above the lowest one,
    once the window's own rise (``rate`` bytes a second) is taken out, measures
    how far readings scatter above the floor; its median over the segments is
    robust to one segment holding a jump. A floor of ``m`` readings is uncertain
    by about ``2 / (m + 1)`` of that height (exact for uniform scatter), and the
    growth spans ``k - 1`` segment steps.
    """
    n = len(slots)
    start = slots[0][0]
    heights = []
    for i in range(k):
        values = sorted(b - rate * (t - start) for t, b, _ in slots[i * n // k : (i + 1) * n // k])
        heights.append(values[len(values) // 2] - values[0])
    heights.sort()
    return heights[len(heights) // 2] * 2 * (k - 1) / (n / k + 1)


def scatter(slots: list[Slot], k: int, rate: float) -> float:
    """How far the readings of ``slots`` typically sit above their floor, in bytes.

    The median height of every reading above the lowest of its segment (one
    of ``k``), once the window's own rise (``rate`` bytes a second) is taken
    out: pooled over the window, so that it rests on every slot, not on five.
    """
    n = len(slots)
    start = slots[0][0]
    heights: list[float] = []
    for i in range(k):
        values = [b - rate * (t - start) for t, b, _ in slots[i * n // k : (i + 1) * n // k]]
        lowest = min(values)
        heights.extend(value - lowest for value in values)
    heights.sort()
    return heights[len(heights) // 2]
