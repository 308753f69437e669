"""The shipped JSON Schemas: generated from one source, self-contained, with the contract's keys."""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator

from memwatch.schemas import SCHEMA_NAMES, _source, generate, load_schema
from memwatch.testing.contract import assert_valid, defs_validator, validator

if TYPE_CHECKING:
    from pathlib import Path

# The status body of the HTTP contract (its original keys), with "after" spelled out and the
# keys memwatch adds beside them.
SEED_STATUS: dict[str, Any] = {
    "lastEvent": "stats",
    "lastGC": {
        "timestamp": "2026-11-25T12:00:00Z",
        "num_full_gc": 17,
        "num_inc_gc": 8,
        "heap_compactions": 8,
        "estimated_base": 2592568,
        "current_base": 2592568,
        "min": 2499912,
        "max": 2592568,
        "usage_trend": 0,
    },
    "lastLeak": {
        "timestamp": "",
        "start": "",
        "end": "",
        "growth": 0,
        "reason": "",
        "verdict": {
            "layer": "",
            "text": "",
            "figures": {
                "seconds": 0.0,
                "process_growth": 0,
                "malloc_growth": None,
                "blocks_growth": 0,
                "census_growth": 0,
                "untracked_growth": 0,
                "traced_growth": None,
                "foreign_traced_growth": 0,
                "tracing_overhead": 0,
                "census": True,
            },
        },
    },
    "lastDiff": {
        "timestamp": "",
        "before": {"nodes": 0, "size_bytes": 0, "size": "0 bytes"},
        "after": {"nodes": 0, "size_bytes": 0, "size": "0 bytes"},
        "change": {
            "size_bytes": 0,
            "size": "0 bytes",
            "freed_nodes": 0,
            "allocated_nodes": 0,
            "details": [],
            "details_capped": False,
            "allocation_sites": [],
            "retention": [],
            "untracked": [],
        },
        "partial": False,
        "frozen_objects": 0,
        "elapsed_seconds": 0.0,
    },
    "process": None,
    "watcher": {
        "running": True,
        "mode": "trend",
        "probe": "mallinfo2",
        "sample_interval": 5.0,
        "collections": 3,
        "samples": 1,
        "heap_bytes": 100,
        "allocated_blocks": 10,
        "errors": 0,
        "last_error": "",
        "gc_callbacks": 1,
        "leak_events": 0,
    },
    "store": {"kind": "memory", "shared": False, "fallback": ""},
    "memory": {
        "limit_bytes": 536870912,
        "limit_source": "cgroup2",
        "used_bytes": 104857600,
        "headroom_bytes": 432013312,
        "seconds_to_limit": 540.0,
        "oom_kills": 0,
    },
}
SEED_KEYS = {
    "": ["lastEvent", "lastGC", "lastLeak", "lastDiff"],
    "GCStats": [
        "timestamp",
        "num_full_gc",
        "num_inc_gc",
        "heap_compactions",
        "estimated_base",
        "current_base",
        "min",
        "max",
        "usage_trend",
    ],
    "LeakReport": ["timestamp", "start", "end", "growth", "reason"],
    "HeapDiffReport": ["timestamp", "before", "after", "change"],
    "HeapSummary": ["nodes", "size_bytes", "size"],
    "HeapChange": ["size_bytes", "size", "freed_nodes", "allocated_nodes", "details"],
    "DiffDetail": ["what", "size_bytes", "size", "+", "-"],
}


def _walk(node: Any, path: str = "") -> Any:
    """Yield (path, subschema) for every dict in a schema."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def test_names_match_the_packaged_files() -> None:
    """SCHEMA_NAMES lists exactly the .json files shipped in memwatch.schemas."""
    files = {
        entry.name.removesuffix(".json")
        for entry in resources.files("memwatch.schemas").iterdir()
        if entry.name.endswith(".json")
    }
    assert files == set(SCHEMA_NAMES)
    assert list(SCHEMA_NAMES) == sorted(SCHEMA_NAMES)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    """Each schema is a valid draft 2020-12 schema with $schema and a $id naming its file."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/schemas/{name}.json")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_self_contained(name: str) -> None:
    """Every $ref points inside the same file, at a $defs entry that exists."""
    schema = load_schema(name)
    refs = [node["$ref"] for _, node in _walk(schema) if "$ref" in node]
    for ref in refs:
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_described_key_is_required_and_extra_keys_are_allowed(name: str) -> None:
    """Each object schema requires all of its properties and never forbids added keys."""
    objects = [(path, node) for path, node in _walk(load_schema(name)) if "properties" in node]
    assert objects
    for path, node in objects:
        assert node["type"] == "object", path
        assert sorted(node["required"]) == sorted(node["properties"]), path
        assert node.get("additionalProperties", True) is not False, path


def test_shared_definitions_do_not_drift() -> None:
    """A $defs entry that several schemas carry is the same in each of them."""
    seen: dict[str, Any] = {}
    for name in SCHEMA_NAMES:
        for def_name, definition in load_schema(name).get("$defs", {}).items():
            assert seen.setdefault(def_name, definition) == definition, (name, def_name)
    assert {"GCStats", "Profile", "Timestamp", "ProfileId"} <= set(seen)


@pytest.mark.parametrize(("def_name", "keys"), SEED_KEYS.items())
def test_seed_keys_are_required(def_name: str, keys: list[str]) -> None:
    """Every key of the contract's original status body is required at its level."""
    schema = load_schema("status")
    node = schema if def_name == "" else schema["$defs"][def_name]
    assert set(keys) <= set(node["required"])


