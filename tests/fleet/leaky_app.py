"""A leaking Flask service for gunicorn (``leaky_app:app``), its watcher tuned to decide in seconds.

``/leak`` keeps 100 objects of a kilobyte each per request, about what a
cache that never evicts keeps; the watcher samples every quarter second and
its trend detector decides within seconds instead of minutes.
"""

from __future__ import annotations

import flask

from memwatch.auth import allow_all
from memwatch.watcher import Watcher
from memwatch_flask import Memwatch

DETECTOR = {
    "resolution": 0.25,
    "warmup": 0.0,
    "window": 10.0,
    "quick_span": 2.0,
    "min_span": 2.0,
    "recent_span": 2.0,
    "confirm": 0.5,
    "segments": 4,
    "min_rate": 1024.0 * 1024,
    "min_growth": 0.05,
}


class LeakyThing:
    """What the leak keeps: an object holding a kilobyte."""

    def __init__(self) -> None:
        self.payload = bytearray(1024)


KEPT: list[LeakyThing] = []

app = flask.Flask(__name__)
Memwatch(
    app,
    auth=allow_all(),
    watcher=Watcher(sample_interval=0.25, detector_options=DETECTOR, capture_seconds=2.0),
)


@app.get("/leak")
def leak() -> str:
    """Keep 100 more objects, for ever."""
    KEPT.extend(LeakyThing() for _ in range(100))
    return "kept"
