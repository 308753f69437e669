"""memwatch: find memory leaks in running Python web services."""

from __future__ import annotations

__version__ = "0.1.0"
