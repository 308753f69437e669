"""This worker's part in its host: its status in the store, and requests to and from other workers.

A profile's baseline census lives in the memory of the worker that took it,
so only that worker can end it; only a worker can census its own heap. When a
request reaches another worker (gunicorn picks one at random), that worker
leaves a :class:`~memwatch.store.HandOver` in the host store, the owner picks
it up at its next poll (about once a second), acts, and stores the result; the
worker that was asked waits for the result in the store, bounded, and answers
with it. If the owner is gone, its running profile fails (``"worker exited"``)
instead of waiting for nobody.

Each worker also writes its status to the store at most once per sample
interval, which is what ``GET /ah/workers``, ``?pid=`` status and the metrics
of every worker read.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from memwatch.errors import (
    ProfileConflictError,
    ProfileNotFoundError,
    WorkerNotFoundError,
    WorkerTimeoutError,
)
from memwatch.store import HandOver, new_profile_id

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from memwatch.models import Profile
    from memwatch.store import ProfileStore, WorkerStore

__all__ = ["HostLink"]

logger = logging.getLogger("memwatch")

#: Seconds between two looks at the store while waiting for another worker's answer.
_WAIT_STEP = 0.05


class HostLink:
    """One worker's link to the other workers of its host, through their shared store.

    Args:
        profiles: The profile store (the same object as ``workers`` for the host store).
        workers: The workers table and its requests.
        status: Returns this worker's status as the JSON object its status route answers.
        act: Acts on a request left for this worker; returns False to be asked
            again at the next poll (a census was busy), True once it is handled.
        interval: Seconds between two status writes (the watcher's sample interval).
        clock: Monotonic clock, in seconds; tests inject one.
    """

    def __init__(
        self,
        profiles: ProfileStore,
        workers: WorkerStore,
        *,
        status: Callable[[], Mapping[str, Any]],
        act: Callable[[HandOver], bool],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Link this worker to ``workers``; nothing is written until :meth:`poll`."""
        self.profiles = profiles
        self.workers = workers
        self._status = status
        self._act = act
        self.interval = interval
        self._clock = clock
        self._last_write = -float("inf")
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """True when other workers read this store (requests then cross processes)."""
        return bool(self.workers.shared)

    def reset(self) -> None:
        """In a forked child: write the status at the next poll, as a new worker."""
        self._lock = threading.Lock()
        self._last_write = -float("inf")

    def poll(self) -> None:
        """Write the status if an interval has passed, then act on requests left for this worker."""
        now = self._clock()
        with self._lock:
            due = now - self._last_write >= self.interval
            if due:
                self._last_write = now
        if due:
            self.workers.record_worker(os.getpid(), self._status())
        if not self.shared:
            return
        for request in self.workers.requests_for(os.getpid()):
            if self._act(request):
                self.workers.drop_request(request.profile_id)

    def write_status_now(self) -> None:
        """Write the status at once (after an event others should see without waiting)."""
        with self._lock:
            self._last_write = self._clock()
        self.workers.record_worker(os.getpid(), self._status())

    def goodbye(self) -> None:
        """Mark this worker exited: its running profiles fail, its finished ones stay readable."""
        self.workers.worker_exited(os.getpid())

    def end_elsewhere(self, profile: Profile, timeout: float) -> Profile:
        """Have the worker owning ``profile`` end it, and wait for the result.

        Raises:
            ProfileNotFoundError: the profile was deleted while waiting.
            WorkerTimeoutError: the owner did not end it within ``timeout`` seconds.
        """
        if self.workers.owner_alive(profile.pid):
            self.workers.hand_over(HandOver("end", profile.id, profile.pid))
        return self._wait(
            profile.pid,
            timeout,
            lambda: self._ended(profile.id, profile.pid),
        )

    def _ended(self, profile_id: str, owner: int) -> Profile | None:
        current = self.profiles.get(profile_id)
        if current is None:
            raise ProfileNotFoundError(profile_id)
        if current.state != "running":
            return current
        if not self.workers.owner_alive(owner):
            self.workers.worker_exited(owner)  # fails its running profiles, this one included
        return None

    def start_elsewhere(self, pid: int, timeout: float) -> Profile:
        """Have worker ``pid`` start a manual profile, and wait for it to be stored.

        Raises:
            WorkerNotFoundError: no live worker has that pid.
            ProfileConflictError: a manual profile is already running in that worker.
            WorkerTimeoutError: the worker did not start it within ``timeout`` seconds.
        """
        if not self.workers.owner_alive(pid):
            raise WorkerNotFoundError(pid)
        for line in self.workers.summaries():
            if line.pid == pid and line.state == "running" and line.trigger == "manual":
                raise ProfileConflictError(
                    f"profile {line.id} is already running in worker {pid}; end it with "
                    f"POST .../memoryProfile/{line.id}/end before starting another",
                    line.id,
                )
        profile_id = new_profile_id()
        self.workers.hand_over(HandOver("start", profile_id, pid))

        def started() -> Profile | None:
            found = self.profiles.get(profile_id)
            if found is None and not self.workers.owner_alive(pid):
                self.workers.drop_request(profile_id)
                raise WorkerNotFoundError(pid)
            return found

        return self._wait(pid, timeout, started)

    def _wait(self, pid: int, timeout: float, done: Callable[[], Profile | None]) -> Profile:
        deadline = time.monotonic() + timeout
        while True:
            result = done()
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                raise WorkerTimeoutError(pid, timeout)
            time.sleep(_WAIT_STEP)
