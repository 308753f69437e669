r"""Text the models can always serialize, and the attrs helpers every model module shares.

The heap and the file system hand memwatch text that UTF-8 cannot encode: a
class whose ``__qualname__`` holds a lone surrogate (``"Bad\udcff"``), a traced
file under a directory whose name is not UTF-8, an attribute name set through
``setattr``. :func:`encodable` escapes such code points; :func:`encodable_strings`
applies it to every ``str`` field (and every ``tuple[str, ...]`` field) when a
model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["encodable", "encodable_all", "encodable_strings", "json_key"]


def json_key(name: str, **kwargs: Any) -> Any:
    """An attrs field whose JSON key is ``name``."""
    return attrs.field(metadata={"json": name}, **kwargs)


def encodable(text: str) -> str:
    r"""``text`` with each code point UTF-8 cannot encode (a lone surrogate) backslash-escaped.

    Encodable text comes back unchanged; a str subclass comes back as a plain
    ``str`` when anything had to change.

    Args:
        text: Any string, e.g. ``"Bad\udcff"`` (a lone surrogate).

    Returns:
        A string that ``.encode("utf-8")`` accepts, e.g. ``"Bad\\udcff"``
        (a backslash, then ``udcff``).
    """
    if str.isascii(text):
        return text
    return str.encode(text, "utf-8", "backslashreplace").decode("utf-8")


def encodable_all(texts: Iterable[str]) -> tuple[str, ...]:
    """Each of ``texts`` made :func:`encodable`, as a tuple."""
    return tuple(map(encodable, texts))


def encodable_strings(
    _cls: type, fields: Sequence[attrs.Attribute[Any]]
) -> list[attrs.Attribute[Any]]:
    """Field transformer for attrs: ``str`` and ``tuple[str, ...]`` fields are made encodable."""
    return [
        field.evolve(converter=encodable)
        if field.type in ("str", str)
        else field.evolve(converter=encodable_all)
        if field.type in ("tuple[str, ...]", tuple[str, ...])
        else field
        for field in fields
    ]
