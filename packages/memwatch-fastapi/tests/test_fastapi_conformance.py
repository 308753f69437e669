"""memwatch-fastapi passes the conformance suite under uvicorn."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from memwatch.testing import ConformanceSuite, healthy, leak
from memwatch_fastapi import memwatch_router


class TestFastAPI(ConformanceSuite):
    server = "uvicorn"
    event_loop = True

    def make_app(self, **memwatch: Any) -> Any:
        app = FastAPI()
        app.add_api_route("/leak", leak, response_class=PlainTextResponse)
        app.add_api_route("/healthy", healthy, response_class=PlainTextResponse)
        app.include_router(memwatch_router(**memwatch))
        return app
