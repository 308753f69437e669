"""Every model survives a JSON round trip and its JSON matches the shipped schemas."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import inspect
import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from memwatch import host_models, models, process_models
from memwatch.converter import converter, dumps, loads
from memwatch.schemas import SCHEMA_NAMES, load_schema
from memwatch.testing.contract import (
    SCHEMA_FOR_BODY,
    SCHEMA_FOR_DEF,
    assert_valid,
    defs_validator,
    registry,
    validator,
)

UTC = dt.timezone.utc

# Aware UTC instants; the year range keeps RFC 3339's four-digit years.
utc_datetimes = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),  # noqa: DTZ001 - bounds of an aware strategy are naive
    max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)
timestamps = st.none() | utc_datetimes
counts = st.integers(min_value=0, max_value=2**63 - 1)
signed = st.integers(min_value=-(2**63), max_value=2**63 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)
durations = st.floats(min_value=0, max_value=1e9, allow_nan=False)
profile_ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z").filter(lambda s: s != "status")

gc_stats = st.builds(
    models.GCStats,
    timestamp=timestamps,
    num_full_gc=counts,
    num_inc_gc=counts,
    heap_compactions=counts,
    estimated_base=counts,
    current_base=counts,
    min=counts,
    max=counts,
    usage_trend=finite,
)
leak_reports = st.builds(
    models.LeakReport,
    timestamp=timestamps,
    start=timestamps,
    end=timestamps,
    growth=signed,
    reason=st.text(),
)
heap_summaries = st.builds(models.HeapSummary, nodes=counts, size_bytes=counts)
diff_details = st.builds(
    models.DiffDetail, what=st.text(), size_bytes=signed, allocated=counts, freed=counts
)
allocation_sites = st.builds(
    models.AllocationSite, file=st.text(), line=counts, size_bytes=signed, count=signed
)
heap_changes = st.builds(
    models.HeapChange,
    size_bytes=signed,
    freed_nodes=counts,
    allocated_nodes=counts,
    details=st.lists(diff_details, max_size=4).map(tuple),
    details_capped=st.booleans(),
    allocation_sites=st.lists(allocation_sites, max_size=4).map(tuple),
)
heap_diffs = st.builds(
    models.HeapDiffReport,
    timestamp=timestamps,
    before=heap_summaries,
    after=heap_summaries,
    change=heap_changes,
    partial=st.booleans(),
    frozen_objects=counts,
    elapsed_seconds=durations,
)
process_infos = st.builds(
    process_models.ProcessInfo,
    pid=counts,
    python_version=st.text(),
    implementation=st.text(),
    free_threaded=st.booleans(),
    gc_enabled=st.booleans(),
    gc_thresholds=st.lists(signed, max_size=3).map(tuple),
    gc_freeze_count=counts,
    tracemalloc_tracing=st.booleans(),
)
watcher_infos = st.builds(
    process_models.WatcherInfo,
    running=st.booleans(),
    mode=st.text(),
    probe=st.text(),
    sample_interval=durations,
    collections=counts,
    samples=counts,
    heap_bytes=counts,
    allocated_blocks=counts,
    errors=counts,
    last_error=st.text(),
    leak_events=counts,
)
store_infos = st.builds(
    process_models.StoreInfo,
    kind=st.sampled_from(["memory", "sqlite"]),
    shared=st.booleans(),
    fallback=st.text(),
)
optional_counts = st.none() | counts
memory_infos = st.builds(
    process_models.MemoryInfo,
    limit_bytes=st.none() | st.integers(min_value=1, max_value=2**62),
    limit_source=st.sampled_from(["cgroup2", "cgroup1", "rlimit", "env", "none"]),
    used_bytes=optional_counts,
    headroom_bytes=optional_counts,
    seconds_to_limit=st.none() | durations,
    oom_kills=optional_counts,
)
event_kinds = st.sampled_from(["", "stats", "leak", "diff"])
statuses = st.builds(
    models.Status,
    last_event=event_kinds,
    last_gc=gc_stats,
    last_leak=leak_reports,
    last_diff=heap_diffs,
    process=st.none() | process_infos,
    watcher=watcher_infos,
    store=store_infos,
    memory=memory_infos,
)
profiles = st.builds(
    models.Profile,
    id=profile_ids,
    state=st.sampled_from(["running", "complete", "failed"]),
    trigger=st.sampled_from(["manual", "leak", "limit"]),
    started=timestamps,
    ended=timestamps,
    last_event=event_kinds,
    last_gc=gc_stats,
    last_leak=leak_reports,
    last_diff=heap_diffs,
    pid=counts,
    error=st.text(),
)
profile_summaries = st.builds(
    models.ProfileSummary,
    id=profile_ids,
    pid=counts,
    state=st.sampled_from(["running", "complete", "failed"]),
    trigger=st.sampled_from(["manual", "leak"]),
    started=timestamps,
    ended=timestamps,
)
workers = st.builds(
    host_models.Worker,
    pid=counts,
    started=utc_datetimes,
    last_seen=utc_datetimes,
    alive=st.booleans(),
    heap_bytes=counts,
    baseline_bytes=counts,
    usage_trend=finite,
    last_leak=leak_reports,
)
STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {
    models.GCStats: gc_stats,
    models.LeakReport: leak_reports,
    models.HeapSummary: heap_summaries,
    models.DiffDetail: diff_details,
    models.AllocationSite: allocation_sites,
    models.HeapChange: heap_changes,
    models.HeapDiffReport: heap_diffs,
    process_models.ProcessInfo: process_infos,
    process_models.WatcherInfo: watcher_infos,
    process_models.MemoryInfo: memory_infos,
    models.Status: statuses,
    models.Profile: profiles,
    process_models.StoreInfo: store_infos,
    models.ProfileSummary: profile_summaries,
    models.ProfileIdList: st.builds(
        models.ProfileIdList,
        memory_profiles=st.lists(profile_ids, max_size=5).map(tuple),
        profiles=st.lists(profile_summaries, max_size=3).map(tuple),
    ),
    host_models.Worker: workers,
    host_models.WorkerList: st.builds(
        host_models.WorkerList, workers=st.lists(workers, max_size=3).map(tuple)
    ),
    models.ProfileList: st.builds(
        models.ProfileList, memory_profiles=st.lists(profiles, max_size=3).map(tuple)
    ),
    models.Message: st.builds(models.Message, message=st.text()),
    models.GCResult: st.builds(models.GCResult, last_gc=gc_stats, collected=counts),
    models.Problem: st.builds(
        models.Problem,
        title=st.text(),
        status=st.integers(min_value=400, max_value=599),
        detail=st.text(),
        type=st.text(min_size=1),
    ),
}
MODELS = sorted(STRATEGIES, key=lambda cls: cls.__name__)


def _strict(node: Any) -> Any:
    """A copy of a schema in which no object may carry a key the schema does not describe."""
    if isinstance(node, dict):
        out = {key: _strict(value) for key, value in node.items()}
        if "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(value) for value in node]
    return node


@functools.cache
def _strict_validator(def_name: str) -> Draft202012Validator:
    schemas = [_strict(load_schema(name)) for name in SCHEMA_NAMES]
    strict_registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas
    )
    base = load_schema(SCHEMA_FOR_BODY.get(def_name, SCHEMA_FOR_DEF.get(def_name, "status")))["$id"]
    ref = base if def_name in SCHEMA_FOR_BODY else f"{base}#/$defs/{def_name}"
    return Draft202012Validator(
        {"$ref": ref}, registry=strict_registry, format_checker=FormatChecker()
    )


def test_every_model_has_a_strategy() -> None:
    """Each attrs class the model modules export is covered by the properties below."""
    exported = {
        obj
        for module in (models, process_models, host_models)
        for name in module.__all__
        if inspect.isclass(obj := getattr(module, name)) and attrs.has(obj)
    }
    assert exported == set(STRATEGIES)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_round_trip(cls: type[Any], data: st.DataObject) -> None:
    """Any instance turns into JSON and back into an equal instance."""
    obj = data.draw(STRATEGIES[cls])
    assert loads(dumps(obj), cls) == obj


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_json_matches_schema(cls: type[Any], data: st.DataObject) -> None:
    """Any instance's JSON is valid under its schema (or its $defs entry) with format checks."""
    body = dumps(data.draw(STRATEGIES[cls]))
    if cls.__name__ in SCHEMA_FOR_BODY:
        assert_valid(SCHEMA_FOR_BODY[cls.__name__], body)
    else:
        instance = json.loads(body)
        schema = SCHEMA_FOR_DEF.get(cls.__name__, "status")
        errors = list(defs_validator(cls.__name__, schema).iter_errors(instance))
        assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_schema_describes_every_emitted_key(cls: type[Any], data: st.DataObject) -> None:
    """The converter emits no key its schema does not list (and schemas require all they list)."""
    instance = json.loads(dumps(data.draw(STRATEGIES[cls])))
    errors = list(_strict_validator(cls.__name__).iter_errors(instance))
    assert not errors, [e.message for e in errors]


