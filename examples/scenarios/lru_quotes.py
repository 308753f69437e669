"""Scenario: ``lru_cache(maxsize=None)`` on a function whose arguments are never the same twice."""

from __future__ import annotations

import functools
import itertools

from flask import Flask

CULPRIT = {"type": "lru_quotes.Quote", "root": "lru_cache lru_quotes.quote_for"}
_requests = itertools.count()


class Quote:
    """A priced quote for one symbol at one moment."""

    def __init__(self, symbol: str, moment: int) -> None:
        self.symbol = symbol
        self.moment = moment
        self.legs = [float(moment + i) for i in range(40)]  # culprit


@functools.lru_cache(maxsize=None)  # noqa: UP033 - the pattern as services write it
def quote_for(symbol: str, moment: int) -> Quote:
    """Cached per (symbol, moment): the moment is new on every request."""
    return Quote(symbol, moment)  # culprit


def create_app() -> Flask:
    """The service: /work prices a quote for "now"."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        quote = quote_for("ACME", next(_requests))
        return f"{quote.symbol} {len(quote.legs)}"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
