"""Start tests/served/leaky_service.py as a subprocess and talk to it (CLI and browser tests).

The service runs as a user runs theirs: its own process, a real server, memwatch
mounted with a bearer token (``TOKEN``), a detector that decides within seconds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

HERE = Path(__file__).resolve().parent
SERVICE = HERE / "leaky_service.py"
TOKEN = "cli-test-token"


@dataclass
class Service:
    """A running service: its base URL (no prefix), its token and its process."""

    url: str
    token: str
    process: subprocess.Popen[str]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        """GET a path of the service itself (``/leak``, ``/healthy``) or of its API."""
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """Send ``method`` to a path of the service, with its bearer token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def drive_leak(self, until: Callable[[], bool], deadline: float = 40.0) -> None:
        """Request /leak in batches until ``until()`` is true; fails after ``deadline`` s."""
        end = time.monotonic() + deadline
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while time.monotonic() < end:
                for _ in range(5):
                    client.get("/leak")
                if until():
                    return
                time.sleep(0.05)
        pytest.fail(f"condition not met within {deadline}s of /leak traffic")


@contextlib.contextmanager
def running_service(
    framework: str = "flask", auth: str = "token", *, tracemalloc: bool = True
) -> Iterator[Service]:
    """Start leaky_service.py and wait for its LISTENING line; stop it afterwards.

    ``tracemalloc`` runs it with ``-X tracemalloc=1``, so its diffs name lines (and
    everything it does is slower, as tracing from the start makes any service).
    """
    env = {**os.environ, "MEMWATCH_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    tracing = ["-X", "tracemalloc=1"] if tracemalloc else []
    command = [sys.executable, *tracing, str(SERVICE), "--framework", framework]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [*command, "--auth", auth, "--lifetime", "240"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("LISTENING "):
                process.kill()
                log.seek(0)
                pytest.fail(f"the service did not start: {line!r} {log.read()[-2000:]}")
            yield Service(line.split()[1], TOKEN, process)
        finally:
            process.terminate()
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate(timeout=10)
