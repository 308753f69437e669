"""End to end, per framework: a leaking route is found and explained; a healthy one is not accused.

The app's ``/leak`` route keeps 100 ``LeakyThing`` objects (each holding a
kilobyte) per request; ``/healthy`` allocates the same and drops it. The
watcher samples every quarter second and its trend detector is tuned to
decide within seconds instead of minutes; auto-capture is on with a short
capture. Every loop is bounded in requests and in time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from contract import assert_valid
from memwatch.auth import allow_all
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Iterator

SAMPLE = 0.25
DETECTOR = {
    "resolution": SAMPLE,
    "warmup": 0.0,
    "window": 10.0,
    "quick_span": 2.0,
    "min_span": 2.0,
    "recent_span": 2.0,
    "confirm": 0.5,
    "segments": 4,
    "min_rate": 1024.0 * 1024,  # 1 MiB/hr: the leak here grows megabytes per second
    "min_growth": 0.05,
}
BATCH = 5
BATCH_SECONDS = 0.05  # about 100 leaking requests a second, 11 MB/s: steady, like a real leak
CAPTURED_REQUESTS = 20
THINGS_PER_REQUEST = 100
DEADLINE = 40.0
HEALTHY_SECONDS = 8.0


@pytest.fixture
def fast_watcher() -> Iterator[Watcher]:
    """A watcher tuned to find a fast leak within seconds and capture it at once."""
    watcher = Watcher(
        sample_interval=SAMPLE,
        detector_options=DETECTOR,
        auto_capture=True,
        capture_seconds=5.0,
        capture_cooldown=600.0,
    )
    with watcher:
        yield watcher


def _status(client):
    response = client.get("/ah/memoryProfile/status")
    assert response.status_code == 200
    return assert_valid("status", response.content)


def _leak_profiles(client, state):
    listed = assert_valid("profile_list", client.get("/ah/memory?details=true").content)
    return [p for p in listed["memoryProfiles"] if p["trigger"] == "leak" and p["state"] == state]


def _wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    return predicate()


@pytest.mark.slow
def test_leaking_route_is_reported_and_its_class_tops_the_captured_diff(
    serve, fast_watcher, leaked
):
    """Driving /leak yields a leak event, and the auto-captured diff names LeakyThing first."""
    client = serve(auth=allow_all(), watcher=fast_watcher).client
    deadline = time.monotonic() + DEADLINE
    status = _status(client)
    # lastEvent turns back to "stats" at the next sample; lastLeak keeps the leak event.
    next_batch = time.monotonic()
    while not status["lastLeak"]["timestamp"] and time.monotonic() < deadline:
        assert len(leaked) < 5_000, f"no leak reported after {len(leaked)} leaking requests"
        for _ in range(BATCH):
            assert client.get("/leak").status_code == 200
        status = _status(client)
        next_batch += BATCH_SECONDS
        time.sleep(max(0.0, next_batch - time.monotonic()))
    assert status["lastLeak"]["timestamp"], f"no leak reported within {DEADLINE} s"
    assert status["lastLeak"]["growth"] > 0
    assert status["lastLeak"]["reason"].endswith("/hr")

    # The leak event starts a capture (baseline census); once it is running, leak a known amount.
    running = _wait_for(lambda: _leak_profiles(client, "running"), 10)
    assert running, "no auto-captured profile started after the leak event"
    for _ in range(CAPTURED_REQUESTS):
        assert client.get("/leak").status_code == 200
    complete = _wait_for(lambda: _leak_profiles(client, "complete"), 15)
    assert complete, "the auto-captured profile did not complete"

    details = complete[0]["lastDiff"]["change"]["details"]
    top = details[0]
    assert top["what"].endswith("LeakyThing"), [d["what"] for d in details[:5]]
    # All the captured requests' things, plus at most the batch in flight when the leak was seen.
    expected = CAPTURED_REQUESTS * THINGS_PER_REQUEST
    assert expected <= top["+"] <= expected + BATCH * THINGS_PER_REQUEST, top


@pytest.mark.slow
def test_healthy_route_under_the_same_load_is_not_reported(serve, fast_watcher):
    """Driving /healthy as hard for as long yields stats events and no leak event."""
    client = serve(auth=allow_all(), watcher=fast_watcher).client
    deadline = time.monotonic() + HEALTHY_SECONDS
    requests = 0
    while time.monotonic() < deadline and requests < 100_000:
        for _ in range(10):
            assert client.get("/healthy").status_code == 200
        requests += 10
        assert _status(client)["lastLeak"]["timestamp"] == ""
    status = _status(client)
    assert status["lastEvent"] == "stats"
    assert status["lastLeak"]["timestamp"] == ""
    # The detector had enough samples to decide: the silence is a verdict, not a lack of data.
    assert status["watcher"]["samples"] >= DETECTOR["quick_span"] / SAMPLE
    assert _leak_profiles(client, "running") == []
