"""The auto-capture policy: when memwatch takes a profile without being asked, and for how long.

A *trigger* starts a capture: a baseline census now, and the closing census
once the capture's time is up (:meth:`AutoCapture.tick`) or at the next trigger,
whichever comes first: the next trigger has seen the growth the capture is for.
Two triggers exist: ``"leak"`` (the detector reported one) and ``"limit"``
(memory neared its limit, whatever the detector says; see
:class:`memwatch.headroom.Headroom`). A ``"limit"`` trigger ends a running leak
capture at once, so that its profile is complete before the process is killed,
but leaves a running limit capture alone: its length was cut to end before the
limit, and the trigger fires on every poll while memory stays near it. What
fires a trigger and how long its capture runs are the caller's inputs; the
policy decides the rest:

- one capture at a time, and at most one started per ``cooldown`` seconds, so a
  leaking service is not censused continuously;
- a trigger that meets a busy census (a manual profile's, a forced
  collection) starts nothing and uses up no cooldown: the next trigger tries again;
- a capture due to end while a census is busy stays pending until a later tick;
- it never raises and never waits: a second thread arriving while one captures
  skips; errors go to ``on_error``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from memwatch.errors import CensusBusyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from memwatch.models import ProfileTrigger
    from memwatch.profiles import Profiler

__all__ = ["AutoCapture"]


class AutoCapture:
    """Starts and ends the profiles taken on a trigger, at most one at a time.

    Args:
        profiler: Takes the censuses and keeps the profiles.
        cooldown: Seconds between two captures' starts.
        on_error: Called with an unexpected exception and ``"auto-capture"``.
        clock: Monotonic seconds; tests inject their own.
    """

    def __init__(
        self,
        profiler: Profiler,
        *,
        cooldown: float = 600.0,
        on_error: Callable[[BaseException, str], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Nothing captured yet: the first trigger starts a capture."""
        self._profiler = profiler
        self.cooldown = cooldown
        self._on_error = on_error
        self._clock = clock
        self._lock = threading.Lock()
        self._id: str | None = None
        self._trigger: ProfileTrigger | None = None
        self._ends_at: float | None = None
        self._last_start: float | None = None

    @property
    def running(self) -> str | None:
        """The id of the capture running now, or ``None``."""
        return self._id

    @property
    def ends_at(self) -> float | None:
        """When the running capture is due to end (the clock's seconds), or ``None``."""
        return self._ends_at

    def trigger(self, trigger: ProfileTrigger, *, seconds: float) -> None:
        """``trigger`` fired now: end the running capture, or start one that lasts ``seconds``.

        Skips, without waiting, if another thread is capturing right now.
        """
        if not self._lock.acquire(blocking=False):
            return
        try:
            now = self._clock()
            if self._id is not None:
                if not (trigger == "limit" and self._trigger == "limit"):
                    self._end(self._id)
                return
            last = self._last_start
            if last is not None and now - last < self.cooldown:
                return
            self._last_start = now
            try:
                profile = self._profiler.start(trigger)
            except CensusBusyError:
                self._last_start = last  # no census ran: the next trigger tries again
                raise
            self._id, self._trigger, self._ends_at = profile.id, trigger, now + seconds
        except CensusBusyError:
            pass  # another census holds the heap's attention; the next trigger or tick retries
        except Exception as exc:  # noqa: BLE001 - a capture must never fail its caller
            self._on_error(exc, "auto-capture")
        finally:
            self._lock.release()

    def tick(self) -> None:
        """End the running capture if its time is up; a busy census leaves it for a later tick."""
        if self._due(self._clock()) is None:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            # Asked again under the lock: meanwhile another thread may have ended
            # that capture and started a new one, which is not due yet.
            profile_id = self._due(self._clock())
            if profile_id is not None:
                self._end(profile_id)
        except CensusBusyError:
            pass  # still pending: the next tick ends it
        except Exception as exc:  # noqa: BLE001 - a capture must never fail its caller
            self._on_error(exc, "auto-capture")
        finally:
            self._lock.release()

    def reset(self) -> None:
        """Forget the running capture and the cooldown (a forked child starts with neither)."""
        self._lock = threading.Lock()
        self._id = None
        self._trigger = None
        self._ends_at = None
        self._last_start = None

    def _due(self, now: float) -> str | None:
        profile_id, ends_at = self._id, self._ends_at
        if profile_id is None or ends_at is None or now < ends_at:
            return None
        return profile_id

    def _end(self, profile_id: str) -> None:
        """End the capture; the caller holds the lock. One the user ended or deleted is let go.

        Raises:
            CensusBusyError: a census runs; the capture stays pending.
        """
        if any(p.id == profile_id for p in self._profiler.running()):
            # A closing census that fails is the profiler's to report (its on_error).
            self._profiler.end(profile_id)
        self._id, self._trigger, self._ends_at = None, None, None
