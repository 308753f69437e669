"""Scenario: numpy arrays kept in a list; their buffers are C memory, the arrays untracked."""

from __future__ import annotations

import numpy as np
from flask import Flask

CULPRIT = {"type": "numpy.ndarray", "root": "numpy_arrays.HISTORY"}
HISTORY: list[np.ndarray] = []


def create_app() -> Flask:
    """The service: /work keeps the feature vector of every request."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        features = np.ones(2000)  # culprit
        HISTORY.append(features)
        return f"{features.sum():.0f}"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
