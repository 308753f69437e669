"""Listeners for a watcher's events: Node memwatch's ``on('leak')`` and ``on('stats')``.

A :class:`~memwatch.watcher.Watcher` keeps the latest event of each kind for
its status; listeners hear every one as it happens, so a service can page
someone, bump a metric or write a log line the moment a leak is reported::

    import memwatch

    def page_on_call(leak):
        alerting.send(f"memory leak: {leak.reason}")

    memwatch.default_watcher().on("leak", page_on_call)

Listeners run on the thread that fed the detector (the watcher's polling
thread, or the caller of :meth:`~memwatch.actions.ProfileActions.force_gc` or
:meth:`~memwatch.watcher.Watcher.poll`), never inside a gc callback and never
while the watcher holds its locks. A listener that raises is counted in the
status's ``watcher.errors`` and described in ``watcher.last_error`` by its
name and the exception's type only (the message goes to the ``memwatch``
logger: it may hold a webhook's token); the other listeners and the watcher go on.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["EVENT_NAMES", "EventName", "Listeners"]

EventName: TypeAlias = Literal["leak", "stats"]

EVENT_NAMES: tuple[EventName, ...] = ("leak", "stats")
"""The events a watcher emits, ``"leak"`` (with a LeakReport) and ``"stats"`` (with a GCStats)."""

Listener: TypeAlias = "Callable[[Any], object]"


class Listeners:
    """The listeners of each event, safe to change from any thread while events are emitted."""

    def __init__(self) -> None:
        """Start with no listeners."""
        self._lock = threading.Lock()
        # (registration token, listener) pairs. Tuples are replaced, never changed,
        # so emit() reads a snapshot without the lock.
        self._by_event: dict[str, tuple[tuple[object, Listener], ...]] = dict.fromkeys(
            EVENT_NAMES, ()
        )

    def add(self, event: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every ``event`` from now on.

        Returns:
            A function that removes this registration (and no other registration of
            the same listener); calling it again does nothing.

        Raises:
            ValueError: ``event`` is not one of :data:`EVENT_NAMES`.
            TypeError: ``listener`` is not callable.
        """
        if event not in self._by_event:
            names = ", ".join(repr(name) for name in EVENT_NAMES)
            raise ValueError(f"unknown event {event!r}; a watcher emits {names}")
        if not callable(listener):
            raise TypeError(f"a listener must be callable, got {type(listener).__name__}")
        token = object()
        with self._lock:
            self._by_event[event] = (*self._by_event[event], (token, listener))

        def remove() -> None:
            with self._lock:
                self._by_event[event] = tuple(
                    pair for pair in self._by_event[event] if pair[0] is not token
                )

        return remove

    def after_fork_in_child(self) -> None:
        """Take a fresh lock: one a parent thread held at fork time stays held in the child."""
        self._lock = threading.Lock()

    def emit(
        self, event: str, payload: object, on_error: Callable[[BaseException, str], object]
    ) -> None:
        """Call every listener of ``event`` with ``payload``, in the order added; never raises.

        Args:
            event: One of :data:`EVENT_NAMES`.
            payload: What the listeners get.
            on_error: Called with the exception and ``"<event> listener <name>"``
                (the context of :func:`~memwatch.errors.describe_error`) for each
                listener that raised.
        """
        for _, listener in self._by_event[event]:
            try:
                listener(payload)
            except Exception as exc:  # noqa: BLE001, PERF203 - one bad listener stops no other
                on_error(exc, f"{event} listener {_name(listener)}")


def _name(listener: Listener) -> str:
    """The listener's qualified name (a function's, else its type's): code, never data."""
    name = getattr(listener, "__qualname__", None)
    return name if isinstance(name, str) else type(listener).__qualname__
