"""The watcher's background thread: one daemon thread calling a step about once a second.

Kept apart from the watcher so that starting and stopping it (idempotent, safe
from any thread, the thread itself included) is decided once. The step must
never raise; :meth:`memwatch.watcher.Watcher.poll` counts its own errors.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["PollingThread"]


class PollingThread:
    """Runs ``step`` every ``period`` seconds on a daemon thread named ``name``.

    Args:
        step: What to run; called with no arguments.
        name: The thread's name, as thread dumps and py-spy show it.
        period: Seconds between two calls.
    """

    def __init__(self, step: Callable[[], None], *, name: str, period: float = 1.0) -> None:
        """Prepare the thread; nothing runs until :meth:`start`."""
        self._step = step
        self._name = name
        self._period = period
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Start the thread unless it runs already; the caller serialises start and stop."""
        if self.alive:
            return
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it (not when called from the thread itself)."""
        thread, self.thread = self.thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def forget(self) -> bool:
        """Drop the thread without joining it (a forked child has none); whether there was one."""
        had = self.thread is not None
        self.thread = None
        self._stop = threading.Event()
        return had

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self._period):
            self._step()