@given(obj=statuses)
def test_schema_rejects_a_missing_seed_key(obj: models.Status) -> None:
    """Dropping any of the contract's original top-level keys from a status makes it invalid."""
    instance = converter.unstructure(obj)
    for key in ("lastEvent", "lastGC", "lastLeak", "lastDiff"):
        broken = copy.deepcopy(instance)
        del broken[key]
        assert not validator("status").is_valid(broken)


def test_registry_holds_every_schema() -> None:
    """The contract helper resolves every shipped schema by its $id."""
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        assert registry().contents(schema["$id"]) == schema


# Text with lone surrogates among ordinary characters (st.characters() never draws them).
any_text = st.text(st.characters() | st.integers(0xD800, 0xDFFF).map(chr))


@given(text=any_text)
def test_encodable_escapes_only_what_utf8_cannot_encode(text: str) -> None:
    """encodable() returns text UTF-8 accepts, and encodable text unchanged."""
    result = models.encodable(text)
    result.encode("utf-8")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert result == text.encode("utf-8", "backslashreplace").decode("utf-8")
    else:
        assert result == text


def test_encodable_writes_a_lone_surrogate_as_its_escape() -> None:
    """A lone surrogate becomes backslash, u and four hex digits; the rest is kept."""
    assert models.encodable("mod\udcfe.Bad\udcff é") == "mod\\udcfe.Bad\\udcff é"


def test_every_str_field_of_every_model_is_made_encodable() -> None:
    """Each model's str fields escape a lone surrogate when the model is built."""
    for cls in MODELS:
        for field in attrs.fields(cls):
            if field.type in ("str", str):
                assert field.converter is models.encodable, (cls.__name__, field.name)


@given(what=any_text, file=any_text, error=any_text)
def test_models_holding_unencodable_text_serialize(what: str, file: str, error: str) -> None:
    """A diff and a profile built from names UTF-8 cannot encode still dump to valid JSON."""
    change = models.HeapChange(
        details=(models.DiffDetail(what=what, size_bytes=1, allocated=1, freed=0),),
        allocation_sites=(models.AllocationSite(file=file, line=1, size_bytes=1, count=1),),
    )
    profile = models.Profile(
        id="p1",
        state="failed",
        trigger="manual",
        started=None,
        last_diff=models.HeapDiffReport(change=change),
        error=error,
    )
    body = json.loads(dumps(profile))
    assert body["lastDiff"]["change"]["details"][0]["what"] == models.encodable(what)
    assert body["lastDiff"]["change"]["allocation_sites"][0]["file"] == models.encodable(file)
    assert_valid("profile", dumps(profile))
