"""Time to the memory limit: where a steady growth rate takes the usage, and when.

Pure functions, no clock: the watcher passes the usage and limit of
:class:`memwatch.limits.MemoryReading` and the growth rate of the detector's
latest leak. A leak adds its bytes to the cgroup's usage as it does to the
process's, so the detector's rate projects either.
"""

from __future__ import annotations

import math

from memwatch.formatting import format_eta, format_size

__all__ = ["limit_reason", "seconds_to_limit"]


def seconds_to_limit(
    used_bytes: int | None, limit_bytes: int | None, bytes_per_second: float | None
) -> float | None:
    """Seconds until ``used_bytes`` growing at ``bytes_per_second`` reaches ``limit_bytes``.

    Returns:
        ``None`` without a limit, a usage or a positive finite growth rate; ``0.0``
        once the usage has reached the limit.
    """
    if used_bytes is None or limit_bytes is None or bytes_per_second is None:
        return None
    if not (bytes_per_second > 0 and math.isfinite(bytes_per_second)):
        return None
    return max(0.0, (limit_bytes - used_bytes) / bytes_per_second)


def limit_reason(limit_bytes: int, seconds: float) -> str:
    """The projection as a leak reason ends with it: ``"limit 512 mb reached in about 9m"``.

    At zero seconds the limit has been reached: ``"limit 512 mb reached"``.
    """
    text = f"limit {format_size(limit_bytes)} reached"
    return f"{text} in about {format_eta(seconds)}" if seconds > 0 else text
