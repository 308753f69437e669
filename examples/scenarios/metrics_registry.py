"""Scenario: a per-user metrics registry that grows slowly, one user at a time."""

from __future__ import annotations

import itertools

from flask import Flask

CULPRIT = {"type": "metrics_registry.UserMetrics", "root": "metrics_registry.REGISTRY"}
_requests = itertools.count()


class UserMetrics:
    """Request counters and a latency histogram for one user."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.counters = {"requests": 0, "errors": 0}
        self.histogram = [0] * 64


class Registry:
    """Metrics per user, created on first use and never expired."""

    def __init__(self) -> None:
        self.by_user: dict[str, UserMetrics] = {}

    def for_user(self, user: str) -> UserMetrics:
        if user not in self.by_user:
            self.by_user[user] = UserMetrics(user)  # culprit
        return self.by_user[user]


REGISTRY = Registry()


def create_app() -> Flask:
    """The service: /work counts a request for a user; every fourth request is a new user."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        user = f"user-{next(_requests) // 4}"
        metrics = REGISTRY.for_user(user)
        metrics.counters["requests"] += 1
        return "counted"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
