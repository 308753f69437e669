"""Headroom: how near its memory limit the process is, how soon a leak gets there, when to capture.

The watcher owns one :class:`Headroom`. It reads :class:`~memwatch.limits.MemoryLimits`
at most once per sample interval (a reading costs about 20 us), remembers the
rate of the latest leak the detector reported, and answers three questions:

- what the status shows (:meth:`Headroom.info`): the limit, the usage, the
  headroom, and the seconds until the latest leak's rate reaches the limit,
  while that leak stands (reported within ``leak_stands`` seconds of the latest
  reading);
- how a leak's reason ends (:meth:`Headroom.leak_reason`):
  ``...; limit 512 mb reached in about 9m``;
- whether to capture now, whatever the detector says (:meth:`Headroom.capture_due`):
  usage at ``ratio`` of the limit or more, or the limit less than a capture's
  time away. Near the limit memwatch does not wait for the detector: the time
  left is projected at the faster of the leak's rate and the usage's own rise
  over the last ``recent`` seconds, and the capture is cut to half the time left,
  so that its closing census runs before the kill.
"""

from __future__ import annotations

import collections
import functools
import math
from typing import TYPE_CHECKING

from memwatch.limits import MemoryReading
from memwatch.process_models import MemoryInfo
from memwatch.projection import limit_reason, seconds_to_limit

if TYPE_CHECKING:
    from memwatch.detector import LeakFinding
    from memwatch.limits import MemoryLimits

__all__ = ["Headroom"]

#: The shortest capture the limit trigger starts: two censuses need a moment between them.
_SHORTEST_CAPTURE = 1.0


class Headroom:
    """The memory limit as the watcher sees it: latest reading, leak rate, projection.

    Args:
        limits: The reader of the limit and usage.
        every: Seconds between two readings at least (the sample interval).
        ratio: Share of the limit at which a capture is due (0.9: at 90%).
        leak_stands: Seconds a reported leak's rate is projected for.
        recent: Seconds of readings behind the usage's own recent rate.
    """

    def __init__(
        self,
        limits: MemoryLimits,
        *,
        every: float,
        ratio: float = 0.9,
        leak_stands: float = 900.0,
        recent: float = 30.0,
    ) -> None:
        """Nothing read yet; the first :meth:`read` reads.

        Raises:
            ValueError: ``ratio`` is not in (0, 1].
        """
        if not 0 < ratio <= 1:
            msg = f"limit_capture_ratio must be in (0, 1], got {ratio!r}"
            raise ValueError(msg)
        self._limits = limits
        self.every = every
        self.ratio = ratio
        self.leak_stands = leak_stands
        self.recent = recent
        self.reset()

    def reset(self) -> None:
        """Forget readings and leaks (a forked child has its own usage and leaks)."""
        self.reading = MemoryReading()
        self._read_at = -math.inf
        self._usage: collections.deque[tuple[float, int]] = collections.deque()
        self._leak_rate: float | None = None
        self._leak_at = -math.inf

    def read(self, now: float) -> MemoryReading:
        """The latest reading, taken anew if ``every`` seconds have passed; never raises."""
        if now - self._read_at >= self.every:
            self._read_at = now
            self.reading = self._limits.read()
            if self.reading.used_bytes is not None:
                self._usage.append((now, self.reading.used_bytes))
            while self._usage and now - self._usage[0][0] > self.recent:
                self._usage.popleft()
        return self.reading

    def leak_rate(self, now: float) -> float | None:
        """Bytes a second of the latest leak, while it stands; ``None`` otherwise."""
        if self._leak_rate is None or now - self._leak_at > self.leak_stands:
            return None
        return self._leak_rate

    def leak_reason(self, finding: LeakFinding) -> str:
        """Note the leak's rate; its reason, ending with the projection to the limit if any."""
        self._leak_rate = finding.growth / max(finding.end - finding.start, 1.0)
        self._leak_at = finding.time
        reading = self.reading
        seconds = seconds_to_limit(reading.used_bytes, reading.limit_bytes, self._leak_rate)
        if seconds is None or reading.limit_bytes is None:
            return finding.reason
        return f"{finding.reason}; {limit_reason(reading.limit_bytes, seconds)}"

    def info(self) -> MemoryInfo:
        """What the status shows under ``memory``, as of the latest reading.

        It reads no clock: a status must answer even when the clock fails.
        """
        reading = self.reading
        now = self._read_at
        return _memory_info(
            reading.limit_bytes,
            reading.limit_source,
            reading.used_bytes,
            reading.headroom_bytes,
            seconds_to_limit(reading.used_bytes, reading.limit_bytes, self.leak_rate(now)),
            reading.oom_kills,
        )

    def capture_due(self, now: float, capture_seconds: float) -> float | None:
        """How long a ``limit`` capture should run if one is due now; ``None`` if none is.

        Due when the usage reached ``ratio`` of the limit, or when the limit is less
        than ``capture_seconds`` away at the faster of the leak's rate and the
        usage's recent rise. It runs ``capture_seconds``, or half the time left if
        that is shorter (but at least a second).
        """
        reading = self.reading
        limit, used = reading.limit_bytes, reading.used_bytes
        if limit is None or used is None:
            return None
        rates = [rate for rate in (self.leak_rate(now), self._recent_rate()) if rate is not None]
        left = seconds_to_limit(used, limit, max(rates)) if rates else None
        if used < self.ratio * limit and (left is None or left >= capture_seconds):
            return None
        if left is None:
            return capture_seconds
        return max(_SHORTEST_CAPTURE, min(capture_seconds, left / 2))

    def _recent_rate(self) -> float | None:
        """The usage's rise in bytes a second over the readings kept, if it rose."""
        if len(self._usage) < 2:
            return None
        (first_time, first), (last_time, last) = self._usage[0], self._usage[-1]
        if last <= first or last_time <= first_time:
            return None
        return (last - first) / (last_time - first_time)


# The same figures give the same (frozen) object back, so that a status's serializer
# (memwatch.fragments.FieldwiseEncoder) reuses its JSON between two readings.
_memory_info = functools.lru_cache(maxsize=1, typed=True)(MemoryInfo)
