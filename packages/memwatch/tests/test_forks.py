"""One at-fork hook for the core: each part resets exactly once in a child, owners held weakly."""

from __future__ import annotations

import gc
import os
from typing import Any

import pytest

from forked import run_in_fork
from memwatch import forks
from memwatch.collector import Collector
from memwatch.watcher import Watcher
from scripted import MIB, ScriptedProbe

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


class Owner:
    """Something with state a forked child must reset."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name

    def reset(self) -> None:
        self.log.append(self.name)


def test_resets_run_once_each_in_registration_order():
    """Each live owner's reset runs exactly once in the child, in the order registered."""
    log: list[str] = []
    first, second = Owner(log, "first"), Owner(log, "second")
    forks.reset_after_fork(first, Owner.reset)
    forks.reset_after_fork(second, Owner.reset)
    report = run_in_fork(lambda: {"log": [name for name in log if name in {"first", "second"}]})
    assert report["log"] == ["first", "second"]
    assert log == []  # the parent is never reset


def test_a_dead_owner_is_not_reset_and_not_kept():
    """An owner that is gone has no reset left to run: registering keeps nothing alive."""
    log: list[str] = []
    owner = Owner(log, "gone")
    forks.reset_after_fork(owner, Owner.reset)
    before = forks.registered()
    del owner
    gc.collect()
    assert forks.registered() == before - 1
    assert run_in_fork(lambda: {"log": log})["log"] == []


def test_a_failing_reset_leaves_the_others_done():
    """A reset that raises is logged in the child; the resets after it still run."""
    log: list[str] = []

    class Broken:
        def reset(self) -> None:
            raise RuntimeError("cannot reset")

    broken, after = Broken(), Owner(log, "after")
    forks.reset_after_fork(broken, Broken.reset)
    forks.reset_after_fork(after, Owner.reset)
    assert run_in_fork(lambda: {"log": log})["log"] == ["after"]


def test_a_watchers_collector_is_reset_once_and_the_child_detects_its_own_leak(monkeypatch):
    """A forked child resets a watcher's collector exactly once and detects its own leak."""
    resets: list[int] = []
    real_reset = Collector.reset

    def counted_reset(self: Collector) -> None:
        resets.append(id(self))
        real_reset(self)

    monkeypatch.setattr(Collector, "reset", counted_reset)
    watcher = Watcher(
        mode="memwatch",
        detector_options={"consecutive_growth": 3},
        probe=ScriptedProbe(step=4 * MIB),
        background=False,
        auto_capture=False,
    )
    heard: list[int] = []
    watcher.on("leak", lambda _leak: heard.append(os.getpid()))
    with watcher:
        for _ in range(4):
            watcher.force_gc()
        assert heard
        parent_leak = watcher.status().last_leak

        def child() -> dict[str, Any]:
            ours = resets.count(id(watcher._collector))
            fresh = watcher.status()
            heard.clear()
            for _ in range(4):
                watcher.force_gc()
            status = watcher.status()
            return {
                "resets": ours,
                "fresh_event": fresh.last_event,
                "fresh_collections": fresh.watcher.collections,
                "heard_in": heard,
                "leak_pid": status.process.pid if status.process else -1,
                "leak_start": status.last_leak.start.isoformat() if status.last_leak.start else "",
            }

        report = run_in_fork(child)
    assert report["resets"] == 1
    assert report["fresh_event"] == ""
    assert report["fresh_collections"] == 0
    assert report["heard_in"]
    assert set(report["heard_in"]) == {report["pid"]} == {report["leak_pid"]}
    assert parent_leak.start is not None
    assert report["leak_start"] > parent_leak.start.isoformat()
