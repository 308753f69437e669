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

Each name is imported on first use (PEP 562), not with the package: importing
``memwatch.cli`` or ``memwatch.formatting`` then costs only what they import
(the watcher, the census and the HTTP layer took 140 ms to import here, most of
``memwatch status``'s budget of 300 ms).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "HeapDiff": "memwatch.diff",
    "MemwatchAPI": "memwatch.http",
    "Request": "memwatch.wire",
    "Response": "memwatch.wire",
    "Watcher": "memwatch.watcher",
    "default_watcher": "memwatch.watcher",
}


def __getattr__(name: str) -> Any:
    """Import one of the package's names from its module the first time it is asked for."""
    if name == "auth":
        value: Any = importlib.import_module("memwatch.auth")
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'memwatch' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, as ``dir(memwatch)`` shows them."""
    return sorted({*globals(), *__all__})
