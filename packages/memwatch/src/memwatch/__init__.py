"""memwatch: find memory leaks in running Python web services.

The pieces most code needs are here; the rest live in their modules:

- :class:`~memwatch.watcher.Watcher` and
  :func:`~memwatch.watcher.default_watcher`: watch this process's heap,
  detect leaks, capture profiles.
- :class:`~memwatch.diff.HeapDiff`: memwatch's HeapDiff for code and tests:
  take one, do work, call :meth:`~memwatch.diff.HeapDiff.end`.
- :class:`~memwatch.http.MemwatchAPI`, :class:`~memwatch.wire.Request` and
  :class:`~memwatch.wire.Response`: the framework-neutral HTTP layer that
  adapters mount (its contract is the table in :mod:`memwatch.routes`), with
  the required :mod:`memwatch.auth` choices.
"""

from __future__ import annotations

from memwatch import auth
from memwatch.diff import HeapDiff
from memwatch.http import MemwatchAPI
from memwatch.watcher import Watcher, default_watcher
from memwatch.wire import Request, Response

__all__ = [
    "HeapDiff",
    "MemwatchAPI",
    "Request",
    "Response",
    "Watcher",
    "__version__",
    "auth",
    "default_watcher",
]

__version__ = "0.1.0"
