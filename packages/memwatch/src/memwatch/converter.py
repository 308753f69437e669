"""The one cattrs converter that turns :mod:`memwatch.models` into the JSON of the contract.

Shaped like cattrs' ``preconf`` modules: :func:`configure_converter` installs
memwatch's rules on any converter, :func:`make_converter` builds a fresh one,
and :data:`converter` is the shared instance. The rules are generic, never per
model:

- a field's JSON key is ``metadata["json"]`` when set, else its name;
- every ``size_bytes`` is followed by a derived ``size`` string (``"1.78 mb"``),
  ignored when structuring;
- datetimes are RFC 3339 UTC ending in ``Z``, and an unset one is ``""``;
- tuples become JSON arrays.

The generated hooks' source is not put in ``linecache`` (cattrs' default):
it would sit in the application's ``linecache.cache`` for the process's life,
and a census would count its lists among the application's objects.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from memwatch.formatting import format_size, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["configure_converter", "converter", "dumps", "loads", "make_converter"]

_T = TypeVar("_T")

_OptionalDatetime = dt.datetime | None


def _structure_timestamp(value: Any, _: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        msg = f"expected an RFC 3339 timestamp string, got {type(value).__name__}"
        raise TypeError(msg)
    return parse_timestamp(value)


def _json_overrides(cls: type) -> dict[str, Any]:
    return {
        field.name: override(rename=field.metadata["json"])
        for field in attrs.fields(cls)
        if "json" in field.metadata
    }


def _with_size(unstructure: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    def unstructure_with_size(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in unstructure(obj).items():
            out[key] = value
            if key == "size_bytes":
                out["size"] = format_size(value)
        return out

    return unstructure_with_size


def configure_converter(conv: cattrs.Converter) -> None:
    """Install memwatch's JSON rules on ``conv``."""

    def is_optional_datetime(tp: Any) -> bool:
        return tp == _OptionalDatetime or tp is dt.datetime

    conv.register_unstructure_hook_func(is_optional_datetime, format_timestamp)
    conv.register_structure_hook_func(is_optional_datetime, _structure_timestamp)

    def unstructure_factory(cls: type) -> Callable[[Any], dict[str, Any]]:
        base: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
            cls, conv, _cattrs_use_linecache=False, **_json_overrides(cls)
        )
        if "size_bytes" in attrs.fields_dict(cls):
            return _with_size(base)
        return base

    def structure_factory(cls: type) -> Callable[[Any, Any], Any]:
        return make_dict_structure_fn(
            cls, conv, _cattrs_use_linecache=False, **_json_overrides(cls)
        )

    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    conv.register_structure_hook_factory(attrs.has, structure_factory)


def make_converter() -> cattrs.Converter:
    """A new converter with memwatch's JSON rules installed."""
    conv = cattrs.Converter(unstruct_collection_overrides={tuple: list})
    configure_converter(conv)
    return conv


converter: cattrs.Converter = make_converter()
"""The shared converter; use it rather than building one per call."""


# json.dumps builds a new encoder on every call that passes options; one kept encoder does not.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(obj: Any) -> bytes:
    """Serialize a model to compact UTF-8 JSON bytes."""
    return _ENCODER.encode(converter.unstructure(obj)).encode("utf-8")


def loads(data: bytes | str, cls: type[_T]) -> _T:
    """Parse JSON produced by :func:`dumps` back into a ``cls`` instance."""
    return converter.structure(json.loads(data), cls)
