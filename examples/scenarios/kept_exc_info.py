"""Scenario: ``sys.exc_info()`` kept for a later report; it pins every frame of the request."""

from __future__ import annotations

import itertools
import sys
from typing import Any

from flask import Flask

CULPRIT = {"type": "kept_exc_info.PaymentDeclinedError", "root": "kept_exc_info.RECENT_ERRORS"}
RECENT_ERRORS: list[Any] = []
_requests = itertools.count()


class PaymentDeclinedError(Exception):
    """The payment provider said no."""


def charge(amount: int) -> None:
    """Fails for every amount, with a few locals in the failing frame."""
    basket = [amount] * 50  # culprit
    raise PaymentDeclinedError(len(basket))  # culprit


def create_app() -> Flask:
    """The service: /work handles a declined payment and keeps the exception for a report."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        try:
            charge(next(_requests))
        except PaymentDeclinedError:
            RECENT_ERRORS.append(sys.exc_info())  # culprit
        return "declined"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
