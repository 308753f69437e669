"""The tracing window: tracemalloc on for one capture, allocation sites in application code.

tracemalloc from process start slows every allocation down and makes a
snapshot of a large heap cost seconds. A window starts it (unless something
already traces) with enough frames to reach the application's caller, keeps
it on while a capture runs, and stops it again only if the window started it.
Everything traced was then allocated during the window, so a snapshot at its
end holds only what the window allocated and is still alive: few traces, a
cheap snapshot, and none of the heap that was there before.

A site names the innermost frame in application code: not the standard
library, not site-packages, not memwatch or its dependencies, not generated
code (``<...>`` file names, as cattrs' generated functions have). When the
allocation itself happened inside a library, that library frame is kept beside
it (``logging/__init__.py:1356`` called from ``app.py:40``). Traces that pass
through memwatch's own code are memwatch's bookkeeping and are left out.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import site
import sysconfig
import threading
import tracemalloc
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import attrs

from memwatch.census import bookkeeping

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["FrameClassifier", "TracingWindow", "WindowReading", "WindowSite"]
__all__ += ["default_classifier", "group_sites"]

#: Frames per trace. tracemalloc keeps the innermost ones, so what counts is how far
#: the allocation sits below the application's line, not how deep the server's
#: stack is: 1-7 frames in the nine scenario apps (12 for a kept traceback's
#: frames), 10 costs two thirds of 20 per allocation.
DEFAULT_FRAMES = 10

# Packages whose frames are never the application's, wherever they are installed.
_OWN_PACKAGES = ("memwatch", "memwatch_flask", "memwatch_fastapi", "memwatch_tornado")
_DEPENDENCIES = ("attr", "attrs", "cattr", "cattrs")

_lock = threading.Lock()
_windows_tracing = 0  # open windows that rely on tracing started by a window


@bookkeeping
@attrs.frozen
class WindowSite:
    """Where memory still alive at the window's end was allocated.

    Attributes:
        file: The innermost application frame's file.
        line: Its line number.
        size_bytes: Live bytes allocated there during the window.
        count: Live blocks allocated there during the window.
        library: When the allocation happened inside a library, its innermost
            frame as ``"path/inside/library.py:line"`` (of several, the one under
            which most of the line's bytes were allocated); ``""`` otherwise.
    """

    file: str
    line: int
    size_bytes: int
    count: int
    library: str = ""


@attrs.frozen
class FrameClassifier:
    """Tells application frames from library, memwatch and generated ones, by path prefix.

    Attributes:
        library_dirs: Directories of the standard library and installed packages.
        own_dirs: Directories of memwatch and its dependencies.
    """

    library_dirs: tuple[str, ...]
    own_dirs: tuple[str, ...]

    def is_own(self, filename: str) -> bool:
        """Whether ``filename`` is memwatch's or one of its dependencies' code."""
        return _under(filename, self.own_dirs) or filename == tracemalloc.__file__

    def is_app(self, filename: str) -> bool:
        """Whether ``filename`` is application code (not library, own, or generated)."""
        return not (
            filename.startswith("<") or self.is_own(filename) or _under(filename, self.library_dirs)
        )

    def short(self, filename: str) -> str:
        """``filename`` relative to the library directory it is in, else unchanged."""
        for prefix in self.library_dirs:
            if filename.startswith(prefix + os.sep):
                return filename[len(prefix) + 1 :]
        return filename


def _under(filename: str, dirs: tuple[str, ...]) -> bool:
    return any(filename.startswith(prefix + os.sep) for prefix in dirs)


@functools.cache
def default_classifier() -> FrameClassifier:
    """The classifier for this interpreter, computed once.

    Library directories come from ``sysconfig.get_paths()`` and ``site``,
    longest first so that a site-packages inside the standard library's
    directory shortens to the package's own path.
    """
    paths = sysconfig.get_paths()
    library = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    library.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    if site.ENABLE_USER_SITE:
        library.add(site.getusersitepackages())
    own = set()
    for name in (*_OWN_PACKAGES, *_DEPENDENCIES):
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or ()) if spec else ():
            own.add(location)
    return FrameClassifier(
        library_dirs=tuple(sorted(map(os.path.realpath, library), key=len, reverse=True))
        + tuple(sorted(library, key=len, reverse=True)),
        own_dirs=tuple(sorted(own | set(map(os.path.realpath, own)), key=len, reverse=True)),
    )


def group_sites(
    traces: Iterable[tuple[Sequence[tuple[str, int]], int, int]],
    classifier: FrameClassifier,
    *,
    limit: int = 20,
) -> tuple[WindowSite, ...]:
    """Group traces by their innermost application frame (and library frame).

    Args:
        traces: ``(frames, size, count)`` per traceback, frames oldest first
            as tracemalloc lists them, each ``(filename, lineno)``.
        classifier: Tells application frames from the rest.
        limit: At most this many sites, the largest first.

    Returns:
        One site per application line, by live bytes, largest first (ties by
        file and line). A traceback
        through memwatch's own code is left out; one without any application
        frame is charged to its innermost frame as a library site.
    """
    totals: defaultdict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    libraries: defaultdict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    for frames, size, count in traces:
        key = _site_key(frames, classifier)
        if key is not None:
            file, line, library = key
            total = totals[file, line]
            total[0] += size
            total[1] += count
            libraries[file, line][library] += size
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return tuple(
        WindowSite(
            file=file,
            line=line,
            size_bytes=size,
            count=count,
            library=_heaviest(libraries[file, line]),
        )
        for (file, line), (size, count) in ranked[:limit]
    )


def _heaviest(libraries: Counter[str]) -> str:
    """The library frame under which most of a line's bytes were allocated (ties by name)."""
    return min(libraries.items(), key=lambda item: (-item[1], item[0]))[0]


def _site_key(
    frames: Sequence[tuple[str, int]], classifier: FrameClassifier
) -> tuple[str, int, str] | None:
    if not frames or any(classifier.is_own(filename) for filename, _ in frames):
        return None
    innermost = frames[-1]
    for filename, lineno in reversed(frames):
        if classifier.is_app(filename):
            if (filename, lineno) == innermost:
                return filename, lineno, ""
            return filename, lineno, f"{classifier.short(innermost[0])}:{innermost[1]}"
    return innermost[0], innermost[1], f"{classifier.short(innermost[0])}:{innermost[1]}"


_Stacks = list[tuple[tuple[tuple[str, int], ...], int, int]]


def _snapshot_traces(snapshot: tracemalloc.Snapshot) -> tuple[_Stacks, int, int]:
    """Live traces grouped by stack, and the bytes traced in Python's and in other domains.

    tracemalloc hands out one tuple per distinct stack, shared by every trace
    of that stack, so traces are grouped by that tuple's identity: a few
    operations per trace instead of ``Snapshot.statistics``' hashing of every
    stack (seconds for a few ten thousand traces of 20 frames).
    """
    raw = getattr(snapshot.traces, "_traces", None)
    if raw is None:  # pragma: no cover - a tracemalloc without the raw list
        stacks = [
            (tuple((f.filename, f.lineno) for f in stat.traceback), stat.size, stat.count)
            for stat in snapshot.statistics("traceback")
        ]
        return stacks, sum(size for _, size, _ in stacks), 0
    totals: dict[int, list[int]] = {}
    frames_of: dict[int, tuple[tuple[str, int], ...]] = {}
    python = foreign = 0
    for domain, size, frames, *_ in raw:
        if domain:
            foreign += size
        else:
            python += size
        total = totals.get(id(frames))
        if total is None:
            totals[id(frames)] = [size, 1]
            frames_of[id(frames)] = frames
        else:
            total[0] += size
            total[1] += 1
    # Raw stacks are most recent call first; group_sites takes them oldest first.
    stacks = [(frames_of[key][::-1], size, count) for key, (size, count) in totals.items()]
    return stacks, python, foreign


@bookkeeping
@attrs.frozen
class WindowReading:
    """What a tracing window saw alive at one moment.

    Attributes:
        sites: The allocation sites, largest first.
        traced_bytes: Live bytes traced in Python's own domain.
        foreign_bytes: Live bytes extensions traced in their own domains (numpy's buffers).
    """

    sites: tuple[WindowSite, ...]
    traced_bytes: int
    foreign_bytes: int


@bookkeeping
class TracingWindow:
    """tracemalloc on for one capture; open, take :meth:`sites`, close.

    Windows may overlap (a manual and an automatic profile): tracing started by
    a window stops when the last such window closes. When something else was
    tracing already, the window leaves tracing alone and its sites are what
    changed between its opening and the call (a baseline is grouped at opening).
    """

    def __init__(self, *, frames: int = DEFAULT_FRAMES) -> None:
        """Prepare a window; nothing is traced until :meth:`open`.

        Args:
            frames: Frames stored per trace when the window starts tracing.

        Raises:
            ValueError: ``frames`` is below 1.
        """
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames!r}")
        self._frames = frames
        self._state = "new"
        self._owns = False
        self._baseline: dict[tuple[str, int, str], tuple[int, int]] = {}
        self._baseline_bytes = (0, 0)

    @property
    def started_tracing(self) -> bool:
        """Whether this window relies on tracing a window started (not someone else's)."""
        return self._owns

    def open(self) -> Self:
        """Start tracing unless something already traces; returns this window.

        Raises:
            RuntimeError: The window was already opened.
        """
        global _windows_tracing  # noqa: PLW0603 - one count for the one tracemalloc of the process
        if self._state != "new":
            raise RuntimeError("a tracing window opens once")
        self._state = "open"
        with _lock:
            if _windows_tracing or not tracemalloc.is_tracing():
                if not tracemalloc.is_tracing():
                    tracemalloc.start(self._frames)
                _windows_tracing += 1
                self._owns = True
        if not self._owns:
            stacks, python, foreign = _snapshot_traces(tracemalloc.take_snapshot())
            self._baseline_bytes = (python, foreign)
            everything = group_sites(stacks, default_classifier(), limit=1 << 30)
            self._baseline = {
                (s.file, s.line, s.library): (s.size_bytes, s.count) for s in everything
            }
        return self

    def sites(self, *, limit: int = 20) -> tuple[WindowSite, ...]:
        """Allocation sites of what was allocated since :meth:`open` and is alive now.

        Args:
            limit: At most this many sites, largest first.

        Returns:
            The sites; empty when the window is not open.
        """
        return self.read(limit=limit).sites

    def read(self, *, limit: int = 20) -> WindowReading:
        """The sites and traced bytes of what was allocated since :meth:`open`, alive now.

        Args:
            limit: At most this many sites, largest first.

        Returns:
            The reading; empty when the window is not open.
        """
        if self._state != "open" or not tracemalloc.is_tracing():
            return WindowReading((), 0, 0)
        return self._group(tracemalloc.take_snapshot(), limit)

    def finish(self, *, limit: int = 20) -> WindowReading:
        """Read the window and close it: what a capture does at its end.

        The snapshot is taken first and grouped after tracing stops, so the
        grouping's own allocations are not traced (with 20 frames per trace on a
        large heap that made grouping 25k traces take seconds instead of 0.1 s).

        Args:
            limit: At most this many sites, largest first.

        Returns:
            The reading; empty when the window was not open.
        """
        if self._state != "open" or not tracemalloc.is_tracing():
            self.close()
            return WindowReading((), 0, 0)
        snapshot = tracemalloc.take_snapshot()
        self.close()
        return self._group(snapshot, limit)

    def _group(self, snapshot: tracemalloc.Snapshot, limit: int) -> WindowReading:
        stacks, python, foreign = _snapshot_traces(snapshot)
        grouped = group_sites(stacks, default_classifier(), limit=1 << 30)
        if not self._baseline:
            return WindowReading(grouped[:limit], python, foreign)
        changed = []
        for found in grouped:
            size, count = self._baseline.get((found.file, found.line, found.library), (0, 0))
            if found.size_bytes > size:
                changed.append(
                    attrs.evolve(
                        found, size_bytes=found.size_bytes - size, count=found.count - count
                    )
                )
        changed.sort(key=lambda entry: (-entry.size_bytes, entry.file, entry.line))
        python -= self._baseline_bytes[0]
        foreign -= self._baseline_bytes[1]
        return WindowReading(tuple(changed[:limit]), max(python, 0), max(foreign, 0))

    def close(self) -> None:
        """Stop tracing if a window started it and this is the last such window open."""
        global _windows_tracing  # noqa: PLW0603 - see open()
        if self._state != "open":
            return
        self._state = "closed"
        if not self._owns:
            return
        with _lock:
            _windows_tracing -= 1
            if _windows_tracing == 0 and tracemalloc.is_tracing():
                tracemalloc.stop()

    def __enter__(self) -> Self:
        """Open the window."""
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the window; never swallow an exception."""
        self.close()
