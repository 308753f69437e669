"""The probes a layer verdict reads at one moment: process memory, malloc, Python's allocator.

A capture (:mod:`memwatch.explain`) reads them at its start and end, a leak
report (:mod:`memwatch.leak_layers`) from a ring of recent readings. The
probes are made once per process (:func:`make_probes`): made during a capture,
their ctypes types would show in its diff as new objects.
"""

from __future__ import annotations

import functools
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING

import attrs

from memwatch.census import bookkeeping
from memwatch.probes import Mallinfo2Probe, PeakRssProbe, ProbeUnavailableError, RssProbe

if TYPE_CHECKING:
    from memwatch.probes import Probe

__all__ = ["ProbeReading", "make_probes", "read_probes"]


@bookkeeping
@attrs.frozen
class ProbeReading:
    """The probes at one moment (bytes; ``None`` where a probe is not available here).

    Attributes:
        at: Monotonic seconds.
        process: RSS (or peak RSS).
        malloc: mallinfo2's in-use bytes.
        blocks: ``sys.getallocatedblocks()`` (a count).
        tracing: tracemalloc's own memory (its traces), part of ``process`` and ``malloc``.
    """

    at: float
    process: int | None
    malloc: int | None
    blocks: int
    tracing: int = 0


@functools.cache
def _process_probe() -> Probe | None:
    try:
        return RssProbe()
    except ProbeUnavailableError:
        pass
    try:
        return PeakRssProbe()
    except ProbeUnavailableError:
        return None


@functools.cache
def _malloc_probe() -> Probe | None:
    try:
        return Mallinfo2Probe()
    except ProbeUnavailableError:
        return None


def make_probes() -> tuple[Probe | None, Probe | None]:
    """The process's RSS (else peak RSS) probe and its mallinfo2 probe, made once.

    Returns:
        ``(process, malloc)``; ``None`` for a probe this platform lacks.
    """
    return _process_probe(), _malloc_probe()


def read_probes(
    process: Probe | None, malloc: Probe | None, *, at: float | None = None
) -> ProbeReading:
    """Read the process and malloc probes and Python's allocator, now.

    Args:
        process: RSS (or peak RSS) probe, or ``None``.
        malloc: mallinfo2 probe, or ``None``.
        at: The time to file the reading under; ``time.monotonic()`` by default.

    Returns:
        The reading; a probe that fails reads as ``None``.
    """
    return ProbeReading(
        at=time.monotonic() if at is None else at,
        process=_read(process),
        malloc=_read(malloc),
        blocks=sys.getallocatedblocks(),
        tracing=tracemalloc.get_tracemalloc_memory(),
    )


def _read(probe: Probe | None) -> int | None:
    if probe is None:
        return None
    try:
        return probe.read()
    except Exception:  # noqa: BLE001 - a probe that fails leaves its figure unknown
        return None
