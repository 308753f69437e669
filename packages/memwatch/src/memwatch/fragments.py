"""JSON of a model whose parts are replaced, never mutated: each part's JSON kept while it stands.

A status is rebuilt on every request, but most of it does not change between
two requests: the latest diff, leak and collection reports (most of its bytes)
are the same frozen objects until the watcher replaces them, and so is the
process part (:func:`memwatch.process.process_info` hands the same object back
while its readings stand). :class:`FieldwiseEncoder` serializes a frozen attrs
model field by field and keeps, per field, the last value with its JSON, so a
status request serializes only the parts that are new objects, not the whole
body. Its bytes are exactly :func:`memwatch.converter.dumps`'s.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from memwatch.converter import dumps

__all__ = ["FieldwiseEncoder"]

_M = TypeVar("_M", bound=attrs.AttrsInstance)


class FieldwiseEncoder(Generic[_M]):
    """Serializes instances of one frozen attrs class, reusing each field's JSON while it stands.

    A field's JSON is reused when the new value is the very object the last one
    was (``is``): equality would not do, since equal values can serialize
    differently (``1`` and ``1.0``, ``0.0`` and ``-0.0``). Values must be
    immutable, as frozen models are: a mutated value would be served as it was.

    Args:
        cls: The model's class; its fields' JSON keys come from ``metadata["json"]``
            as the converter's do.
    """

    def __init__(self, cls: type[_M]) -> None:
        """Prepare the keys of ``cls``'s fields."""
        fields = attrs.fields(cls)
        self._names = tuple(field.name for field in fields)
        self._keys = tuple(dumps(field.metadata.get("json", field.name)) + b":" for field in fields)
        # Two threads may encode at once; each slot is replaced whole, so a reader sees
        # either the old pair or the new one: no lock is needed.
        self._last: list[tuple[Any, bytes] | None] = [None] * len(fields)

    def encode(self, model: _M) -> bytes:
        """``model`` as compact UTF-8 JSON: the bytes :func:`~memwatch.converter.dumps` gives."""
        parts = []
        for slot, name in enumerate(self._names):
            value = getattr(model, name)
            last = self._last[slot]
            if last is None or last[0] is not value:
                last = (value, dumps(value))
                self._last[slot] = last
            parts.append(self._keys[slot] + last[1])
        return b"{" + b",".join(parts) + b"}"
