"""Shutdown and reload: stop() removes the gc callback; reloaders never register it twice.

``status.watcher.gc_callbacks`` counts every memwatch callback in
``gc.callbacks``. ``flask run --reload`` and ``uvicorn --reload`` run the app
in a subprocess on a free port; touching the app's file makes them reload, and
the reloaded app (a new pid) still has exactly one callback installed.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from memwatch.collector import Collector
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from pathlib import Path

BOOT_SECONDS = 60

FLASK_APP = """
import flask
from memwatch.auth import allow_all
from memwatch_flask import Memwatch

app = flask.Flask(__name__)
Memwatch(app, auth=allow_all())
"""

ASGI_APP = """
from fastapi import FastAPI
from memwatch.auth import allow_all
from memwatch_fastapi import memwatch_lifespan, memwatch_router

app = FastAPI(lifespan=memwatch_lifespan())
app.include_router(memwatch_router(auth=allow_all()))
"""


def _memwatch_callbacks() -> int:
    return sum(isinstance(getattr(cb, "__self__", None), Collector) for cb in gc.callbacks)


def test_stop_removes_the_callback():
    """start() adds one callback (idempotently), stop() removes it, and status counts them."""
    before = _memwatch_callbacks()
    watcher = Watcher(auto_capture=False, background=False)
    watcher.start()
    watcher.start()
    assert _memwatch_callbacks() == before + 1
    assert watcher.status().watcher.gc_callbacks == before + 1
    other = Watcher(auto_capture=False, background=False).start()
    assert watcher.status().watcher.gc_callbacks == before + 2
    other.stop()
    watcher.stop()
    watcher.stop()
    assert _memwatch_callbacks() == before
    assert watcher.status().watcher.gc_callbacks == before
    assert watcher.status().watcher.running is False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(client: httpx.Client, *, not_pid: int | None = None) -> dict:
    deadline = time.monotonic() + BOOT_SECONDS
    while time.monotonic() < deadline:
        try:
            response = client.get("/ah/memoryProfile/status")
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        body = response.json()
        if response.status_code == 200 and body["process"]["pid"] != not_pid:
            return body
        time.sleep(0.2)
    raise AssertionError(f"no status from a process other than {not_pid} in {BOOT_SECONDS} s")


def _reload_and_check(command: list[str], app_file: Path, port: int, env: dict[str, str]) -> None:
    server = subprocess.Popen(
        command,
        cwd=app_file.parent,
        env={**os.environ, **env, "PYTHONPATH": str(app_file.parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            first = _status(client)
            assert first["watcher"]["gc_callbacks"] == 1
            time.sleep(1.2)  # past the reloader's mtime resolution
            app_file.write_text(app_file.read_text() + "\n# touched\n")
            second = _status(client, not_pid=first["process"]["pid"])
            assert second["watcher"]["gc_callbacks"] == 1
            assert second["watcher"]["running"] is True
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate(timeout=10)
    assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reloaders and signals as on Linux")
def test_flask_reloader_registers_the_callback_once(tmp_path):
    """flask run --reload: before and after a reload, one memwatch callback is installed."""
    pytest.importorskip("memwatch_flask")
    app_file = tmp_path / "reload_flask_app.py"
    app_file.write_text(FLASK_APP)
    port = _free_port()
    command = [sys.executable, "-m", "flask", "--app", "reload_flask_app", "run"]
    command += ["--reload", "--host", "127.0.0.1", "--port", str(port)]
    _reload_and_check(command, app_file, port, {"FLASK_DEBUG": "0"})


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reloaders and signals as on Linux")
def test_uvicorn_reload_registers_the_callback_once(tmp_path):
    """uvicorn --reload: before and after a reload, one memwatch callback is installed."""
    pytest.importorskip("memwatch_fastapi")
    pytest.importorskip("uvicorn")
    app_file = tmp_path / "reload_asgi_app.py"
    app_file.write_text(ASGI_APP)
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "reload_asgi_app:app", "--reload"]
    command += ["--reload-dir", str(tmp_path), "--host", "127.0.0.1", "--port", str(port)]
    _reload_and_check(command, app_file, port, {})
