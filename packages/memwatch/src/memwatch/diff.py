"""Heap diffs: what changed between two censuses, in the shape of Node memwatch's HeapDiff.

Objects are matched by identity (``id()``) type by type: ``"+"`` counts the
objects of a type present in the second census but not the first, ``"-"`` the
reverse, and ``size_bytes`` is the net change of that type's shallow bytes. Like
the census itself, a diff covers gc-tracked objects only; when tracemalloc was
tracing during both censuses it also names the source lines whose live memory
changed most. See :mod:`memwatch.census` for what identity by ``id()`` can and
cannot tell apart.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from memwatch.census import Census, bookkeeping, take_census
from memwatch.models import DiffDetail, HeapChange, HeapDiffReport, HeapSummary
from memwatch.sites import site_changes

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["HeapDiff", "diff_censuses"]


def diff_censuses(
    before: Census, after: Census, *, max_details: int = 100, max_sites: int = 20
) -> HeapDiffReport:
    """Diff two censuses into memwatch's HeapDiff report.

    Args:
        before: The baseline census.
        after: The later census.
        max_details: At most this many types in ``change.details`` (growth first,
            then shrinkage, each largest first); ``change.details_capped`` says when
            some were cut.
        max_sites: At most this many allocation sites in ``change.allocation_sites``.

    Returns:
        The report. ``elapsed_seconds`` is the time of ``after``'s census plus
        this diff; ``allocation_sites`` is empty unless both censuses recorded sites.

    Raises:
        ValueError: ``max_details`` or ``max_sites`` is negative.
    """
    _check_limit("max_details", max_details)
    _check_limit("max_sites", max_sites)
    started = time.perf_counter()
    old, new = before.types, after.types
    details: list[DiffDetail] = []
    allocated_nodes = freed_nodes = 0
    for name in {**old, **new}:
        was, now = old.get(name), new.get(name)
        if was is None:
            allocated, freed, size = now.nodes, 0, now.size_bytes  # type: ignore[union-attr]
        elif now is None:
            allocated, freed, size = 0, was.nodes, -was.size_bytes
        else:
            allocated, freed = _identity_change(was.ids, now.ids)
            size = now.size_bytes - was.size_bytes
        allocated_nodes += allocated
        freed_nodes += freed
        if allocated or freed or size:
            details.append(DiffDetail(what=name, size_bytes=size, allocated=allocated, freed=freed))
    # What grew comes first (a leak's type must not rank below a freed cache), then
    # what shrank; each by the size of its change, ties by name.
    details.sort(key=lambda d: (d.size_bytes <= 0, -abs(d.size_bytes), d.what))
    change = HeapChange(
        size_bytes=after.size_bytes - before.size_bytes,
        freed_nodes=freed_nodes,
        allocated_nodes=allocated_nodes,
        details=tuple(details[:max_details]),
        details_capped=len(details) > max_details,
        allocation_sites=site_changes(before.sites, after.sites, max_sites),
    )
    return HeapDiffReport(
        timestamp=after.taken_at,
        before=HeapSummary(nodes=before.nodes, size_bytes=before.size_bytes),
        after=HeapSummary(nodes=after.nodes, size_bytes=after.size_bytes),
        change=change,
        partial=before.partial or after.partial,
        frozen_objects=after.frozen_objects,
        elapsed_seconds=after.elapsed_seconds + (time.perf_counter() - started),
    )


def _check_limit(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


# Past this many ids, a mismatch is first resynchronised within a small window (one
# freed old object then costs a few microseconds, not a set of the whole rest).
_RESYNC_FROM = 4096
_RESYNC_WINDOW = 64
_MAX_RESYNCS = 256


def _identity_change(
    before: memoryview, after: memoryview, *, resync_from: int = _RESYNC_FROM
) -> tuple[int, int]:
    """(allocated, freed): ids in ``after`` only, and ids in ``before`` only.

    A census lists each type's ids oldest generation first, and the oldest
    generation changes little between censuses: mostly objects freed from it
    and new ones appended. So the two sequences are walked in long common runs
    (found with C-level slice comparisons); at a mismatch, the next id of one
    side is looked for in a small window of the other, which skips a freed or
    an inserted object. What is not matched that way goes through sets. Ids
    are unique within a census, so an id matched in a common run cannot equal
    an unmatched id of the other side: the counts are exact.
    """
    i = j = resyncs = 0
    unmatched_before: list[memoryview] = []
    unmatched_after: list[memoryview] = []
    while True:
        common = _common_prefix(before[i:], after[j:])
        i += common
        j += common
        if (
            i >= len(before)
            or j >= len(after)
            or len(before) - i < resync_from
            or resyncs == _MAX_RESYNCS
        ):
            break
        resyncs += 1
        skip_before = _offset_in(after[j], before[i + 1 : i + 1 + _RESYNC_WINDOW]) + 1
        skip_after = (
            0 if skip_before else _offset_in(before[i], after[j + 1 : j + 1 + _RESYNC_WINDOW]) + 1
        )
        if not skip_before and not skip_after:
            skip_before = skip_after = _RESYNC_WINDOW
        unmatched_before.append(before[i : i + skip_before])
        unmatched_after.append(after[j : j + skip_after])
        i += skip_before
        j += skip_after
    unmatched_before.append(before[i:])
    unmatched_after.append(after[j:])
    gone: set[int] = set()
    for part in unmatched_before:
        gone.update(part)
    candidates = len(gone)
    for part in unmatched_after:
        gone.difference_update(part)
    shared = candidates - len(gone)
    return sum(map(len, unmatched_after)) - shared, len(gone)


def _offset_in(value: int, window: memoryview) -> int:
    """Where ``value`` first is in ``window``, or -1."""
    items = window.tolist()
    return items.index(value) if value in items else -1


def _common_prefix(first: memoryview, second: memoryview) -> int:
    """The length of the longest common prefix of two id sequences.

    Galloping then bisecting keeps the comparisons proportional to the prefix
    found, whether it is short (a run of changes) or long (a stable stretch).
    """
    limit = min(len(first), len(second))
    if first[:limit] == second[:limit]:
        return limit
    low, size = 0, 16  # first[:low] == second[:low] holds
    while size < limit and first[:size] == second[:size]:
        low, size = size, size * 2
    high = min(size, limit)  # first[:high] != second[:high]
    while high - low > 1:
        middle = (low + high) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle
    return low


@bookkeeping
class HeapDiff:
    """Like Node memwatch's ``new memwatch.HeapDiff()`` ... ``hd.end()``.

    Creating one takes the baseline census; :meth:`end` takes the second and
    returns the same report the HTTP API serves. It also works as a context
    manager, which ends it on exit::

        with HeapDiff() as hd:
            handle_requests()
        print(hd.report.change.details[:5])

    The baseline is released once the diff is made. A HeapDiff is never
    counted by a census, so it does not show up in its own diff.
    """

    __slots__ = ("_before", "_ending", "_max_details", "_max_sites", "_report", "_time_budget")

    def __init__(
        self, *, max_details: int = 100, max_sites: int = 20, time_budget: float | None = None
    ) -> None:
        """Take the baseline census.

        Args:
            max_details: At most this many types in the report's details.
            max_sites: At most this many allocation sites (when tracemalloc traces).
            time_budget: Seconds each of the two censuses may take; see
                :func:`memwatch.census.take_census`.

        Raises:
            ValueError: A limit or the time budget is negative.
        """
        _check_limit("max_details", max_details)
        _check_limit("max_sites", max_sites)
        self._max_details = max_details
        self._max_sites = max_sites
        self._time_budget = time_budget
        self._ending = threading.Lock()
        self._report: HeapDiffReport | None = None
        self._before: Census | None = take_census(time_budget=time_budget)

    @property
    def before(self) -> Census | None:
        """The baseline census; ``None`` once the diff has been made."""
        return self._before

    @property
    def report(self) -> HeapDiffReport:
        """The report :meth:`end` returned.

        Raises:
            RuntimeError: :meth:`end` has not completed yet.
        """
        if self._report is None:
            raise RuntimeError("HeapDiff has not ended yet: call end() first")
        return self._report

    def end(self) -> HeapDiffReport:
        """Take the second census and diff it against the baseline.

        Returns:
            The report (also kept as :attr:`report`).

        Raises:
            RuntimeError: ``end()`` was already called.
        """
        if not self._ending.acquire(blocking=False):
            raise RuntimeError("HeapDiff.end() was already called")
        before = self._before
        if before is None:  # pragma: no cover - the lock admits one caller only
            raise RuntimeError("HeapDiff.end() was already called")
        after = take_census(time_budget=self._time_budget)
        self._report = diff_censuses(
            before, after, max_details=self._max_details, max_sites=self._max_sites
        )
        self._before = None
        return self._report

    def __enter__(self) -> Self:
        """Return this HeapDiff; its baseline was taken when it was created."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """End the diff unless :meth:`end` was already called; never swallow an exception."""
        if not self._ending.locked():
            self.end()
