"""The one source of the shipped JSON Schemas: each definition once, each body's top once.

The ``.json`` files beside this module are generated from it by
``python -m memwatch.schemas.generate``; a test fails when a shipped file
differs from what this source generates, so edit this file, never a ``.json``.

Every object schema requires each of its properties, in their order (the
contract: every key memwatch emits is always there), and allows extra keys.
A body carries, in its own ``$defs``, exactly the definitions it reaches
through ``$ref``, in the order of :data:`DEFINITIONS`, so each file stays
self-contained.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BODIES", "DEFINITIONS", "ID_BASE"]

ID_BASE = "https://memwatch.readthedocs.io/schemas/"

_COUNT = {"type": "integer", "minimum": 0}
_INTEGER = {"type": "integer"}
_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_NUMBER = {"type": "number"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _array_of(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _object(title: str, description: str, /, **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "description": description,
        "required": list(properties),
        "properties": properties,
    }


_PROFILE = _object(
    "Profile",
    "One captured diff with the status as it stood when the profile ended.",
    id=_ref("ProfileId"),
    state={"enum": ["running", "complete", "failed"]},
    trigger={"enum": ["manual", "leak", "limit"]},
    started=_ref("Timestamp"),
    ended=_ref("Timestamp"),
    lastEvent=_ref("EventKind"),
    lastGC=_ref("GCStats"),
    lastLeak=_ref("LeakReport"),
    lastDiff=_ref("HeapDiffReport"),
    pid=_COUNT,
    error=_STRING,
    verdict=_ref("Verdict"),
)

DEFINITIONS: dict[str, dict[str, Any]] = {
    "Timestamp": {
        "title": "Timestamp",
        "description": 'RFC 3339 UTC ending in Z, or "" where nothing happened yet.',
        "anyOf": [{"const": ""}, {"type": "string", "format": "date-time", "pattern": "Z$"}],
    },
    "Size": {
        "title": "Size",
        "description": 'A byte count as memwatch prints it: "512 bytes", "243.39 kb", "-1.78 mb".',
        "type": "string",
        "pattern": r"^-?(0|[1-9][0-9]*)(\.[0-9]{1,2})? (bytes|kb|mb)$",
    },
    "EventKind": {
        "title": "EventKind",
        "description": 'The kind of the most recent event; "" before any.',
        "enum": ["", "stats", "leak", "diff"],
    },
    "ProfileId": {
        "title": "ProfileId",
        "description": 'Short and URL-safe; never "status".',
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{1,64}$",
        "not": {"const": "status"},
    },
    "GCStats": _object(
        "GCStats",
        "The stats event (memwatch's lastGC): collection counts and the heap's baseline in bytes.",
        timestamp=_ref("Timestamp"),
        num_full_gc=_COUNT,
        num_inc_gc=_COUNT,
        heap_compactions=_COUNT,
        estimated_base=_COUNT,
        current_base=_COUNT,
        min=_COUNT,
        max=_COUNT,
        usage_trend=_NUMBER,
    ),
    "LeakReport": _object(
        "LeakReport",
        "The leak event: the heap's baseline grew between start and end.",
        timestamp=_ref("Timestamp"),
        start=_ref("Timestamp"),
        end=_ref("Timestamp"),
        growth=_INTEGER,
        reason=_STRING,
        verdict=_ref("Verdict"),
    ),
    "HeapSummary": _object(
        "HeapSummary",
        "Totals of one heap census.",
        nodes=_COUNT,
        size_bytes=_COUNT,
        size=_ref("Size"),
    ),
    "DiffDetail": _object(
        "DiffDetail",
        "One type's line in a heap diff: objects allocated (+) and freed (-).",
        what=_STRING,
        size_bytes=_INTEGER,
        size=_ref("Size"),
        **{"+": _COUNT, "-": _COUNT},
    ),
    "AllocationSite": _object(
        "AllocationSite",
        "A source line whose tracemalloc-traced memory changed between two censuses.",
        file=_STRING,
        line=_COUNT,
        size_bytes=_INTEGER,
        size=_ref("Size"),
        count=_INTEGER,
        library=_STRING,
    ),
    "RetentionPath": _object(
        "RetentionPath",
        "A chain of references from a root down to sampled objects: names, never values.",
        root=_STRING,
        kind={
            "enum": [
                "module global",
                "class attribute",
                "function",
                "lru_cache",
                "thread frame",
                "logging manager",
                "unreachable",
                "search limit",
            ]
        },
        edges=_array_of(_STRING),
        samples=_COUNT,
        share={"type": "number", "minimum": 0, "maximum": 1},
    ),
    "TypeRetention": _object(
        "TypeRetention",
        "Who holds the sampled new objects of one growing type.",
        what=_STRING,
        sampled=_COUNT,
        paths=_array_of(_ref("RetentionPath")),
        partial=_BOOLEAN,
    ),
    "GrownContainer": _object(
        "GrownContainer",
        "A container that gained items, the untracked data they brought, and its holder.",
        what=_STRING,
        holder=_STRING,
        items=_COUNT,
        size_bytes=_COUNT,
        size=_ref("Size"),
        untracked_types=_array_of(_STRING),
    ),
    "HeapChange": _object(
        "HeapChange",
        "What changed between two censuses.",
        size_bytes=_INTEGER,
        size=_ref("Size"),
        freed_nodes=_COUNT,
        allocated_nodes=_COUNT,
        details=_array_of(_ref("DiffDetail")),
        details_capped=_BOOLEAN,
        allocation_sites=_array_of(_ref("AllocationSite")),
        retention=_array_of(_ref("TypeRetention")),
        untracked=_array_of(_ref("GrownContainer")),
    ),
    "HeapDiffReport": _object(
        "HeapDiffReport",
        "memwatch's HeapDiff: two censuses and what changed between them.",
        timestamp=_ref("Timestamp"),
        before=_ref("HeapSummary"),
        after=_ref("HeapSummary"),
        change=_ref("HeapChange"),
        partial=_BOOLEAN,
        frozen_objects=_COUNT,
        elapsed_seconds={"type": "number", "minimum": 0},
    ),
    "LayerReadings": _object(
        "LayerReadings",
        "What the probes and the census saw change over a profile's or a leak's window (bytes).",
        seconds={"type": "number", "minimum": 0},
        process_growth=_INTEGER,
        malloc_growth={"anyOf": [_INTEGER, {"type": "null"}]},
        blocks_growth=_INTEGER,
        census_growth=_INTEGER,
        untracked_growth=_INTEGER,
        traced_growth={"anyOf": [_INTEGER, {"type": "null"}]},
        foreign_traced_growth=_INTEGER,
        tracing_overhead=_COUNT,
        census=_BOOLEAN,
    ),
    "Verdict": _object(
        "Verdict",
        'Which layer of memory grew, in one sentence, with the figures; layer "" if not judged.',
        layer={
            "enum": [
                "",
                "none",
                "python objects",
                "untracked python data",
                "native memory",
                "allocator retention",
            ]
        },
        text=_STRING,
        figures=_ref("LayerReadings"),
    ),
    "Profile": _PROFILE,
    "ProcessInfo": _object(
        "ProcessInfo",
        "The process that answered.",
        pid=_COUNT,
        python_version=_STRING,
        implementation=_STRING,
        free_threaded=_BOOLEAN,
        gc_enabled=_BOOLEAN,
        gc_thresholds=_array_of(_INTEGER),
        gc_freeze_count=_COUNT,
        tracemalloc_tracing=_BOOLEAN,
    ),
    "WatcherInfo": _object(
        "WatcherInfo",
        "How the watcher itself is doing.",
        running=_BOOLEAN,
        mode=_STRING,
        probe=_STRING,
        sample_interval={"type": "number", "minimum": 0},
        collections=_COUNT,
        samples=_COUNT,
        heap_bytes=_COUNT,
        allocated_blocks=_COUNT,
        errors=_COUNT,
        last_error=_STRING,
        gc_callbacks=_COUNT,
        leak_events=_COUNT,
    ),
    "StoreInfo": _object(
        "StoreInfo",
        "Where this process keeps its profiles: memory, or SQLite shared by the host's workers.",
        kind={"enum": ["memory", "sqlite"]},
        shared=_BOOLEAN,
        fallback=_STRING,
    ),
    "ProfileSummary": _object(
        "ProfileSummary",
        "A profile's listing line: who it belongs to and how it stands, without its diff.",
        id=_ref("ProfileId"),
        pid=_COUNT,
        state={"enum": ["running", "complete", "failed"]},
        trigger={"enum": ["manual", "leak"]},
        started=_ref("Timestamp"),
        ended=_ref("Timestamp"),
    ),
    "Worker": _object(
        "Worker",
        "One worker process of the host, as its last stored status describes it.",
        pid=_COUNT,
        started=_ref("Timestamp"),
        last_seen=_ref("Timestamp"),
        alive=_BOOLEAN,
        heap_bytes=_COUNT,
        baseline_bytes=_COUNT,
        usage_trend=_NUMBER,
        lastLeak=_ref("LeakReport"),
    ),
    "MemoryInfo": _object(
        "MemoryInfo",
        "The memory limit this process is held to, and how near it is; null where unknown.",
        limit_bytes={"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
        limit_source={"enum": ["cgroup2", "cgroup1", "rlimit", "env", "none"]},
        used_bytes={"anyOf": [_COUNT, {"type": "null"}]},
        headroom_bytes={"anyOf": [_COUNT, {"type": "null"}]},
        seconds_to_limit={"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]},
        oom_kills={"anyOf": [_COUNT, {"type": "null"}]},
    ),
    "RouteInfo": _object(
        "RouteInfo",
        "One route of the API: its stable name, method and full path (with the prefix).",
        name=_STRING,
        method=_STRING,
        path=_STRING,
    ),
}
"""Every shared definition, in the order a body's ``$defs`` lists them."""

