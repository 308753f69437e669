r"""Value objects for every body of memwatch's HTTP contract.

Python attribute names are snake_case; where the JSON key differs (the
contract's ``lastEvent``, the ``"+"``/``"-"`` of a diff detail; see the HTTP
reference, docs/http-api.md) the field carries its JSON name in
``metadata["json"]`` and :mod:`memwatch.converter` applies it. Every class with
a ``size_bytes`` field also gets a derived ``size`` string in JSON
(``"1.78 mb"``); it is never stored.

Every ``str`` field is made encodable as UTF-8 when a model is built: each code
point UTF-8 cannot encode becomes its backslash escape (``memwatch.encodable``).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

from memwatch.encodable import encodable, encodable_strings, json_key
from memwatch.explained import GrownContainer, TypeRetention, Verdict
from memwatch.process_models import MemoryInfo, ProcessInfo, StoreInfo, WatcherInfo

__all__ = [
    "AllocationSite",
    "DiffDetail",
    "EventKind",
    "GCResult",
    "GCStats",
    "HeapChange",
    "HeapDiffReport",
    "HeapSummary",
    "LeakReport",
    "Message",
    "Problem",
    "Profile",
    "ProfileIdList",
    "ProfileList",
    "ProfileState",
    "ProfileSummary",
    "ProfileTrigger",
    "Status",
    "encodable",
]

EventKind = Literal["", "stats", "leak", "diff"]
ProfileState = Literal["running", "complete", "failed"]
ProfileTrigger = Literal["manual", "leak", "limit"]


@attrs.frozen(field_transformer=encodable_strings)
class GCStats:
    """The ``stats`` event: collection counts and the heap's baseline (memwatch's ``lastGC``).

    Attributes:
        timestamp: When the sample behind these figures was taken (``None``: never).
        num_full_gc: Full (oldest generation) collections since the watcher started.
        num_inc_gc: Younger-generation collections since the watcher started.
        heap_compactions: Collections that reclaimed unreachable objects. CPython never
            moves objects; this is the closest analogue of V8's compacting collections.
        estimated_base: The detector's smoothed estimate of the heap baseline, in bytes.
        current_base: The heap measured at the latest sample, in bytes.
        min: The lowest baseline seen after warm-up, in bytes.
        max: The highest baseline seen after warm-up, in bytes.
        usage_trend: How far the recent baseline sits above the long-run one, in percent.
    """

    timestamp: dt.datetime | None = None
    num_full_gc: int = 0
    num_inc_gc: int = 0
    heap_compactions: int = 0
    estimated_base: int = 0
    current_base: int = 0
    min: int = 0
    max: int = 0
    usage_trend: float = 0.0


@attrs.frozen(field_transformer=encodable_strings)
class LeakReport:
    """The ``leak`` event: the heap's baseline grew between ``start`` and ``end``.

    Attributes:
        timestamp: When the leak was reported (``None``: never).
        start: Where the growth began.
        end: The sample that confirmed it.
        growth: Baseline bytes gained between ``start`` and ``end``.
        reason: memwatch-style explanation, e.g.
            ``"heap growth over 5 consecutive GCs (20s) - 11.67 mb/hr"``.
        verdict: Which layer of memory grew over the window, judged from the
            probes alone (no census yet), so preliminary: the profile captured
            on the leak confirms it (:mod:`memwatch.leak_layers`).
    """

    timestamp: dt.datetime | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    growth: int = 0
    reason: str = ""
    verdict: Verdict = attrs.Factory(Verdict)


@attrs.frozen(field_transformer=encodable_strings)
class HeapSummary:
    """Totals of one heap census: object count and their shallow size."""

    nodes: int = 0
    size_bytes: int = 0


@attrs.frozen(field_transformer=encodable_strings)
class DiffDetail:
    """One type's line in a heap diff.

    Attributes:
        what: The type's name, ``module.QualName`` outside builtins.
        size_bytes: Net change of that type's shallow bytes.
        allocated: Objects of that type present after but not before (JSON ``"+"``).
        freed: Objects of that type present before but not after (JSON ``"-"``).
    """

    what: str
    size_bytes: int
    allocated: int = json_key("+")
    freed: int = json_key("-")


@attrs.frozen(field_transformer=encodable_strings)
class AllocationSite:
    """A source line whose tracemalloc-traced memory changed between two censuses.

    Attributes:
        file: The source file.
        line: The line number in ``file``.
        size_bytes: Net change of the bytes allocated there and still alive.
        count: Net change of the number of live blocks allocated there.
        library: When a tracing window saw the allocation happen inside a
            library, its innermost frame (``"logging/__init__.py:1356"``) called
            from ``file:line``; ``""`` otherwise.
    """

    file: str
    line: int
    size_bytes: int
    count: int
    library: str = ""


@attrs.frozen(field_transformer=encodable_strings)
class HeapChange:
    """What changed between two censuses (the ``change`` of memwatch's HeapDiff).

    Attributes:
        size_bytes: Net change of the heap's shallow size.
        freed_nodes: Objects present before but not after.
        allocated_nodes: Objects present after but not before.
        details: Per-type changes: growth first, then shrinkage, each largest first.
        details_capped: True when ``details`` was cut to the configured number of types.
        allocation_sites: The lines whose live memory grew most, largest first:
            from the capture's tracing window (the innermost application frame),
            else from tracemalloc's own tracing; empty when nothing traced.
        retention: For the top growing types, who holds their new objects.
        untracked: The containers that gained most items, with the untracked
            data (str, bytes, numbers) they gained and their holders.
    """

    size_bytes: int = 0
    freed_nodes: int = 0
    allocated_nodes: int = 0
    details: tuple[DiffDetail, ...] = ()
    details_capped: bool = False
    allocation_sites: tuple[AllocationSite, ...] = ()
    retention: tuple[TypeRetention, ...] = ()
    untracked: tuple[GrownContainer, ...] = ()


@attrs.frozen(field_transformer=encodable_strings)
class HeapDiffReport:
    """memwatch's HeapDiff body: two censuses and what changed between them.

    Attributes:
        timestamp: When the second census was taken (``None``: no diff yet).
        before: Totals of the first census.
        after: Totals of the second census.
        change: The per-type changes.
        partial: True when a census ran out of its time budget and saw only part of the heap.
        frozen_objects: Objects hidden from the census by ``gc.freeze()``.
        elapsed_seconds: Time spent taking the second census and diffing.
    """

    timestamp: dt.datetime | None = None
    before: HeapSummary = attrs.Factory(HeapSummary)
    after: HeapSummary = attrs.Factory(HeapSummary)
    change: HeapChange = attrs.Factory(HeapChange)
    partial: bool = False
    frozen_objects: int = 0
    elapsed_seconds: float = 0.0


@attrs.frozen(field_transformer=encodable_strings)
class Status:
    """``GET /ah/memoryProfile/status``: the contract's four keys plus who answered."""

    last_event: EventKind = json_key("lastEvent", default="")
    last_gc: GCStats = json_key("lastGC", factory=GCStats)
    last_leak: LeakReport = json_key("lastLeak", factory=LeakReport)
    last_diff: HeapDiffReport = json_key("lastDiff", factory=HeapDiffReport)
    process: ProcessInfo | None = None
    watcher: WatcherInfo = attrs.Factory(WatcherInfo)
    store: StoreInfo = attrs.Factory(StoreInfo)
    memory: MemoryInfo = attrs.Factory(MemoryInfo)


@attrs.frozen(field_transformer=encodable_strings)
class Profile:
    """One captured diff with the status as it stood when the profile ended.

    Attributes:
        id: Short, URL-safe, unique; never ``"status"``.
        state: ``running``, ``complete`` or ``failed``.
        trigger: ``manual`` (started over HTTP or in code), ``leak`` (auto-captured on
            a leak) or ``limit`` (auto-captured as memory neared its limit).
        started: When the baseline census was taken.
        ended: When the second census was taken (``None`` while running).
        pid: The process whose heap this profile describes.
        error: Why the profile failed; ``""`` otherwise.
        verdict: Which layer of memory grew while the profile ran (not judged,
            ``layer == ""``, until it completes).
    """

    id: str
    state: ProfileState
    trigger: ProfileTrigger
    started: dt.datetime | None
    ended: dt.datetime | None = None
    last_event: EventKind = json_key("lastEvent", default="")
    last_gc: GCStats = json_key("lastGC", factory=GCStats)
    last_leak: LeakReport = json_key("lastLeak", factory=LeakReport)
    last_diff: HeapDiffReport = json_key("lastDiff", factory=HeapDiffReport)
    pid: int = 0
    error: str = ""
    verdict: Verdict = attrs.Factory(Verdict)


@attrs.frozen(field_transformer=encodable_strings)
class ProfileSummary:
    """A profile's listing line: who it belongs to and how it stands, without its diff."""

    id: str
    pid: int
    state: ProfileState
    trigger: ProfileTrigger
    started: dt.datetime | None
    ended: dt.datetime | None


@attrs.frozen(field_transformer=encodable_strings)
class ProfileIdList:
    """``GET /ah/memory``: the ids, oldest first, and the lines naming each one's worker (pid)."""

    memory_profiles: tuple[str, ...] = json_key("memoryProfiles", default=())
    profiles: tuple[ProfileSummary, ...] = ()


@attrs.frozen(field_transformer=encodable_strings)
class ProfileList:
    """``GET /ah/memory?details=true``: the stored profiles in full, oldest first."""

    memory_profiles: tuple[Profile, ...] = json_key("memoryProfiles", default=())


@attrs.frozen(field_transformer=encodable_strings)
class Message:
    """A short confirmation, e.g. ``{"message": "Deleted profile 3fa9c2"}``."""

    message: str


@attrs.frozen(field_transformer=encodable_strings)
class GCResult:
    """``POST /ah/memory/gc``: the stats after a forced full collection.

    Attributes:
        last_gc: The stats sample taken right after the collection.
        collected: Unreachable objects the forced collection found.
    """

    last_gc: GCStats = json_key("lastGC")
    collected: int = 0


@attrs.frozen(field_transformer=encodable_strings)
class Problem:
    """An RFC 9457 problem detail (``application/problem+json``)."""

    title: str
    status: int
    detail: str
    type: str = "about:blank"
