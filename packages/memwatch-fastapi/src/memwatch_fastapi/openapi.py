"""The OpenAPI description of memwatch's routes, built from the core's route table and schemas.

Nothing here is kept by hand: each route's success status, media type, body
schemas and query parameters come from its :class:`memwatch.routes.Route`, and
the schemas are the JSON Schemas memwatch ships (:mod:`memwatch.schemas`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memwatch.schemas import load_schema
from memwatch.wire import PROBLEM_JSON

if TYPE_CHECKING:
    from memwatch.routes import Route

__all__ = ["openapi_schema", "parameters", "responses"]


def openapi_schema(name: str) -> dict[str, Any]:
    """One of the core's JSON Schemas, made self-contained for embedding in an OpenAPI document.

    The shipped schemas are standalone resources (``$id``, ``$schema``, refs to
    their own ``#/$defs``). Embedded in an OpenAPI document, ``#/$defs/...``
    would resolve against the document's root, so each ref is replaced by the
    definition it names (the schemas are not recursive) and ``$id`` /
    ``$schema`` are dropped: the result is plain OpenAPI 3.1 Schema Object.

    Args:
        name: One of :data:`memwatch.schemas.SCHEMA_NAMES`.
    """
    schema = load_schema(name)
    defs: dict[str, Any] = schema.pop("$defs", {})
    schema.pop("$id", None)
    schema.pop("$schema", None)
    inlined: dict[str, Any] = _inline(schema, defs)
    return inlined


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    rest = {key: _inline(value, defs) for key, value in node.items() if key != "$ref"}
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **rest}
    return rest if ref is None else {"$ref": ref, **rest}


def responses(route: Route) -> dict[int | str, dict[str, Any]]:
    """The route's OpenAPI responses: its success with its body schema(s), and problem+json."""
    schemas = [openapi_schema(name) for name in route.bodies]
    body: dict[str, Any] = {"anyOf": schemas} if len(schemas) > 1 else schemas[0] if schemas else {}
    problem = {PROBLEM_JSON: {"schema": openapi_schema("problem")}}
    return {
        route.status: {"content": {route.media_type: {"schema": body}}},
        "4XX": {"description": "An RFC 9457 problem", "content": problem},
    }


def parameters(route: Route) -> list[dict[str, Any]]:
    """The route's query parameters as OpenAPI Parameter Objects."""
    return [
        {
            "name": query.name,
            "in": "query",
            "required": False,
            "description": query.description,
            "schema": {"type": "string", "enum": list(query.values)}
            if query.values
            else {"type": "string", "pattern": query.pattern},
        }
        for query in route.query
    ]