BODIES: dict[str, dict[str, Any]] = {
    "gc_result": _object(
        "GCResult",
        "POST /ah/memory/gc: the stats after a forced full collection.",
        lastGC=_ref("GCStats"),
        collected=_COUNT,
    ),
    "index": _object(
        "RouteIndex",
        "GET /ah/: the routes this API serves, whether this client may write, and the page.",
        routes=_array_of(_ref("RouteInfo")),
        writable=_BOOLEAN,
        dashboard=_STRING,
    ),
    "message": _object(
        "Message",
        'A short confirmation, e.g. {"message": "Deleted profile 3fa9c2"}.',
        message=_STRING,
    ),
    "problem": _object(
        "Problem",
        "An RFC 9457 problem detail (application/problem+json).",
        title=_STRING,
        status={"type": "integer", "minimum": 400, "maximum": 599},
        detail=_STRING,
        type={"type": "string", "minLength": 1},
    ),
    "profile": _PROFILE,
    "profile_id_list": _object(
        "ProfileIdList",
        "GET /ah/memory: every worker's profiles, oldest first: ids, and lines naming the pid.",
        memoryProfiles=_array_of(_ref("ProfileId")),
        profiles=_array_of(_ref("ProfileSummary")),
    ),
    "profile_list": _object(
        "ProfileList",
        "GET /ah/memory?details=true: the stored profiles in full, oldest first.",
        memoryProfiles=_array_of(_ref("Profile")),
    ),
    "sample_series": _object(
        "SampleSeries",
        "GET /ah/memory/samples: the recent heap samples, column by column, and the latest "
        "leak reports; time in Unix seconds, readings and baselines in bytes.",
        probe=_STRING,
        sample_interval={"type": "number", "minimum": 0},
        capacity=_COUNT,
        time=_array_of(_NUMBER),
        reading=_array_of(_COUNT),
        baseline=_array_of(_COUNT),
        leaks=_array_of(_ref("LeakReport")),
    ),
    "status": _object(
        "Status",
        "GET /ah/memoryProfile/status: the contract's four keys plus who answered.",
        lastEvent=_ref("EventKind"),
        lastGC=_ref("GCStats"),
        lastLeak=_ref("LeakReport"),
        lastDiff=_ref("HeapDiffReport"),
        process={"anyOf": [_ref("ProcessInfo"), {"type": "null"}]},
        watcher=_ref("WatcherInfo"),
        store=_ref("StoreInfo"),
        memory=_ref("MemoryInfo"),
    ),
    "workers": _object(
        "WorkerList",
        "GET /ah/workers: every worker of the host the store knows, by pid.",
        workers=_array_of(_ref("Worker")),
    ),
}
"""The top of each response body's schema, by schema name (without ``$defs``)."""
