"""Flask under gunicorn -w 3 with the host store it chose by itself: any worker answers for all.

gunicorn's gthread workers keep a connection open, so one httpx client per
worker talks to that worker only: the test can ask worker A about worker B's
profile and know that A answered. No ``MEMWATCH_DIR``: the workers find their
shared store on their own (under ``$XDG_RUNTIME_DIR``, pointed at the test's
directory). Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from memwatch.testing.contract import assert_common_headers, assert_valid

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytest.importorskip("memwatch_flask")
pytest.importorskip("gunicorn")

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="gunicorn forks; reads /proc")

HERE = Path(__file__).parent
WORKERS = 3
BOOT_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _eventually(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


class Fleet:
    """The gunicorn master and one keep-alive client per worker, by the worker's pid."""

    def __init__(self, master: subprocess.Popen[bytes], base_url: str) -> None:
        self.master = master
        self.base_url = base_url
        self.clients: dict[int, httpx.Client] = {}

    def connect(self) -> None:
        """Open clients until every worker has one (the kernel spreads new connections)."""
        deadline = time.monotonic() + BOOT_SECONDS
        while len(self.clients) < WORKERS and time.monotonic() < deadline:
            client = httpx.Client(base_url=self.base_url, timeout=60)
            try:
                pid = int(client.get("/ah/memoryProfile/status").headers["Memwatch-Pid"])
            except httpx.TransportError:
                client.close()
                time.sleep(0.2)
                continue
            if pid in self.clients:
                client.close()
            else:
                self.clients[pid] = client
        assert len(self.clients) == WORKERS, f"only {sorted(self.clients)} answered"

    def _reconnect(self, pid: int) -> httpx.Client:
        """A new client talking to worker ``pid`` (gunicorn sometimes closes a kept connection)."""
        self.clients[pid].close()
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline:
            client = httpx.Client(base_url=self.base_url, timeout=60)
            answer = client.get("/ah/memoryProfile/status")
            if int(answer.headers["Memwatch-Pid"]) == pid:
                self.clients[pid] = client
                return client
            client.close()
        pytest.fail(f"worker {pid} took no new connection within {BOOT_SECONDS} s")

    def each(self, method: str, path: str) -> dict[int, httpx.Response]:
        """The same request to every worker; each answer checked to come from that worker."""
        answers = {}
        for pid in list(self.clients):
            response = self.clients[pid].request(method, path)
            if response.headers["Memwatch-Pid"] != str(pid):
                response = self._reconnect(pid).request(method, path)
            assert response.headers["Memwatch-Pid"] == str(pid)
            answers[pid] = response
        return answers

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """gunicorn -w 3 (gthread) serving the conformance app, its store under ``tmp_path``."""
    port = _free_port()
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "MEMWATCH_DIR": "", "MEMWATCH_STORE": ""}
    master = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "gthread",
         "--threads", "4", "--keep-alive", "120", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(HERE),
         "--log-level", "warning", "gunicorn_app:app"],
        env=env, stderr=subprocess.PIPE,
    )  # fmt: skip
    served = Fleet(master, f"http://127.0.0.1:{port}")
    try:
        served.connect()
        yield served
    finally:
        served.close()
        master.terminate()
        try:
            _, err = master.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            master.kill()
            _, err = master.communicate(timeout=10)
    assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


def _same(answers: dict[int, httpx.Response], schema: str | None = None) -> Any:
    bodies = {pid: r.json() for pid, r in answers.items()}
    for pid, response in answers.items():
        assert response.status_code == 200, (pid, response.text)
        assert_common_headers(response.headers, content_type="application/json", pid=pid)
        if schema:
            assert_valid(schema, response.content)
    first, *others = bodies.values()
    assert all(body == first for body in others), bodies
    return first


def test_every_worker_answers_the_same_for_every_worker(fleet: Fleet) -> None:
    """Profiles started and ended across workers read the same from all three; so do the workers."""
    a, b, c = sorted(fleet.clients)
    workers = _eventually(
        lambda: len(fleet.clients[a].get("/ah/workers").json()["workers"]) == WORKERS
    )
    assert workers, fleet.clients[a].get("/ah/workers").text
    started = fleet.clients[a].post(f"/ah/memoryProfile?pid={b}")
    assert started.status_code == 201, started.text
    profile = assert_valid("profile", started.content)
    assert (profile["pid"], profile["state"]) == (b, "running")
    ended = fleet.clients[c].post(f"/ah/memoryProfile/{profile['id']}/end")
    assert ended.status_code == 200, ended.text
    finished = assert_valid("profile", ended.content)
    assert (finished["pid"], finished["state"]) == (b, "complete")
    assert finished["lastDiff"]["after"]["nodes"] > 0

    listed = _same(fleet.each("GET", "/ah/memory"), "profile_id_list")
    assert profile["id"] in listed["memoryProfiles"]
    details = _same(fleet.each("GET", "/ah/memory?details=true"), "profile_list")
    assert {p["id"]: p["pid"] for p in details["memoryProfiles"]}[profile["id"]] == b
    assert _same(fleet.each("GET", f"/ah/memoryProfile/{profile['id']}"), "profile") == finished
    stored = _same(fleet.each("GET", f"/ah/memoryProfile/status?pid={b}"), "status")
    assert stored["process"]["pid"] == b
    listing = {
        pid: sorted((w["pid"], w["alive"]) for w in r.json()["workers"])
        for pid, r in fleet.each("GET", "/ah/workers").items()
    }
    assert all(rows == [(a, True), (b, True), (c, True)] for rows in listing.values()), listing
    metrics = fleet.each("GET", "/ah/metrics")
    for response in metrics.values():
        assert response.status_code == 200
        for pid in (a, b, c):
            assert f'memwatch_heap_bytes{{pid="{pid}"}}' in response.text

    deleted = fleet.clients[a].delete(f"/ah/memoryProfile/{profile['id']}")
    assert deleted.status_code == 200
    for response in fleet.each("GET", f"/ah/memoryProfile/{profile['id']}").values():
        assert response.status_code == 404


def test_a_worker_killed_with_sigkill_loses_no_finished_profile(fleet: Fleet) -> None:
    """After SIGKILL its finished profile reads complete from the others; its running one fails."""
    client = fleet.clients[min(fleet.clients)]
    finished = client.post("/ah/memoryProfile").json()
    victim = finished["pid"]
    ended = client.post(f"/ah/memoryProfile/{finished['id']}/end").json()
    assert (ended["state"], ended["pid"]) == ("complete", victim)
    running = client.post(f"/ah/memoryProfile?pid={victim}").json()
    assert (running["state"], running["pid"]) == ("running", victim)
    os.kill(victim, signal.SIGKILL)
    other = next(c for pid, c in fleet.clients.items() if pid != victim)
    kept = other.get(f"/ah/memoryProfile/{finished['id']}")
    assert kept.status_code == 200
    assert (kept.json()["state"], kept.json()["pid"]) == ("complete", victim)

    def failed() -> dict[str, Any] | None:
        body = other.get(f"/ah/memoryProfile/{running['id']}").json()
        return body if body["state"] == "failed" else None

    body = _eventually(failed)
    assert body is not None, "the dead worker's running profile never failed"
    assert body["error"] == "worker exited"
    rows = {w["pid"]: w["alive"] for w in other.get("/ah/workers").json()["workers"]}
    assert rows[victim] is False
