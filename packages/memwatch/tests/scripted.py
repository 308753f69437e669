"""A probe whose readings a test decides, shared by the watcher's tests."""

from __future__ import annotations

MIB = 1024 * 1024


class ScriptedProbe:
    """A probe that reads the next value of a script: a heap whose size the test decides."""

    name = "scripted"

    def __init__(self, start: int = 50 * MIB, step: int = 0) -> None:
        self.value = start
        self.step = step

    def read(self) -> int:
        self.value += self.step
        return self.value
