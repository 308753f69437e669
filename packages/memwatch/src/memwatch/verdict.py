"""Which layer of memory grows: a pure function of the probe readings over one window.

A leak shows as process memory (RSS, or the cgroup's usage) growing. The other
readings over the same window say where it lives:

- **Python objects**: the census (gc-tracked objects) explains most of it.
- **untracked Python data**: str, bytes, numbers and other untracked values;
  the tracing window or the grown containers explain it, the census does not.
- **native memory**: malloc's in-use bytes grow and Python's allocators do
  not, or an extension reports the allocations in its own tracemalloc domain
  (numpy); libxml2-style C allocations no Python tool sees.
- **allocator retention**: RSS grows while malloc's in-use bytes and Python's
  blocks do not: freed memory kept by the allocator (fragmentation, arenas
  that cannot be returned).

No clock, no probe, no I/O here: the caller passes the figures, and the same
figures always give the same verdict, which is what the property tests drive.
"""

from __future__ import annotations

import attrs

from memwatch.explained import Layer, LayerReadings, Verdict
from memwatch.formatting import format_size

__all__ = ["Layer", "LayerReadings", "Verdict", "judge"]


#: Process growth below this many bytes over a window is not a leak to explain.
MIN_GROWTH = 1 << 20
#: Share of the process growth a layer must account for to be named.
EXPLAINS = 0.5
#: What Python's own figures must account for: RSS also carries one-off costs of
#: the capture itself (the census's arrays, arenas not yet reused).
PYTHON_EXPLAINS = 0.3
#: Bytes per Python allocator block assumed when blocks are the only evidence (a small object).
BLOCK_BYTES = 64


def judge(readings: LayerReadings) -> Verdict:  # noqa: PLR0911 - one return per row of the decision table
    """Name the layer of memory that grew over the window.

    Args:
        readings: The figures over one window.

    Returns:
        The verdict.
    """
    growth = readings.process_growth
    if growth < MIN_GROWTH:
        return Verdict(
            "none",
            f"process memory grew {format_size(max(growth, 0))} in "
            f"{readings.seconds:.0f}s: no leak to explain",
            readings,
        )
    share = _Share(growth)
    if not readings.census:
        return _without_census(share, readings)
    python_seen = max(
        readings.census_growth + readings.untracked_growth, readings.traced_growth or 0
    )
    # An extension's own domain is C memory even when its objects hold it (getsizeof of a
    # numpy array counts its buffer, so the grown containers see the same bytes).
    if share.explains(readings.foreign_traced_growth):
        return Verdict("native memory", _native_text(share, readings, foreign=True), readings)
    if share.explains(python_seen, PYTHON_EXPLAINS):
        if readings.census_growth >= EXPLAINS * python_seen:
            text = (
                f"Python objects: the census explains {share.of(readings.census_growth)} of "
                f"{format_size(growth)} process growth; see the types and their holders"
            )
            return Verdict("python objects", text, readings)
        text = (
            f"untracked Python data (str, bytes, numbers): {share.of(python_seen)} of "
            f"{format_size(growth)} process growth, which the census does not count; "
            "see the allocation sites and the grown containers"
        )
        return Verdict("untracked python data", text, readings)
    if share.explains(readings.blocks_growth * BLOCK_BYTES, PYTHON_EXPLAINS):
        text = (
            f"untracked Python data: Python's allocator holds {readings.blocks_growth:,} more "
            f"blocks while the census explains {share.of(python_seen)} of "
            f"{format_size(growth)} process growth; trace a window to find the lines"
        )
        return Verdict("untracked python data", text, readings)
    if readings.malloc_growth is not None and share.explains(readings.malloc_growth):
        return Verdict("native memory", _native_text(share, readings, foreign=False), readings)
    return Verdict("allocator retention", _retention_text(share, readings, python_seen), readings)


def _without_census(share: _Share, readings: LayerReadings) -> Verdict:
    """A leak report's verdict: Python's allocator and malloc against the growth, nothing else.

    Python objects and untracked data both live in Python's blocks, and long str
    or bytes (over 512 bytes) in malloc's: without a census or a trace only
    the allocators' shares are known, so the two together decide between
    memory someone holds and memory the allocator keeps.
    """
    python = readings.blocks_growth * BLOCK_BYTES
    malloc = readings.malloc_growth or 0
    if share.explains(python, PYTHON_EXPLAINS) or (
        share.explains(python + malloc) and python >= malloc
    ):
        text = (
            f"Python memory: Python's allocator holds {readings.blocks_growth:,} more blocks "
            f"(about {share.of(python)} of {format_size(readings.process_growth)} process "
            "growth): objects or untracked data (str, bytes), which the census tells apart"
        )
        return Verdict("python objects", text, readings)
    if share.explains(python + malloc):
        text = (
            f"native memory or large Python values: malloc's in-use bytes explain "
            f"{share.of(malloc)} of {format_size(readings.process_growth)} process growth: C "
            "allocations (numpy arrays, lxml/libxml2 trees) or str/bytes over 512 bytes, which "
            "the tracing window tells apart; `memray run --native` finds C allocations"
        )
        return Verdict("native memory", text, readings)
    return Verdict("allocator retention", _retention_text(share, readings, python), readings)


def _retention_text(share: _Share, readings: LayerReadings, python_seen: int) -> str:
    malloc = (
        "malloc's in-use bytes are not known here"
        if readings.malloc_growth is None
        else f"malloc's in-use bytes grew {format_size(max(readings.malloc_growth, 0))}"
    )
    return (
        f"allocator retention or fragmentation: process memory grew "
        f"{format_size(readings.process_growth)} while {malloc} and Python's allocator explains "
        f"{share.of(python_seen)}: freed memory the allocator keeps (try MALLOC_ARENA_MAX=2 or "
        "jemalloc)"
    )


def _native_text(share: _Share, readings: LayerReadings, *, foreign: bool) -> str:
    if foreign:
        seen = (
            f"an extension's own tracemalloc domain (numpy-style) holds "
            f"{share.of(readings.foreign_traced_growth)}"
        )
    else:
        seen = f"malloc's in-use bytes explain {share.of(readings.malloc_growth or 0)}"
    return (
        f"native memory: {seen} of {format_size(readings.process_growth)} process growth "
        "while Python's allocators do not grow with it: C allocations (numpy arrays, lxml/"
        "libxml2 trees, other extensions); run the service under `memray run --native` to "
        "find them"
    )


@attrs.frozen
class _Share:
    growth: int

    def explains(self, part: int, threshold: float = EXPLAINS) -> bool:
        return part >= threshold * self.growth

    def of(self, part: int) -> str:
        percent = max(0.0, 100.0 * part / self.growth)
        return f"{min(percent, 999.0):.0f}%"
