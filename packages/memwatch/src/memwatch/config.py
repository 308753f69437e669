"""``MEMWATCH_*`` environment variables: a deployed service tuned without a code change.

:func:`watcher_options` reads them into keyword arguments of
:class:`~memwatch.watcher.Watcher` (what :meth:`~memwatch.watcher.Watcher.from_env`
and :func:`~memwatch.watcher.default_watcher` use). An unset or blank variable
leaves the watcher's default; a malformed one is refused with its name.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from memwatch.limits import parse_size

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["ENV_VARIABLES", "watcher_options"]


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


def _text(raw: str) -> str:
    return raw


_KINDS: dict[Callable[[str], Any], str] = {
    _flag: "flag (1/0, true/false)",
    _text: "text",
    float: "float",
    int: "int",
    parse_size: "size (bytes, or a number with a unit: 512MiB, 1.5GB, 2Gi)",
}

_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "MEMWATCH_MODE": ("mode", _text),
    "MEMWATCH_PROBE": ("probe", _text),
    "MEMWATCH_SAMPLE_INTERVAL": ("sample_interval", float),
    "MEMWATCH_AUTO_CAPTURE": ("auto_capture", _flag),
    "MEMWATCH_CAPTURE_SECONDS": ("capture_seconds", float),
    "MEMWATCH_CAPTURE_COOLDOWN": ("capture_cooldown", float),
    "MEMWATCH_TRACE_CAPTURES": ("trace_captures", _flag),
    "MEMWATCH_TRACE_SECONDS": ("trace_seconds", float),
    "MEMWATCH_MAX_DETAILS": ("max_details", int),
    "MEMWATCH_CENSUS_TIME_BUDGET": ("census_time_budget", float),
    "MEMWATCH_MEMORY_LIMIT": ("memory_limit", parse_size),
    "MEMWATCH_LIMIT_CAPTURE_RATIO": ("limit_capture_ratio", float),
}

ENV_VARIABLES: dict[str, str] = {name: option for name, (option, _) in _OPTIONS.items()}
"""Each variable read, and the :class:`~memwatch.watcher.Watcher` argument it sets."""


def watcher_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The watcher arguments the ``MEMWATCH_*`` variables set.

    Args:
        environ: Where to read them; ``os.environ`` by default.

    Returns:
        The arguments of the variables that are set and not blank, parsed.

    Raises:
        ValueError: a variable holds a value of the wrong kind; the message
            names the variable, its value and the kind expected.
    """
    env = os.environ if environ is None else environ
    options: dict[str, Any] = {}
    for name, (option, parse) in _OPTIONS.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            options[option] = parse(raw)
        except ValueError:
            msg = f"{name}={raw!r} is not a valid {_KINDS[parse]}"
            raise ValueError(msg) from None
    return options
