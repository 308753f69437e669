"""Headroom: readings at most once per interval, projections, and the limit trigger."""

from __future__ import annotations

import os

import pytest

from memwatch.detector import LeakFinding
from memwatch.headroom import Headroom
from memwatch.limits import MemoryLimits

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
LIMIT = 200 * MIB


class Process:
    """A /proc/self/statm in a temporary root whose resident set the test sets."""

    def __init__(self, root) -> None:
        self.statm = root / "proc" / "self" / "statm"
        self.statm.parent.mkdir(parents=True)
        self.resident(100 * MIB)

    def resident(self, size: int) -> None:
        pages = size // PAGE
        self.statm.write_text(f"{pages * 2} {pages} 0 10 0 {pages} 0\n")


@pytest.fixture
def process(tmp_path):
    """A process without cgroup files whose resident set starts at 100 MiB."""
    return Process(tmp_path)


def headroom(tmp_path, **options) -> Headroom:
    limits = MemoryLimits(explicit_limit=options.pop("limit", LIMIT), root=tmp_path)
    return Headroom(limits, every=options.pop("every", 1.0), **options)


def leak(time: float, growth: int, duration: float) -> LeakFinding:
    return LeakFinding(
        time=time,
        start=time - duration,
        end=time,
        start_base=10 * MIB,
        end_base=10 * MIB + growth,
        growth=growth,
        reason="heap baseline grew 10 mb over 10 samples (10s) - 3600 mb/hr",
    )


def test_reads_at_most_once_per_interval(tmp_path, process):
    """A reading is reused until ``every`` seconds have passed, then taken anew."""
    watch = headroom(tmp_path, every=5.0)
    assert watch.read(0.0).used_bytes == 100 * MIB
    process.resident(120 * MIB)
    assert watch.read(4.9).used_bytes == 100 * MIB
    assert watch.read(5.0).used_bytes == 120 * MIB


@pytest.mark.usefixtures("process")
def test_status_projects_the_latest_leak_while_it_stands(tmp_path):
    """seconds_to_limit is the headroom at the leak's rate, and null once the leak is old."""
    watch = headroom(tmp_path, leak_stands=900.0)
    watch.read(0.0)
    info = watch.info()
    assert (info.limit_bytes, info.limit_source, info.used_bytes) == (LIMIT, "env", 100 * MIB)
    assert (info.headroom_bytes, info.seconds_to_limit) == (100 * MIB, None)
    watch.leak_reason(leak(10.0, growth=10 * MIB, duration=10.0))  # 1 MiB/s
    watch.read(10.0)
    assert watch.info().seconds_to_limit == pytest.approx(100.0)
    watch.read(910.0)
    assert watch.info().seconds_to_limit == pytest.approx(100.0)
    watch.read(911.0)
    assert watch.info().seconds_to_limit is None


@pytest.mark.usefixtures("process")
def test_leak_reason_ends_with_the_projection(tmp_path):
    """A leak's reason gains '; limit 200 mb reached in about 2m' when a limit is known."""
    watch = headroom(tmp_path)
    watch.read(0.0)
    reason = watch.leak_reason(leak(10.0, growth=10 * MIB, duration=12.0))
    assert reason.endswith(") - 3600 mb/hr; limit 200 mb reached in about 2m")


@pytest.mark.usefixtures("process")
def test_leak_reason_without_a_limit_is_the_detectors(tmp_path):
    """Without a limit the reason is the detector's own."""
    limits = MemoryLimits(root=tmp_path)
    watch = Headroom(limits, every=1.0)
    watch.read(0.0)
    finding = leak(10.0, growth=10 * MIB, duration=10.0)
    assert watch.leak_reason(finding) == finding.reason
    assert watch.capture_due(10.0, 60.0) is None


def test_capture_is_due_at_the_ratio_of_the_limit(tmp_path, process):
    """At 90% of a steady usage a capture of the full capture time is due; below it none."""
    process.resident(int(0.89 * LIMIT))
    below = headroom(tmp_path, ratio=0.9)
    below.read(0.0)
    below.read(1.0)
    assert below.capture_due(1.0, 60.0) is None
    process.resident(int(0.91 * LIMIT))
    above = headroom(tmp_path, ratio=0.9)
    above.read(0.0)
    above.read(1.0)
    assert above.capture_due(1.0, 60.0) == 60.0


def test_capture_is_due_before_the_ratio_when_the_usage_races(tmp_path, process):
    """A usage rising fast enough to reach the limit within a capture's time is due at once."""
    watch = headroom(tmp_path)
    process.resident(100 * MIB)
    watch.read(0.0)
    process.resident(110 * MIB)
    watch.read(1.0)  # 10 MiB/s: the limit, 90 MiB away, is 9 s off
    assert watch.capture_due(1.0, 60.0) == pytest.approx(4.5)
    assert watch.capture_due(1.0, 5.0) is None


@pytest.mark.usefixtures("process")
def test_capture_projects_with_the_faster_rate(tmp_path):
    """A leak faster than the usage's recent rise brings the limit capture forward."""
    watch = headroom(tmp_path)
    watch.read(0.0)
    watch.leak_reason(leak(0.0, growth=100 * MIB, duration=50.0))  # 2 MiB/s: 50 s left
    assert watch.capture_due(0.0, 60.0) == pytest.approx(25.0)
    assert watch.capture_due(0.0, 40.0) is None


def test_a_limit_capture_lasts_at_least_a_second(tmp_path, process):
    """However close the limit, the two censuses of a limit capture are a second apart at least."""
    watch = headroom(tmp_path)
    process.resident(LIMIT - MIB)
    watch.read(0.0)
    watch.leak_reason(leak(0.0, growth=100 * MIB, duration=1.0))
    assert watch.capture_due(0.0, 60.0) == 1.0


@pytest.mark.usefixtures("process")
def test_a_bad_ratio_is_refused(tmp_path):
    """A capture ratio outside (0, 1] is a ValueError naming the option."""
    with pytest.raises(ValueError, match="limit_capture_ratio must be in"):
        headroom(tmp_path, ratio=0.0)


@pytest.mark.usefixtures("process")
def test_reset_forgets_readings_and_leaks(tmp_path):
    """After reset (a forked child) no reading, usage series or leak rate is left."""
    watch = headroom(tmp_path)
    watch.read(0.0)
    watch.leak_reason(leak(0.0, growth=10 * MIB, duration=10.0))
    watch.reset()
    assert watch.info().limit_bytes is None
    assert watch.leak_rate(0.0) is None
    assert watch.read(0.0).limit_bytes == LIMIT
