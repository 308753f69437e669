"""Scenario: a set of pending jobs; finished jobs are never discarded from it."""

from __future__ import annotations

import itertools
from concurrent.futures import Future

from flask import Flask

CULPRIT = {"type": "pending_jobs.PendingJob", "root": "pending_jobs.PENDING"}
_requests = itertools.count()


class PendingJob:
    """A unit of background work and the future its result arrives on."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.future: Future[str] = Future()
        self.arguments = {"job": job_id, "retries": 3}


PENDING: set[PendingJob] = set()


def create_app() -> Flask:
    """The service: /work queues a job, completes it at once, and forgets to discard it."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        job = PendingJob(next(_requests))  # culprit
        PENDING.add(job)
        job.future.add_done_callback(lambda done: done.result())
        job.future.set_result("ok")
        return "queued"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
