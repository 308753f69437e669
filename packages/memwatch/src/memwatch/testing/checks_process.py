"""Checks of what a mounted memwatch does for the process: watching, finding leaks, bodies.

Mixed into :class:`~memwatch.testing.ConformanceSuite`: the watcher runs from
the moment the app is built; a leaking route is found and its class tops the
auto-captured diff while a healthy one under the same load is not accused; an
unauthenticated request body is never buffered. Every loop is bounded in
requests and in time; they work over HTTP only, so a server in another process
runs them too.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from memwatch.testing.bodies import MIB, offer_body, peak_rss_kib, reset_peak_rss
from memwatch.testing.contract import assert_problem, assert_valid

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from memwatch.testing.servers import Served

__all__ = ["ProcessChecks"]

SAMPLE = 0.25
FAST_WATCHER: dict[str, Any] = {
    "sample_interval": SAMPLE,
    "detector_options": {
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
    },
    "auto_capture": True,
    "capture_seconds": 60.0,  # the leak check ends its capture itself, after its requests
    "capture_cooldown": 600.0,
}
"""A watcher tuned to find a fast leak within seconds and capture it at once."""

BATCH = 5
BATCH_SECONDS = 0.05  # about 100 leaking requests a second, 11 MB/s: steady, like a real leak
CAPTURED_REQUESTS = 20
THINGS_PER_REQUEST = 100
MAX_LEAKING_REQUESTS = 5_000
DEADLINE = 40.0
HEALTHY_SECONDS = 8.0
BODY_MIB = 200
GROWTH_LIMIT_MIB = 24  # far below the body: a server that buffered it would pass it


def _status(client: httpx.Client) -> Any:
    response = client.get("/ah/memoryProfile/status")
    assert response.status_code == 200, response.text
    return assert_valid("status", response.content)


def _leak_profiles(client: httpx.Client, state: str) -> list[Any]:
    listed = assert_valid("profile_list", client.get("/ah/memory?details=true").content)
    return [p for p in listed["memoryProfiles"] if p["trigger"] == "leak" and p["state"] == state]


def _wait_for(predicate: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    return predicate()


class ProcessChecks:
    """The watcher starts at mount, finds a leak end to end, and never buffers a body."""

    if TYPE_CHECKING:

        def serve(self, auth: Any = ..., *, prefix: str | None = ..., watcher: Any = ...) -> Served:
            """See :meth:`memwatch.testing.ConformanceSuite.serve`."""

        server: str

        @property
        def server_answers_continue(self) -> bool:
            """See :attr:`memwatch.testing.ConformanceSuite.server_answers_continue`."""

    def test_mounting_starts_the_watcher(self) -> None:
        """Mounted and left alone for 2 s, the first status already counts samples."""
        served = self.serve("allow_all", watcher={"sample_interval": 0.2, "auto_capture": False})
        time.sleep(2)
        status = _status(served.client)
        assert status["watcher"]["running"] is True
        assert status["watcher"]["samples"] > 0, "mounting memwatch did not start its watcher"

    def test_leaking_route_is_reported_and_its_class_tops_the_captured_diff(self) -> None:
        """Driving /leak yields a leak event, and the auto-captured diff names LeakyThing first."""
        client = self.serve("allow_all", watcher=FAST_WATCHER).client
        deadline = time.monotonic() + DEADLINE
        status, requests = _status(client), 0
        # lastEvent turns back to "stats" at the next sample; lastLeak keeps the leak event.
        next_batch = time.monotonic()
        while not status["lastLeak"]["timestamp"] and time.monotonic() < deadline:
            assert requests < MAX_LEAKING_REQUESTS, f"no leak reported after {requests} requests"
            for _ in range(BATCH):
                assert client.get("/leak").status_code == 200
            requests += BATCH
            status = _status(client)
            next_batch += BATCH_SECONDS
            time.sleep(max(0.0, next_batch - time.monotonic()))
        assert status["lastLeak"]["timestamp"], f"no leak reported within {DEADLINE} s"
        assert status["lastLeak"]["growth"] > 0
        assert status["lastLeak"]["reason"].endswith("/hr")
        # Judged from the probes over the leak's window, before any census.
        verdict = status["lastLeak"]["verdict"]
        assert verdict["layer"], verdict
        assert verdict["text"].startswith("preliminary"), verdict

        # The leak event starts a capture (baseline census); once it runs, leak a known amount,
        # then end it over HTTP: on a loaded machine the requests may outlast the capture's time.
        running = _wait_for(lambda: _leak_profiles(client, "running"), 10)
        assert running, "no capture started"
        for _ in range(CAPTURED_REQUESTS):
            assert client.get("/leak").status_code == 200
        ended = client.post(f"/ah/memoryProfile/{running[0]['id']}/end")
        assert ended.status_code == 200, ended.text
        profile = assert_valid("profile", ended.content)
        assert (profile["state"], profile["trigger"]) == ("complete", "leak")
        details = profile["lastDiff"]["change"]["details"]
        top = details[0]
        assert top["what"].endswith("LeakyThing"), [
            (d["what"], d["+"], d["size"]) for d in details[:5]
        ]
        # The captured requests' things, plus at most the batch in flight when the leak was seen.
        expected = CAPTURED_REQUESTS * THINGS_PER_REQUEST
        assert expected <= top["+"] <= expected + BATCH * THINGS_PER_REQUEST, top

    def test_healthy_route_under_the_same_load_is_not_reported(self) -> None:
        """Driving /healthy as hard for as long yields stats events and no leak event."""
        client = self.serve("allow_all", watcher=FAST_WATCHER).client
        options = FAST_WATCHER["detector_options"]
        needed = options["quick_span"] / options["resolution"]
        start = time.monotonic()
        status = _status(client)
        # At least HEALTHY_SECONDS, and on until the detector holds enough samples to decide (a
        # busy machine may sample late): the silence must be a verdict, not a lack of data.
        while time.monotonic() - start < HEALTHY_SECONDS or status["watcher"]["samples"] < needed:
            assert time.monotonic() - start < DEADLINE, f"{status['watcher']['samples']} samples"
            for _ in range(10):
                assert client.get("/healthy").status_code == 200
            status = _status(client)
            assert status["lastLeak"]["timestamp"] == "", status["lastLeak"]
        assert status["lastEvent"] == "stats"
        assert _leak_profiles(client, "running") == []

    def test_unauthenticated_body_is_not_buffered(self) -> None:
        """A 200 MiB POST without credentials gets its 401 while the server's peak RSS stays put."""
        if sys.platform != "linux":
            import pytest  # noqa: PLC0415 - only a check that can be skipped needs pytest

            pytest.skip("reads peak RSS from /proc")
        served = self.serve()
        reset_peak_rss(served.pid)
        before = peak_rss_kib(served.pid)
        answer = offer_body(served.base_url, "/ah/memory/gc", BODY_MIB * MIB)
        growth = (peak_rss_kib(served.pid) - before) / 1024
        sys.stdout.write(f"\n{type(self).__name__}: peak RSS +{growth:.1f} MiB under the body\n")
        assert answer.status == 401
        assert_problem(401, answer.headers.items(), answer.body, pid=served.pid)
        assert growth < GROWTH_LIMIT_MIB

    def test_expect_continue_is_refused_before_the_body(self) -> None:
        """An unauthenticated 1 GiB ``Expect: 100-continue`` POST gets a 401, its body unasked."""
        if self.server_answers_continue:
            import pytest  # noqa: PLC0415 - only a check that can be skipped needs pytest

            pytest.skip(f"{self.server} answers 100 Continue before any app runs")
        served = self.serve()
        answer = offer_body(served.base_url, "/ah/memory/gc", 1024 * MIB, expect=True)
        assert answer.informational == []
        assert answer.status == 401
        assert answer.sent == 0
