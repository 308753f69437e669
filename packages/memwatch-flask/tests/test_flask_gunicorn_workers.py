"""Flask under gunicorn with two forked workers: each answers with its own pid and watcher."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from memwatch.testing.contract import assert_common_headers, assert_valid
from memwatch.testing.servers import gunicorn

HERE = Path(__file__).parent


def _parent_of(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(sys.platform != "linux", reason="reads worker parentage from /proc")
def test_flask_under_gunicorn_each_worker_answers_for_its_own_process():
    """Under gunicorn each answer names the worker that gave it, a child of the master."""
    pids: set[int] = set()
    with (
        gunicorn("gunicorn_app:app", pythonpath=str(HERE), workers=2) as running,
        httpx.Client(base_url=running.base_url, timeout=10) as client,
    ):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(pids) < 2:
            # A new connection per request lets the kernel spread them over both workers.
            response = client.get("/ah/memoryProfile/status", headers={"Connection": "close"})
            assert response.status_code == 200
            body = assert_valid("status", response.content)
            worker = body["process"]["pid"]
            assert_common_headers(response.headers, content_type="application/json", pid=worker)
            assert worker not in (os.getpid(), running.master)
            assert _parent_of(worker) == running.master
            assert body["watcher"]["running"] is True
            pids.add(worker)
    assert len(pids) == 2, pids
