"""A leak against MEMWATCH_MEMORY_LIMIT gets a complete ``limit`` profile before the limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memwatch.formatting import parse_timestamp

needs_proc = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")

# The service: the default watcher configured by MEMWATCH_* only, and a leak of sessions
# holding a touched 1 MiB buffer, 10 a second, until the resident set reaches the limit.
# It then prints when that happened and every profile as the HTTP API would serve it.
SERVICE = textwrap.dedent(
    """
    import datetime as dt, json, sys, time
    from memwatch.converter import converter
    from memwatch.probes import RssProbe
    from memwatch.watcher import default_watcher

    class Session:
        def __init__(self):
            self.payload = bytearray(b"\\xab" * (1024 * 1024))

    watcher = default_watcher()
    resident = RssProbe(total=True)
    kept = []
    started = time.monotonic()
    while resident.read() < 200 * 1024 * 1024 and time.monotonic() - started < 120:
        kept.append(Session())
        time.sleep(0.1)
    reached = dt.datetime.now(dt.timezone.utc)
    status = watcher.status()
    json.dump(
        {
            "reached": reached.isoformat(),
            "resident": resident.read(),
            "memory": converter.unstructure(status.memory),
            "profiles": [converter.unstructure(p) for p in watcher.list_profiles()],
        },
        sys.stdout,
    )
    """
)


@pytest.mark.slow
@needs_proc
def test_a_limit_profile_is_complete_before_usage_reaches_the_limit(tmp_path):
    """A 10 MiB/s leak against MEMWATCH_MEMORY_LIMIT=200MiB is captured, complete, in time."""
    env = {**os.environ, "MEMWATCH_MEMORY_LIMIT": "200MiB"}
    env.pop("MEMWATCH_AUTO_CAPTURE", None)
    result = subprocess.run(
        [sys.executable, "-c", SERVICE],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["resident"] >= 200 * 1024 * 1024
    assert report["memory"]["limit_source"] == "env"
    assert report["memory"]["limit_bytes"] == 200 * 1024 * 1024
    limit_profiles = [p for p in report["profiles"] if p["trigger"] == "limit"]
    assert limit_profiles, report["profiles"]
    profile = limit_profiles[0]
    assert profile["state"] == "complete"
    ended = parse_timestamp(profile["ended"])
    assert ended is not None
    assert ended < parse_timestamp(report["reached"].replace("+00:00", "Z"))
    grown = {detail["what"]: detail["+"] for detail in profile["lastDiff"]["change"]["details"]}
    assert grown.get("__main__.Session", 0) > 0
