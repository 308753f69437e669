"""What the collector measures and a detector reads: one heap sample.

A :class:`Sample` is the only thing the collector and the detector share, so it
lives apart from both: the collector builds samples without importing the
detector, and a detector reads them without knowing how they were taken.
"""

from __future__ import annotations

import attrs

__all__ = ["Sample"]


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
