"""Checks of the HTTP contract: every body against its schema, every response's headers.

Shared by the core's tests, the conformance suite and any adapter's own tests.
Every body is validated with jsonschema's Draft202012Validator and format
checking against the schemas memwatch ships (``memwatch.schemas``), resolved
through a registry so a schema's ``$defs`` can be addressed on their own
(``defs_validator("GCStats")``).
"""

from __future__ import annotations

import functools
import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from memwatch.schemas import SCHEMA_NAMES, load_schema

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "SCHEMA_FOR_BODY",
    "SCHEMA_FOR_DEF",
    "assert_common_headers",
    "assert_problem",
    "assert_valid",
    "defs_validator",
    "registry",
    "validator",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"

SCHEMA_FOR_BODY = {
    "Status": "status",
    "Profile": "profile",
    "ProfileIdList": "profile_id_list",
    "ProfileList": "profile_list",
    "WorkerList": "workers",
    "Message": "message",
    "GCResult": "gc_result",
    "Problem": "problem",
    "SampleSeries": "sample_series",
    "RouteIndex": "index",
}
"""Which schema describes each top-level model (by class name)."""

SCHEMA_FOR_DEF = {
    "ProfileSummary": "profile_id_list",
    "Worker": "workers",
}
"""The body whose ``$defs`` hold a definition that status.json does not reach."""


@functools.cache
def registry() -> Registry[Any]:
    """Every shipped schema, addressable by its ``$id``."""
    schemas = [load_schema(name) for name in SCHEMA_NAMES]
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas
    )


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A format-checking validator for the schema ``name`` (one of SCHEMA_NAMES)."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry(), format_checker=FormatChecker())


@functools.cache
def defs_validator(def_name: str, schema_name: str = "status") -> Draft202012Validator:
    """A validator for one ``$defs`` entry (e.g. ``"GCStats"``) of a shipped schema."""
    base = load_schema(schema_name)["$id"]
    return Draft202012Validator(
        {"$ref": f"{base}#/$defs/{def_name}"},
        registry=registry(),
        format_checker=FormatChecker(),
    )


def _decode(body: bytes | str | Mapping[str, Any]) -> Any:
    if isinstance(body, bytes):
        return json.loads(body.decode("utf-8"))
    if isinstance(body, str):
        return json.loads(body)
    return body


def assert_valid(name: str, body: bytes | str | Mapping[str, Any]) -> Any:
    """Assert that ``body`` (JSON bytes/text or decoded) is valid under schema ``name``.

    Returns the decoded body, so a test can go on checking values.
    """
    instance = _decode(body)
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return instance


def _header(headers: Any, name: str) -> str | None:
    items: Iterable[tuple[str, str]] = headers.items() if hasattr(headers, "items") else headers
    found = [value for key, value in items if key.lower() == name.lower()]
    assert len(found) <= 1, f"header {name} appears {len(found)} times"
    return found[0] if found else None


def assert_common_headers(headers: Any, *, content_type: str | None, pid: int) -> None:
    """Assert the headers every memwatch response carries.

    ``headers`` is a mapping or an iterable of ``(name, value)`` pairs.
    """
    assert _header(headers, "Cache-Control") == "no-store"
    assert _header(headers, "Memwatch-Pid") == str(pid)
    assert _header(headers, "Content-Type") == content_type


def assert_problem(status: int, headers: Any, body: bytes, *, pid: int) -> dict[str, Any]:
    """Assert a valid problem+json response with this status; return the decoded problem."""
    assert_common_headers(headers, content_type=PROBLEM_CONTENT_TYPE, pid=pid)
    problem: dict[str, Any] = assert_valid("problem", body)
    assert problem["status"] == status
    assert problem["title"] == HTTPStatus(status).phrase
    assert problem["detail"]
    assert "Traceback" not in problem["detail"]
    return problem
