"""Status assembly: this process's :class:`~memwatch.models.Status` from the watcher's parts.

The watcher owns the moving parts (collector, detector, latest reports, error
log); this module reads them once per status request and builds the body the
API serves. It reads counters and the latest reports only: no census, no
collection, nothing whose cost grows with the heap except the allocated-blocks
count, which :class:`memwatch.process.AllocatedBlocks` caches.
"""

from __future__ import annotations

import attrs

from memwatch.collector import Collector
from memwatch.detector import Detector
from memwatch.errors import ErrorLog
from memwatch.headroom import Headroom
from memwatch.models import Status
from memwatch.probes import Probe
from memwatch.process import AllocatedBlocks, process_info
from memwatch.process_models import WatcherInfo
from memwatch.reports import LatestReports
from memwatch.store.location import describe_store

__all__ = ["StatusSources", "assemble_status"]


@attrs.frozen
class StatusSources:
    """Where a status is read from: the watcher's parts, shared, never copied."""

    collector: Collector
    detector: Detector
    probe: Probe
    reports: LatestReports
    errors: ErrorLog
    allocated_blocks: AllocatedBlocks
    sample_interval: float
    headroom: Headroom
    store: object = None


def assemble_status(sources: StatusSources) -> Status:
    """This process's status: the latest events, the latest diff, and who answered.

    Errors show as :func:`~memwatch.errors.describe_error` gives them: where,
    and the exception's type; their messages are in the ``memwatch`` log only.
    """
    collector = sources.collector
    last_event, last_gc, last_leak, last_diff = sources.reports.snapshot()
    return Status(
        last_event=last_event,
        last_gc=last_gc,
        last_leak=last_leak,
        last_diff=last_diff,
        process=process_info(),
        watcher=WatcherInfo(
            running=collector.installed,
            mode=sources.detector.mode,
            probe=sources.probe.name,
            sample_interval=sources.sample_interval,
            collections=collector.collections,
            samples=collector.samples,
            heap_bytes=collector.last_heap_bytes,
            allocated_blocks=sources.allocated_blocks(),
            errors=sources.errors.count + collector.errors,
            last_error=collector.last_error or sources.errors.last,
            gc_callbacks=Collector.installed_anywhere(),
            leak_events=sources.reports.leak_events,
        ),
        store=describe_store(sources.store),
        memory=sources.headroom.info(),
    )
