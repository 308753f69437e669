"""The leak detector: heap samples in, ``stats`` and ``leak`` findings out.

A detector is a pure, deterministic state machine. It never reads a clock, runs
the collector or does I/O: every :class:`~memwatch.samples.Sample` carries its
own time. Each accepted sample yields a :class:`StatsFinding`; when the mode's
rule holds, a :class:`LeakFinding` follows it (``Finding`` is either). Two
modes exist:

* ``"trend"`` (the default, :class:`TrendDetector`): uses every sample, ignores a
  warm-up period, and reports when the *floor* of the heap rises steadily across
  a window. It is built for CPython, where reference counting frees most garbage
  at once and full collections are rare.
* ``"consecutive"`` (:class:`ConsecutiveGrowthDetector`): Node memwatch's rule,
  growth over N consecutive full-collection samples, with its known defects
  fixed. ``"memwatch"`` is its old name and builds the same detector, whose
  ``mode`` (what status reports) stays ``"memwatch"``.

Use :func:`make_detector` to build one by name. The package is laid out along
that split: ``findings`` (the outputs and what both rules share),
``consecutive``, ``trend`` and ``trend_config``. The names of earlier releases
stay importable from here as aliases: ``StatsEvent``, ``LeakEvent`` and
``Event`` for the findings, ``MemwatchDetector`` and ``MemwatchConfig`` for the
consecutive rule, and ``Sample`` (now in :mod:`memwatch.samples`).
"""

from __future__ import annotations

from typing import Any

import attrs

from memwatch.detector.consecutive import ConsecutiveGrowthConfig, ConsecutiveGrowthDetector
from memwatch.detector.findings import Detector, Finding, LeakFinding, StatsFinding, hourly_rate
from memwatch.detector.trend import TrendDetector
from memwatch.detector.trend_config import TrendConfig

# Sample lived here before it moved to memwatch.samples; the explicit alias re-exports it.
from memwatch.samples import Sample as Sample

__all__ = [
    "ConsecutiveGrowthConfig",
    "ConsecutiveGrowthDetector",
    "Detector",
    "Finding",
    "LeakFinding",
    "StatsFinding",
    "TrendConfig",
    "TrendDetector",
    "hourly_rate",
    "make_detector",
]

# Earlier names, kept so that code written against them keeps working; left out
# of __all__ so that the reference documents each thing once.
StatsEvent = StatsFinding
LeakEvent = LeakFinding
Event = Finding
MemwatchDetector = ConsecutiveGrowthDetector
MemwatchConfig = ConsecutiveGrowthConfig

# "memwatch" comes before "consecutive" so that error messages keep listing the
# modes in the order earlier releases did.
_MODES: dict[str, tuple[type[ConsecutiveGrowthDetector | TrendDetector], type[Any]]] = {
    "trend": (TrendDetector, TrendConfig),
    "memwatch": (ConsecutiveGrowthDetector, ConsecutiveGrowthConfig),
    "consecutive": (ConsecutiveGrowthDetector, ConsecutiveGrowthConfig),
}


def make_detector(mode: str = "trend", **options: object) -> Detector:
    """Build a detector by mode name, with its config options as keywords.

    Args:
        mode: ``"trend"`` (the default), ``"consecutive"`` or its old name
            ``"memwatch"``.
        **options: Fields of :class:`TrendConfig` or :class:`ConsecutiveGrowthConfig`.

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
