"""Fixtures of the hardening suite: the conformance suite's real servers, reused as they are.

The servers, apps and the ``adapter``/``serve`` fixtures live in
``tests/conformance/conftest.py``; that file is loaded here under a module
name of its own (tests/ is not a package and is kept off ``sys.path``), and its
fixtures are re-exported, so both suites run the adapters the same way.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from memwatch.store import MemoryProfileStore
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Iterator

_CONFORMANCE = Path(__file__).parent.parent / "conformance" / "conftest.py"
_SPEC = importlib.util.spec_from_file_location("memwatch_conformance_servers", _CONFORMANCE)
assert _SPEC is not None
assert _SPEC.loader is not None
servers = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = servers
_SPEC.loader.exec_module(servers)

# The conformance suite's fixtures, used here unchanged.
adapter = servers.adapter
serve = servers.serve
leaked = servers.leaked

# The same Hypothesis profiles as the core's tests (HYPOTHESIS_PROFILE=fast|ci|thorough).
settings.register_profile(
    "fast", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

TOKEN = "hardening-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PID = os.getpid()


@pytest.fixture
def watcher() -> Iterator[Watcher]:
    """A watcher of its own per test (no auto-capture, room for many profiles)."""
    with Watcher(
        sample_interval=0.5, auto_capture=False, store=MemoryProfileStore(max_profiles=1000)
    ) as running:
        yield running
