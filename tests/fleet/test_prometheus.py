"""A real Prometheus scrapes a leaking service under gunicorn with three workers.

Debian's ``prometheus`` server (``/usr/bin/prometheus``; ``tox -e prometheus``
installs it with tools/debian-packages.sh) scrapes ``/ah/metrics`` of a Flask
service under ``gunicorn -w 3`` on 127.0.0.1 once a second while a client
makes every worker leak. Its HTTP API must then show
``memwatch_leak_events_total`` rising and every worker's pid, though each
scrape reached one worker only. The alert rules of docs/fleets.md are checked
with ``promtool`` and evaluated by the same server. Every wait is bounded.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("memwatch_flask")
pytest.importorskip("gunicorn")
pytest.importorskip("prometheus_client", reason="needs memwatch[prometheus]")

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
HERE = Path(__file__).parent
DOCS = HERE.parents[1] / "docs" / "fleets.md"
WORKERS = 3
DEADLINE = 90.0

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="gunicorn forks; Debian's prometheus"),
    pytest.mark.skipif(
        not PROMETHEUS.exists(),
        reason="no /usr/bin/prometheus: apt-get install prometheus (tox -e prometheus does)",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    pytest.fail(f"{url} did not answer within {seconds} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _alert_rules() -> str:
    """The alert rules block of docs/fleets.md (the YAML block that starts with ``groups:``)."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    return next(block for block in blocks if block.startswith("groups:"))


def _query(api: str, expression: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{api}/api/v1/query", params={"query": expression}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _leak_until(stop: threading.Event, base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.is_set():
            try:
                # A new connection per request lets the kernel spread them over the workers.
                client.get("/leak", headers={"Connection": "close"})
            except httpx.TransportError:  # noqa: PERF203 - a worker restarting; go on leaking
                time.sleep(0.05)


@pytest.fixture
def service(tmp_path: Path):
    """The leaking service under gunicorn -w 3 on a free port; its base URL and master."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE), "MEMWATCH_STORE": "", "MEMWATCH_DIR": ""}
    master = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "leaky_app:app"],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/ah/memoryProfile/status", master)
        yield base, master
    finally:
        _stop(master)


@pytest.fixture
def prometheus(tmp_path: Path, service: tuple[str, subprocess.Popen[bytes]]):
    """Debian's prometheus scraping the service every second, with the docs' alert rules."""
    base, _ = service
    port = _free_port()
    rules = tmp_path / "rules.yml"
    rules.write_text(_alert_rules())
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: ['{rules}']\n"
        "scrape_configs:\n  - job_name: memwatch\n    metrics_path: /ah/metrics\n"
        f"    static_configs:\n      - targets: ['{base.removeprefix('http://')}']\n"
    )
    server = subprocess.Popen(
        [str(PROMETHEUS), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    api = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{api}/-/ready", server)
        yield api, rules
    finally:
        _stop(server)
        shutil.rmtree(tmp_path / "tsdb", ignore_errors=True)


def _worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


@pytest.mark.slow
def test_prometheus_sees_every_worker_and_the_leak(
    service: tuple[str, subprocess.Popen[bytes]], prometheus: tuple[str, Path]
) -> None:
    """Scrapes of one worker at a time show all three pids, and the leak counter rises."""
    base, master = service
    api, rules = prometheus
    if PROMTOOL.exists():
        checked = subprocess.run(
            [str(PROMTOOL), "check", "rules", str(rules)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    workers = {str(pid) for pid in _worker_pids(master.pid)}
    assert len(workers) == WORKERS
    stop = threading.Event()
    leakers = [threading.Thread(target=_leak_until, args=(stop, base)) for _ in range(2)]
    for leaker in leakers:
        leaker.start()
    try:
        deadline = time.monotonic() + DEADLINE
        seen: set[str] = set()
        leaking: dict[str, float] = {}
        rose: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            seen = {r["metric"]["pid"] for r in _query(api, "memwatch_heap_bytes")}
            leaking = {
                r["metric"]["pid"]: float(r["value"][1])
                for r in _query(api, "memwatch_leak_events_total > 0")
            }
            rose = _query(api, "increase(memwatch_leak_events_total[5m]) > 0")
            if seen == workers and leaking and rose:
                break
            time.sleep(1)
    finally:
        stop.set()
        for leaker in leakers:
            leaker.join(15)
    assert seen == workers, f"prometheus saw pids {sorted(seen)}, the workers are {sorted(workers)}"
    assert leaking, "memwatch_leak_events_total never rose above 0"
    assert set(leaking) <= workers
    assert rose, "increase(memwatch_leak_events_total[5m]) never rose above 0"
    alerts = httpx.get(f"{api}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    deadline = time.monotonic() + 10
    while not any(a["labels"]["alertname"] == "MemoryLeak" for a in alerts):
        assert time.monotonic() < deadline, f"the MemoryLeak alert never fired: {alerts}"
        time.sleep(1)
        alerts = httpx.get(f"{api}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
