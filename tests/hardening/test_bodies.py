"""Unauthenticated request bodies are never buffered: the big-body case of issue 9, per adapter.

The conformance suite (memwatch.testing) checks the same on every server it
runs; here it runs beside the rest of the hardening cases, under the servers
the hardening suite uses, against the heaviest route (a census).
"""

from __future__ import annotations

import sys

import pytest

from memwatch.auth import bearer_token
from memwatch.testing.bodies import MIB, offer_body, peak_rss_kib, reset_peak_rss

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads peak RSS from /proc")

BODY_MIB = 200
GROWTH_LIMIT_MIB = 24  # far below the body: a server that buffered it would exceed it


def test_a_200_mib_unauthenticated_post_is_refused_without_being_read(serve, watcher):
    """A 200 MiB POST without a token gets its 401 while the server's peak RSS stays put."""
    served = serve(auth=bearer_token("hardening-token"), watcher=watcher)
    reset_peak_rss(served.pid)
    before = peak_rss_kib(served.pid)
    answer = offer_body(served.base_url, "/ah/memoryProfile", BODY_MIB * MIB)
    growth_mib = (peak_rss_kib(served.pid) - before) / 1024
    assert answer.status == 401
    assert growth_mib < GROWTH_LIMIT_MIB, f"peak RSS grew {growth_mib:.1f} MiB"
    assert watcher.list_profiles() == []
