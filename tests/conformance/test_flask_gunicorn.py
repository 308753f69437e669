"""Flask under gunicorn with two forked workers: each answers with its own pid and watcher."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from contract import assert_common_headers, assert_valid

pytest.importorskip("memwatch_flask")
pytest.importorskip("gunicorn")

HERE = Path(__file__).parent
CLOSE = {"Connection": "close"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parent_of(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(sys.platform != "linux", reason="reads worker parentage from /proc")
def test_flask_under_gunicorn_each_worker_answers_for_its_own_process():
    """Under gunicorn each answer names the worker that gave it, a child of the master."""
    port = _free_port()
    master = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(HERE),
            "--log-level",
            "warning",
            "gunicorn_app:app",
        ],
    )
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            while time.monotonic() < deadline and len(pids) < 2:
                try:
                    # A new connection per request lets the kernel spread them over both workers.
                    response = client.get(
                        "/ah/memoryProfile/status", headers={"Connection": "close"}
                    )
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                assert response.status_code == 200
                body = assert_valid("status", response.content)
                worker = body["process"]["pid"]
                assert_common_headers(response.headers, content_type="application/json", pid=worker)
                assert worker not in (os.getpid(), master.pid)
                assert _parent_of(worker) == master.pid
                assert body["watcher"]["running"] is True
                pids.add(worker)
        assert pids, "gunicorn never answered"
    finally:
        master.terminate()
        master.wait(15)
