"""memwatch: find memory leaks in running Python web services.

The pieces most code needs are here; the rest live in their modules:

- :class:`Watcher` and :func:`default_watcher`: watch this process's heap,
  detect leaks, capture profiles (:mod:`memwatch.watcher`).
- :class:`HeapDiff`: memwatch's HeapDiff for code and tests: take one, do
  work, call :meth:`HeapDiff.end` (:mod:`memwatch.diff`).
- :class:`MemwatchAPI`, :class:`Request`, :class:`Response`: the
  framework-neutral HTTP layer adapters mount (:mod:`memwatch.http`), with the
  required :mod:`memwatch.auth` choices.
"""

from __future__ import annotations

from memwatch import auth
from memwatch.diff import HeapDiff
from memwatch.http import MemwatchAPI, Request, Response
from memwatch.watcher import Watcher, default_watcher

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
