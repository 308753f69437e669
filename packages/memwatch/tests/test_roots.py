"""Reading other threads' stacks never lets a collection start inside ``sys._current_frames``."""

from __future__ import annotations

import gc
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from memwatch.roots import Roots, current_frames

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType


@pytest.fixture
def collector_inside(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the collector was enabled at each call of ``sys._current_frames``."""
    seen: list[bool] = []
    real = sys._current_frames

    def recording() -> dict[int, FrameType]:
        seen.append(gc.isenabled())
        return real()

    monkeypatch.setattr(sys, "_current_frames", recording)
    return seen


@pytest.fixture(autouse=True)
def collector_state() -> Iterator[None]:
    """Leave the collector as the test found it."""
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_inside_and_back_on_after(collector_inside):
    """gh-106883: a collection inside it could hang the process; memwatch turns it off meanwhile."""
    gc.enable()
    frames = current_frames()
    assert collector_inside == [False]
    assert gc.isenabled()
    assert threading.get_ident() in frames


def test_a_collector_the_application_turned_off_stays_off(collector_inside):
    gc.disable()
    current_frames()
    assert collector_inside == [False]
    assert not gc.isenabled()


def test_roots_read_other_threads_with_the_collector_off(collector_inside):
    gc.enable()
    started, release = threading.Event(), threading.Event()

    def parked() -> None:
        started.set()
        release.wait(10)

    thread = threading.Thread(target=parked, name="parked-for-roots")
    thread.start()
    started.wait(10)
    try:
        roots = Roots.collect()
    finally:
        release.set()
        thread.join()
    assert collector_inside == [False]
    assert gc.isenabled()
    parked_frames = [label for label in roots.frames.values() if "parked-for-roots" in label]
    assert any("parked (" in label for label in parked_frames), parked_frames


def test_the_collector_comes_back_on_when_reading_fails(monkeypatch):
    gc.enable()

    def failing() -> dict[int, FrameType]:
        raise MemoryError

    monkeypatch.setattr(sys, "_current_frames", failing)
    with pytest.raises(MemoryError):
        current_frames()
    assert gc.isenabled()
