"""Real services for the ``memwatch`` command's tests, and a way to run the command.

``service`` starts ``leaky_service.py`` (a leaking app with memwatch mounted
and a detector that decides within seconds) as a subprocess under a real
server, the way a user runs theirs, and stops it at teardown. ``memwatch``
runs ``python -m memwatch ...`` as a subprocess with ``MEMWATCH_TOKEN`` set,
so exit statuses, stdout and stderr are the ones a shell sees.
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
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.get(self.url + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

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
def running_service(framework: str = "flask", auth: str = "token") -> Iterator[Service]:
    """Start leaky_service.py and wait for its LISTENING line; stop it afterwards."""
    env = {**os.environ, "MEMWATCH_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-X", "tracemalloc=1", str(SERVICE), "--framework", framework]
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


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    """A Flask service with a token, shared by a module's tests."""
    with running_service() as served:
        yield served


@pytest.fixture
def fresh_service() -> Iterator[Service]:
    """A Flask service of the test's own (for tests that make it leak)."""
    with running_service() as served:
        yield served


@pytest.fixture
def read_only_service() -> Iterator[Service]:
    """A Flask service whose auth is ``read_only(bearer_token(...))``."""
    with running_service(auth="read-only") as served:
        yield served


@pytest.fixture
def memwatch() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m memwatch ARGS`` with MEMWATCH_TOKEN set (unless ``token=None``)."""

    def run(
        *args: str, token: str | None = TOKEN, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "MEMWATCH_TOKEN"}
        if token is not None:
            env["MEMWATCH_TOKEN"] = token
        env["COLUMNS"] = "120"
        return subprocess.run(
            [sys.executable, "-m", "memwatch", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
