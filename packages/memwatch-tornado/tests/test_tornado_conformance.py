"""memwatch-tornado passes the conformance suite under Tornado's own server."""

from __future__ import annotations

from typing import Any

from tornado.web import Application, RequestHandler

from memwatch.testing import ConformanceSuite, healthy, leak
from memwatch_tornado import memwatch_handlers


class Leak(RequestHandler):
    def get(self) -> None:
        self.write(leak())


class Healthy(RequestHandler):
    def get(self) -> None:
        self.write(healthy())


class TestTornado(ConformanceSuite):
    server = "tornado"
    event_loop = True

    def make_app(self, **memwatch: Any) -> Any:
        return Application(
            [*memwatch_handlers(**memwatch), (r"/leak", Leak), (r"/healthy", Healthy)]
        )
