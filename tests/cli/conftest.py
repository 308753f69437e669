"""Real services for the ``memwatch`` command's tests, and a way to run the command.

``service`` starts ``tests/served/leaky_service.py`` (a leaking app with memwatch mounted
and a detector that decides within seconds) as a subprocess under a real
server, the way a user runs theirs, and stops it at teardown. ``memwatch``
runs ``python -m memwatch ...`` as a subprocess with ``MEMWATCH_TOKEN`` set,
so exit statuses, stdout and stderr are the ones a shell sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# The leaking service and its runner are shared with tests/browser.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "served"))
from served import TOKEN, Service, running_service


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
