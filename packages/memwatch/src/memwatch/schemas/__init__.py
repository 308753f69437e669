"""JSON Schemas (draft 2020-12) of every body memwatch's HTTP API serves.

One schema per response body, each self-contained (shared parts live in its
own ``$defs``), shipped as package data so clients and adapter tests can
validate against exactly what the server was built with::

    from memwatch.schemas import load_schema

    schema = load_schema("status")  # or "status.json"

Every key of the contract (the HTTP reference, docs/http-api.md) and every key
memwatch's converter emits is ``required``; extra keys are allowed, so a client
written against these schemas keeps working when memwatch adds keys.

The ``.json`` files are generated from one source, ``memwatch/schemas/_source.py``
(each shared definition written once), by ``python -m memwatch.schemas.generate``;
edit the source, never a file.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_NAMES", "load_schema"]

SCHEMA_NAMES: tuple[str, ...] = (
    "gc_result",
    "index",
    "message",
    "problem",
    "profile",
    "profile_id_list",
    "profile_list",
    "sample_series",
    "status",
    "workers",
)
"""The names :func:`load_schema` accepts, one per response body."""


@functools.cache
def _read(name: str) -> dict[str, Any]:
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_schema(name: str) -> dict[str, Any]:
    """Return the JSON Schema of one response body.

    The files are read once; each call returns a fresh deep copy, so callers
    may modify what they get without affecting later calls.

    Args:
        name: One of :data:`SCHEMA_NAMES`, with or without the ``.json`` suffix.

    Returns:
        The schema as a dict, with ``$schema`` and ``$id`` set.

    Raises:
        ValueError: if ``name`` is not one of :data:`SCHEMA_NAMES`.
    """
    stem = name.removesuffix(".json")
    if stem not in SCHEMA_NAMES:
        choices = ", ".join(SCHEMA_NAMES)
        raise ValueError(f"unknown schema {name!r}; choose one of: {choices}")
    return copy.deepcopy(_read(stem))
