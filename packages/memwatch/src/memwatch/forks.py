"""The one at-fork hook of the core: what a forked child resets, registered by its owners.

A forked child (gunicorn and uvicorn workers) inherits its parent's objects:
counts, samples, profiles and locks that another parent thread may have held
at fork time, held forever in the child. Each part that keeps such state
(the collector, the profiler, the watcher, the process-wide default watcher)
registers a reset here; one ``os.register_at_fork`` hook for the whole process
calls them in the child, in the order they registered, so that each is reset
exactly once and a part built from others (a watcher from its collector and
profiler) is reset after them.

Owners are held weakly: registering keeps nothing alive, and the entry of an
owner that is gone is dropped with it.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["registered", "reset_after_fork"]

logger = logging.getLogger("memwatch")

_lock = threading.Lock()
_order = itertools.count()
# Insertion-ordered: registration order is reset order.
_resets: dict[int, tuple[weakref.ref[Any], Callable[[Any], object]]] = {}
_hook_installed = False


def reset_after_fork(owner: object, reset: Callable[[Any], object]) -> None:
    """Call ``reset(owner)`` in every forked child while ``owner`` is alive.

    Args:
        owner: What the child resets; held weakly.
        reset: Called with ``owner`` in the child, right after the fork, before
            any other code runs there. It must not hold ``owner`` itself (an
            unbound method or a module function), or ``owner`` never dies.
    """
    global _hook_installed  # noqa: PLW0603 - one process-wide hook, installed once
    key = next(_order)
    ref = weakref.ref(owner, lambda _: _resets.pop(key, None))
    with _lock:
        _resets[key] = (ref, reset)
        if not _hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _hook_installed = True


def registered() -> int:
    """How many owners alive now have a reset registered."""
    return sum(1 for ref, _ in list(_resets.values()) if ref() is not None)


def _after_fork_in_child() -> None:
    global _lock  # noqa: PLW0603 - a lock a parent thread held stays held in the child
    _lock = threading.Lock()
    for ref, reset in list(_resets.values()):
        owner = ref()
        if owner is None:
            continue
        try:
            reset(owner)
        except Exception:  # one failed reset must not leave the others undone
            logger.exception(
                "memwatch: resetting a %s in a forked child failed", type(owner).__name__
            )
