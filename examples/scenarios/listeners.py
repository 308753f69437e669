"""Scenario: a listener registered per request on a global event bus and never removed."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from collections.abc import Callable

CULPRIT = {"type": "listeners.RequestAuditor", "root": "listeners.BUS"}
_requests = itertools.count()


class EventBus:
    """Calls every subscribed listener for each event."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def publish(self, event: str) -> None:
        for listener in self._listeners[-5:]:
            listener(event)


class RequestAuditor:
    """Audits the events seen while one request runs."""

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        self.seen: list[str] = []
        self.tags = {"request": str(request_id), "kind": "audit"}

    def on_event(self, event: str) -> None:
        self.seen.append(event)


BUS = EventBus()


def create_app() -> Flask:
    """The service: /work subscribes an auditor (a bound method and a closure) per request."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        auditor = RequestAuditor(next(_requests))  # culprit
        BUS.subscribe(auditor.on_event)
        BUS.subscribe(lambda event: auditor.seen.append(event.upper()))
        BUS.publish("request")
        return "audited"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
