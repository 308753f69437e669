"""Worker processes: each its own heap, nothing inherited reported twice, profiles shared by all.

gunicorn with ``--preload`` and two workers (the master imports the app, starts
the watcher, collects 3000 times and starts a profile before forking), and
uvicorn with ``--workers 2``; both on a free 127.0.0.1 port, every wait bounded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from memwatch.testing.contract import assert_common_headers, assert_valid

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="forks and reads /proc"),
]

APPS = Path(__file__).parent / "apps"
CLOSE = {"Connection": "close"}  # a new connection per request spreads them over the workers
BOOT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _get(client: httpx.Client, path: str) -> httpx.Response | None:
    try:
        return client.get(path, headers=CLOSE)
    except httpx.TransportError:
        time.sleep(0.1)
        return None


def _by_worker(client: httpx.Client, path: str, workers: int) -> dict[int, httpx.Response]:
    """One answer of ``path`` from each of ``workers`` workers, keyed by the pid that answered."""
    answers: dict[int, httpx.Response] = {}
    deadline = time.monotonic() + BOOT_SECONDS
    while len(answers) < workers and time.monotonic() < deadline:
        response = _get(client, path)
        if response is not None:
            answers.setdefault(int(response.headers["Memwatch-Pid"]), response)
    assert len(answers) == workers, f"only {sorted(answers)} answered within {BOOT_SECONDS} s"
    return answers


def _serve(command: list[str], env: dict[str, str]):
    return subprocess.Popen(
        command,
        cwd=APPS,
        env={**os.environ, **env, "PYTHONPATH": str(APPS)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop(server: subprocess.Popen[bytes]) -> str:
    server.terminate()
    try:
        _, err = server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        _, err = server.communicate(timeout=10)
    return err.decode(errors="replace")


def _check_each_worker(client: httpx.Client, master: int, workers: int) -> dict[int, dict]:
    statuses = {}
    for pid, response in _by_worker(client, "/ah/memoryProfile/status", workers).items():
        assert response.status_code == 200
        body = assert_valid("status", response.content)
        assert_common_headers(response.headers, content_type="application/json", pid=pid)
        assert body["process"]["pid"] == pid
        assert pid not in {master, os.getpid()}
        assert _parent_of(pid) == master
        statuses[pid] = body
    return statuses


def _every_worker_lists_every_profile(client: httpx.Client, workers: list[int]) -> None:
    """A profile started in one worker is listed, with that worker's pid, by all of them."""
    started = client.post("/ah/memoryProfile", headers=CLOSE)
    assert started.status_code == 201
    owner, profile_id = int(started.headers["Memwatch-Pid"]), started.json()["id"]
    lists = _by_worker(client, "/ah/memory", len(workers))
    for pid, response in lists.items():
        lines = {line["id"]: line["pid"] for line in response.json()["profiles"]}
        assert lines.get(profile_id) == owner, (pid, owner, lines)


def test_gunicorn_preload_workers_report_only_their_own(tmp_path):
    """Under gunicorn --preload each worker has its own pid and counts, not the master's."""
    pytest.importorskip("gunicorn")
    pytest.importorskip("memwatch_flask")
    port, master_file = _free_port(), tmp_path / "master.json"
    command = [sys.executable, "-m", "gunicorn", "--preload", "--workers", "3"]
    command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", "preload_app:app"]
    server = _serve(command, {"HARDENING_MASTER_FILE": str(master_file)})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            statuses = _check_each_worker(client, server.pid, 3)
            master = json.loads(master_file.read_text())
            assert master["pid"] == server.pid
            assert master["collections"] >= 3000
            for body in statuses.values():
                # Counted since its fork only: far below the master's 3000 pre-fork collections.
                assert body["watcher"]["collections"] < master["collections"] // 2
                assert body["watcher"]["running"] is True
            # The master's running profile was not inherited by any worker.
            for response in _by_worker(client, "/ah/memory", 3).values():
                assert master["profile"] not in response.json()["memoryProfiles"]
            _every_worker_lists_every_profile(client, list(statuses))
    finally:
        err = _stop(server)
    assert "Traceback" not in err, err[-3000:]


def test_uvicorn_workers_report_only_their_own():
    """Under uvicorn --workers 2 each worker answers with its own pid, counts and profiles."""
    pytest.importorskip("uvicorn")
    pytest.importorskip("memwatch_fastapi")
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "asgi_app:app", "--workers", "2"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = _serve(command, {})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            statuses = _check_each_worker(client, server.pid, 2)
            for body in statuses.values():
                assert body["watcher"]["running"] is True
            _every_worker_lists_every_profile(client, list(statuses))
    finally:
        err = _stop(server)
    assert "Traceback" not in err, err[-3000:]
