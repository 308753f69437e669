"""This worker's part in its host: its status in the store, and requests to and from other workers.

A profile's baseline census lives in the memory of the worker that took it,
so only that worker can end it; only a worker can census its own heap. When a
request reaches another worker (gunicorn picks one at random), that worker
leaves a :class:`~memwatch.store.protocol.HandOver` in the host store, the owner picks
it up at its next poll (about once a second), acts, and stores the result; the
worker that was asked waits for the result in the store, bounded, and answers
with it. If the owner is gone, its running profile fails (``"worker exited"``)
instead of waiting for nobody.

Each worker also writes its status to the store at most once per sample
interval, which is what ``GET /ah/workers``, ``?pid=`` status and the metrics
of every worker read.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from memwatch.errors import (
    CensusBusyError,
    MemwatchError,
    ProfileConflictError,
    ProfileNotFoundError,
    WorkerNotFoundError,
    WorkerTimeoutError,
)
from memwatch.host_models import WorkerList, worker_from_record
from memwatch.store import HandOver, MemoryWorkerStore, WorkerStore, new_profile_id

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from memwatch.models import Profile, ProfileSummary
    from memwatch.profiles import Profiler
    from memwatch.store import ProfileStore

__all__ = ["HostLink", "acting_for"]

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
        wait_seconds: How long to wait for another worker to act on a request.
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
        wait_seconds: float = 33.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Link this worker to ``workers``; nothing is written until :meth:`poll`."""
        self.profiles = profiles
        self.workers = workers
        self._status = status
        self._act = act
        self.interval = interval
        self.wait_seconds = wait_seconds
        self._clock = clock
        self._last_write = -float("inf")
        self._lock = threading.Lock()
        self._polled = False
        _links.add(self)

    @classmethod
    def for_store(cls, store: ProfileStore, **options: Any) -> HostLink:
        """A link over ``store``; a store keeping no workers gets an in-memory table beside it."""
        workers = store if isinstance(store, WorkerStore) else MemoryWorkerStore(store)
        return cls(store, workers, **options)

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
            self._polled = True
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
            self._polled = True
        self.workers.record_worker(os.getpid(), self._status())

    def announce(self) -> None:
        """Write the status now unless this worker wrote it before (it is about to own a profile).

        A worker lists itself at its first poll, a second after it starts; one
        that starts a profile sooner and is killed before that poll would leave
        a profile whose owner ``GET /ah/workers`` never heard of.
        """
        if self.shared and not self._polled:
            self.write_status_now()

    def goodbye(self) -> None:
        """Mark this worker exited: its running profiles fail, its finished ones stay readable."""
        self.workers.worker_exited(os.getpid())

    # -- what the API serves about the host ----------------------------------------

    def worker_list(self) -> WorkerList:
        """Every worker of the host the store knows (``GET /ah/workers``)."""
        return WorkerList(tuple(worker_from_record(r) for r in self.workers.workers()))

    def status_of(self, pid: int) -> dict[str, Any]:
        """Worker ``pid``'s last stored status, as it answered it (``?pid=`` on status).

        Raises:
            WorkerNotFoundError: the store knows no worker with that pid.
        """
        record = self.workers.worker(pid)
        if record is None or not record.status:
            raise WorkerNotFoundError(pid)
        return record.status

    def summaries(self) -> list[ProfileSummary]:
        """Every stored profile's listing line, with its worker's pid."""
        return self.workers.summaries()

    def metrics(self) -> bytes:
        """The Prometheus text exposition of every live worker (``GET /ah/metrics``).

        Raises:
            memwatch.extras.MissingExtraError: prometheus_client is not installed.
        """
        from memwatch.prometheus import render_metrics  # noqa: PLC0415 - the optional extra

        return render_metrics(self.workers)

    def end_elsewhere(self, profile: Profile, timeout: float | None = None) -> Profile:
        """Have the worker owning ``profile`` end it, and wait for the result.

        Raises:
            ProfileConflictError: the profile is not running.
            ProfileNotFoundError: the profile was deleted while waiting.
            WorkerTimeoutError: the owner did not end it within ``timeout`` seconds
                (default ``wait_seconds``).
        """
        if profile.state != "running":
            raise ProfileConflictError(
                f"profile {profile.id} is {profile.state}, not running", profile.id
            )
        if self.workers.owner_alive(profile.pid):
            self.workers.hand_over(HandOver("end", profile.id, profile.pid))
        return self._wait(
            profile.pid,
            self.wait_seconds if timeout is None else timeout,
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

    def start_elsewhere(self, pid: int, timeout: float | None = None) -> Profile:
        """Have worker ``pid`` start a manual profile, and wait for it to be stored.

        Raises:
            WorkerNotFoundError: no live worker of this host has that pid.
            ProfileConflictError: a manual profile is already running in that worker.
            WorkerTimeoutError: the worker did not start it within ``timeout`` seconds
                (default ``wait_seconds``).
        """
        if not self.shared or not self.workers.owner_alive(pid):
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

        return self._wait(pid, self.wait_seconds if timeout is None else timeout, started)

    def _wait(self, pid: int, timeout: float, done: Callable[[], Profile | None]) -> Profile:
        deadline = time.monotonic() + timeout
        while True:
            result = done()
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                raise WorkerTimeoutError(pid, timeout)
            time.sleep(_WAIT_STEP)


def acting_for(
    profiler: Profiler, note_error: Callable[[BaseException, str], object]
) -> Callable[[HandOver], bool]:
    """How a worker acts on a request left for it: start or end the profile with ``profiler``.

    The function returns False when a census was busy (ask again at the next
    poll) and True otherwise; a request made moot meanwhile (the profile ended
    or was deleted, a manual profile runs here already) is dropped.
    """

    def act(request: HandOver) -> bool:
        try:
            if request.action == "start":
                profiler.start("manual", profile_id=request.profile_id)
            else:
                profiler.end(request.profile_id)
        except CensusBusyError:
            return False
        except MemwatchError:
            pass
        except Exception as exc:  # noqa: BLE001 - a failed census is noted; the asker sees it
            note_error(exc, "handed-over profile")
        return True

    return act


# -- goodbye at exit -----------------------------------------------------------------

_links: weakref.WeakSet[HostLink] = weakref.WeakSet()


def _goodbye_at_exit() -> None:
    """Mark this process's workers exited as it ends (gunicorn recycling a worker, a deploy)."""
    for link in list(_links):
        if not link._polled:  # noqa: SLF001 - the module owns its links' exit
            continue
        try:
            link.goodbye()
        except Exception:
            logger.debug("memwatch: marking pid %d exited failed", os.getpid(), exc_info=True)


atexit.register(_goodbye_at_exit)