def test_design_example_is_valid_and_extra_keys_pass() -> None:
    """The contract's status example validates, also with a key memwatch may add later."""
    assert_valid("status", SEED_STATUS)
    assert_valid("status", {**SEED_STATUS, "somethingNew": [1, 2]})


@pytest.mark.parametrize("key", SEED_KEYS[""])
def test_missing_seed_key_is_invalid(key: str) -> None:
    """A status without one of the contract's original keys is rejected."""
    broken = {k: v for k, v in SEED_STATUS.items() if k != key}
    assert not validator("status").is_valid(broken)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("2026-11-25T12:00:00Z", True),
        ("2026-11-25T12:00:00.123456Z", True),
        ("2026-11-25T12:00:00+01:00", False),  # RFC 3339, but not UTC with Z
        ("2026-13-25T12:00:00Z", False),  # format checking catches the month
        ("Fri, 29 Jun 2012 14:45:51 GMT", False),  # how Node printed Dates to a console
        (None, False),
        (0, False),
    ],
)
def test_timestamps(value: object, valid: bool) -> None:
    """Timestamps are "" or RFC 3339 UTC ending in Z, checked as date-time formats."""
    assert defs_validator("Timestamp").is_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0 bytes", True),
        ("-512 bytes", True),
        ("243.39 kb", True),
        ("-1.78 mb", True),
        ("1.5 kb", True),
        ("1.789 mb", False),
        ("1.78 MB", False),
        ("12", False),
    ],
)
def test_size_strings(value: object, valid: bool) -> None:
    """Sizes are memwatch-formatted strings: at most two decimals, bytes/kb/mb."""
    assert defs_validator("Size").is_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("3fa9c2", True),
        ("a-b_C9", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("status", False),
        ("", False),
        ("a/b", False),
    ],
)
def test_profile_ids(value: object, valid: bool) -> None:
    """Profile ids are 1-64 URL-safe characters and never "status"."""
    assert defs_validator("ProfileId", "profile").is_valid(value) is valid


def test_load_schema_accepts_the_suffix_and_returns_independent_copies() -> None:
    """load_schema takes "name" or "name.json" and callers cannot corrupt the cache."""
    first = load_schema("status.json")
    first["required"].clear()
    first["$defs"]["GCStats"]["properties"].clear()
    again = load_schema("status")
    assert "lastGC" in again["required"]
    assert "num_full_gc" in again["$defs"]["GCStats"]["properties"]


def test_load_schema_names_the_choices_for_an_unknown_name() -> None:
    """An unknown schema name is a ValueError listing the valid names."""
    with pytest.raises(ValueError, match="unknown schema 'nope'") as info:
        load_schema("nope")
    for name in SCHEMA_NAMES:
        assert name in str(info.value)


def test_problem_schema_accepts_a_problem_and_rejects_a_success_status() -> None:
    """problem.json requires type/title/status/detail and an error status."""
    problem = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "x"}
    assert_valid("problem", problem)
    assert not validator("problem").is_valid({**problem, "status": 200})
    assert not validator("problem").is_valid({k: v for k, v in problem.items() if k != "type"})


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_shipped_files_are_generated_from_the_one_source(name: str) -> None:
    """Each shipped .json is byte for byte what its source generates (no file is edited by hand)."""
    shipped = resources.files("memwatch.schemas").joinpath(f"{name}.json").read_text("utf-8")
    assert shipped == generate.render_text(name), (
        f"{name}.json differs from memwatch/schemas/_source.py: "
        "edit the source and run python -m memwatch.schemas.generate"
    )


def test_the_source_describes_exactly_the_shipped_bodies() -> None:
    """The generator's bodies are SCHEMA_NAMES, and every definition is used by some body."""
    assert sorted(_source.BODIES) == list(SCHEMA_NAMES)
    used = {ref for name in SCHEMA_NAMES for ref in generate.render(name).get("$defs", {})}
    assert used == set(_source.DEFINITIONS)


def test_generate_check_reports_a_hand_edited_file_and_writing_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check exits 1 naming a stale file; a plain run rewrites it; --check then exits 0."""
    assert generate.main(["--output", str(tmp_path)]) == 0
    edited = tmp_path / "status.json"
    edited.write_text(edited.read_text("utf-8").replace('"minimum": 0', '"minimum": 1', 1), "utf-8")
    capsys.readouterr()
    assert generate.main(["--check", "--output", str(tmp_path)]) == 1
    assert "status.json: differs from its source" in capsys.readouterr().out
    assert generate.main(["--output", str(tmp_path)]) == 0
    assert generate.main(["--check", "--output", str(tmp_path)]) == 0
    assert json.loads(edited.read_text("utf-8")) == load_schema("status")


def test_memory_without_a_limit_is_null_where_unknown() -> None:
    """A memory without limit, usage or projection (nulls) is valid; an unknown source is not."""
    unknown = dict.fromkeys(
        ["limit_bytes", "used_bytes", "headroom_bytes", "seconds_to_limit", "oom_kills"]
    )
    assert_valid("status", {**SEED_STATUS, "memory": {**unknown, "limit_source": "none"}})
    wrong = {**SEED_STATUS, "memory": {**unknown, "limit_source": "kubernetes"}}
    assert not validator("status").is_valid(wrong)
