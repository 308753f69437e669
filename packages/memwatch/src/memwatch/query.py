"""Query strings: the parameters the routes read, parsed and validated, and quoting for details.

A bad value is a :class:`BadQueryError` whose ``detail`` is the client's 400
answer. Details quote what the client sent with :func:`quote`: at most 64
characters of it, so an answer never echoes megabytes back.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

__all__ = ["BadQueryError", "flag", "quote"]

_QUOTE_LIMIT = 64
_MAX_QUERY_FIELDS = 64


def quote(text: str) -> str:
    """``repr`` of at most the first 64 characters: details never echo megabytes back."""
    if len(text) > _QUOTE_LIMIT:
        return f"{text[:_QUOTE_LIMIT]!r}... ({len(text)} characters)"
    return repr(text)


class BadQueryError(Exception):
    """A query string the route cannot take; ``detail`` says why, for a 400 problem."""

    def __init__(self, detail: str) -> None:
        """Keep the detail."""
        super().__init__(detail)
        self.detail = detail


def flag(query: str, parameter: str) -> bool:
    """The boolean query parameter ``parameter`` (``true``/``false``/``1``/``0``); absent: False.

    Raises:
        BadQueryError: another value, conflicting values, or more than 64 parameters.
    """
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS)
    except ValueError:
        raise BadQueryError(
            f"The query string has more than {_MAX_QUERY_FIELDS} parameters."
        ) from None
    chosen: dict[bool, str] = {}
    for name, value in pairs:
        if name != parameter:
            continue
        lowered = value.lower()
        if lowered in ("true", "1"):
            chosen.setdefault(True, value)
        elif lowered in ("false", "0"):
            chosen.setdefault(False, value)
        else:
            raise BadQueryError(
                f"Query parameter {parameter!r} must be true, false, 1 or 0; got {quote(value)}."
            )
    if len(chosen) > 1:
        raise BadQueryError(
            f"Query parameter {parameter!r} was given conflicting values: "
            f"{quote(chosen[True])} and {quote(chosen[False])}."
        )
    return True in chosen
