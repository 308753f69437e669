"""Heap probes: one cheap reading of "how many bytes does the heap hold now".

The collector reads a probe inside the gc callback, so a probe must be cheap,
must not grow with the heap, and must never block. Four ship here:

- :class:`RssProbe`: the process's anonymous resident memory from
  ``/proc/self/statm``. It sees pymalloc's arenas (where almost every Python
  object lives) as well as malloc's heap and every C extension's allocations,
  costs a ``pread`` at any heap size, and ignores file-backed pages (code,
  shared libraries) that grow when a module is imported. It lags a release
  when malloc cannot give memory back.
- :class:`Mallinfo2Probe`: glibc's in-use bytes. Exact for malloc, but blind to
  pymalloc's arenas, which CPython maps directly: a leak of small objects
  (under 512 bytes: instances, small dicts, tuples, short strings) shows as
  a few percent of its size. Exact when pymalloc is off (``PYTHONMALLOC=malloc``).
- :class:`PeakRssProbe`: the peak resident set size from ``getrusage``, the
  portable last resort (macOS, the BSDs). A peak never falls, so it cannot
  show memory given back, but a leak raises it steadily and a stable heap
  leaves it flat, which is what the detector needs.
- :class:`TracemallocProbe`: the bytes tracemalloc traces, only when asked for
  by name. Exact for Python allocations, but blind to plain ``malloc`` (an
  lxml leak of 465 KB/s of RSS read as 3.5 KB/s of traced bytes and was never
  reported), so ``"auto"`` never picks it: process memory stays the leak
  signal even in a process started with ``PYTHONTRACEMALLOC=1``, and
  tracemalloc serves what it is good at, naming allocation sites in a diff.

:func:`make_probe` picks one; ``"auto"`` prefers them in that order (see its
docstring and benchmarks/bench_probes.py for the measurements behind it).
Any object with a ``name`` and a ``read()`` works as a probe.
"""

from __future__ import annotations

import os
import sys
import tracemalloc
import weakref
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from memwatch.errors import MemwatchError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "PROBE_NAMES",
    "Mallinfo2Probe",
    "PeakRssProbe",
    "Probe",
    "ProbeUnavailableError",
    "RssProbe",
    "StatmFile",
    "TracemallocProbe",
    "make_probe",
]

#: The names :func:`make_probe` accepts.
PROBE_NAMES = ("auto", "tracemalloc", "rss", "mallinfo2", "peak_rss")

_STATM_PATH = "/proc/self/statm"
_MALLINFO2_SYMBOL = "mallinfo2"


class ProbeUnavailableError(MemwatchError):
    """The probe cannot measure in this process (platform, libc, or tracemalloc not tracing)."""


@runtime_checkable
class Probe(Protocol):
    """Anything that reports the heap's size in bytes.

    Attributes:
        name: A short name shown in status (``"rss"``, ``"mallinfo2"``, ...).
    """

    name: str

    def read(self) -> int:
        """Return the heap's size now, in bytes.

        It runs inside gc callbacks: it must be cheap and never block. It may
        raise; the collector counts the error and goes on.
        """
        ...


class TracemallocProbe:
    """The bytes tracemalloc traces now (``tracemalloc.get_traced_memory()[0]``).

    Available only while tracemalloc is tracing: construction raises
    :class:`ProbeUnavailableError` otherwise, and so does :meth:`read` if tracing
    stopped since (a reading of 0 would look like the heap emptied).
    """

    name = "tracemalloc"

    def __init__(self) -> None:
        """Check that tracemalloc is tracing.

        Raises:
            ProbeUnavailableError: tracemalloc is not tracing.
        """
        if not tracemalloc.is_tracing():
            raise ProbeUnavailableError(
                "tracemalloc is not tracing; start it first (tracemalloc.start() "
                "or PYTHONTRACEMALLOC=1)"
            )

    def read(self) -> int:
        """Return the traced bytes.

        Raises:
            ProbeUnavailableError: tracemalloc stopped tracing.
        """
        if not tracemalloc.is_tracing():
            raise ProbeUnavailableError("tracemalloc stopped tracing")
        return tracemalloc.get_traced_memory()[0]


class _StatmHandle:
    """A descriptor on one process's statm, and the pid it belongs to.

    Kept apart from :class:`StatmFile` so that a finalizer can close the current
    descriptor without holding the reader alive.
    """

    __slots__ = ("fd", "pid")

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self.pid = os.getpid()

    def close(self) -> None:
        # Called once per handle: by its finalizer, or by StatmFile._reopen after detaching it.
        fd, self.fd = self.fd, -1
        os.close(fd)


class StatmFile:
    """This process's ``/proc/self/statm``, read through a descriptor kept open.

    ``/proc/self`` resolves when the file is opened, so a descriptor inherited
    by a forked child still reads the parent's statm. The reader remembers the
    pid it opened the file in and reopens it on the first read in another
    process, whichever way the fork happened. (If two threads of a child race on
    that first read, one extra descriptor may be left open; the reading is right.)
    """

    def __init__(self, path: str | None = None) -> None:
        """Open the file once.

        Args:
            path: The statm file, ``/proc/self/statm`` by default.

        Raises:
            OSError: the file cannot be opened.
        """
        self.path = _STATM_PATH if path is None else path
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self._handle = _StatmHandle(self.path)
        self._finalizer = weakref.finalize(self, self._handle.close)

    def pages(self) -> list[int]:
        """Return statm's fields, in pages: size, resident, shared, text, lib, data, dt.

        Raises:
            OSError: the descriptor was closed or cannot be read.
            ValueError: the file does not hold numbers.
        """
        handle = self._handle
        if handle.pid != os.getpid():
            handle = self._reopen()
        return [int(field) for field in os.pread(handle.fd, 128, 0).split()]

    def _reopen(self) -> _StatmHandle:
        old = self._handle
        new = _StatmHandle(self.path)
        self._handle = new
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, new.close)
        old.close()
        return new

    def close(self) -> None:
        """Close the descriptor; later reads raise :class:`OSError`."""
        self._finalizer()


class RssProbe:
    """Resident memory from ``/proc/self/statm``, read through a descriptor kept open.

    By default it reports *anonymous* resident bytes (statm's ``resident`` minus
    ``shared``, that is the kernel's RssAnon): the malloc heap, pymalloc's arenas,
    thread stacks. File-backed pages (the interpreter's code, shared libraries,
    memory-mapped files) are left out, since they grow when a module is imported
    and shrink under memory pressure without any leak. ``total=True`` reports the
    whole resident set, as ``ps`` shows it. A forked child reads its own statm
    (see :class:`StatmFile`).

    Where ``/proc`` is missing (macOS, Windows, some containers) construction
    raises :class:`ProbeUnavailableError`: ``resource.getrusage``'s maxrss is a
    peak, never going down, and would hide every release.
    """

    name = "rss"

    def __init__(self, *, total: bool = False, path: str | None = None) -> None:
        """Open the statm file once.

        Args:
            total: Report the whole resident set instead of its anonymous part.
            path: The statm file, ``/proc/self/statm`` by default.

        Raises:
            ProbeUnavailableError: the file cannot be opened or read.
        """
        self.total = total
        path = _STATM_PATH if path is None else path
        try:
            self._statm = StatmFile(path)
        except (OSError, ValueError, AttributeError) as exc:
            raise ProbeUnavailableError(f"cannot read {path}: {exc}") from exc
        try:
            self.read()
        except (OSError, ValueError, IndexError) as exc:
            self.close()
            raise ProbeUnavailableError(f"cannot read {path}: {exc}") from exc

    def read(self) -> int:
        """Return this process's resident bytes (anonymous unless ``total``)."""
        fields = self._statm.pages()
        pages = fields[1] if self.total else fields[1] - fields[2]
        return pages * self._statm.page_size

    def close(self) -> None:
        """Close the descriptor; later reads raise :class:`OSError`."""
        self._statm.close()


def _libc_mallinfo2() -> Callable[[], Any]:
    """Return glibc's ``mallinfo2`` as a ctypes function, or raise ProbeUnavailableError."""
    try:
        import ctypes  # noqa: PLC0415 - only this probe needs ctypes, and it may be missing
    except ImportError as exc:  # pragma: no cover - CPython builds without ctypes are rare
        raise ProbeUnavailableError("ctypes is not available") from exc

    class _Mallinfo2(ctypes.Structure):
        # struct mallinfo2 from glibc's <malloc.h>: ten size_t fields, in this order.
        _fields_ = [
            (field, ctypes.c_size_t)
            for field in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        libc = ctypes.CDLL(None)
        function = getattr(libc, _MALLINFO2_SYMBOL)
    except (OSError, AttributeError, TypeError) as exc:
        raise ProbeUnavailableError(
            "glibc mallinfo2() is not available (it needs Linux with glibc 2.33 or later)"
        ) from exc
    function.restype = _Mallinfo2
    function.argtypes = []
    return cast("Callable[[], Any]", function)


class Mallinfo2Probe:
    """glibc's in-use heap bytes: ``mallinfo2()``'s ``uordblks + hblkhd``.

    ``uordblks`` is what malloc's arenas hand out, ``hblkhd`` what it serves by
    ``mmap`` (large blocks). It is exact for malloc, but CPython's pymalloc maps
    its own arenas for every allocation of 512 bytes or less, and those are not
    counted: a leak of small objects shows as a few percent of its size. Use it
    when pymalloc is off (``PYTHONMALLOC=malloc``) or the leaks are big buffers.
    ``mallinfo2`` walks each arena's free lists under the arena's lock, so its
    cost grows with the heap's fragmentation.
    """

    name = "mallinfo2"

    def __init__(self) -> None:
        """Find ``mallinfo2`` in the C library.

        Raises:
            ProbeUnavailableError: not glibc, or glibc older than 2.33.
        """
        self._mallinfo2 = _libc_mallinfo2()

    def read(self) -> int:
        """Return the bytes malloc has handed out and not freed."""
        info = self._mallinfo2()
        return int(info.uordblks + info.hblkhd)


class PeakRssProbe:
    """The process's peak resident set size, from ``resource.getrusage``.

    Works wherever the ``resource`` module exists (Linux, macOS, the BSDs).
    ``ru_maxrss`` is in kilobytes on Linux and in bytes on macOS.
    """

    name = "peak_rss"

    def __init__(self) -> None:
        """Check that ``getrusage`` is available.

        Raises:
            ProbeUnavailableError: the platform has no ``resource`` module.
        """
        try:
            import resource  # noqa: PLC0415 - absent on Windows
        except ImportError as exc:
            raise ProbeUnavailableError("the resource module is unavailable") from exc
        self._getrusage = resource.getrusage
        self._who = resource.RUSAGE_SELF
        self._scale = 1 if sys.platform == "darwin" else 1024

    def read(self) -> int:
        """Return the peak resident set size in bytes."""
        return int(self._getrusage(self._who).ru_maxrss) * self._scale


def _pymalloc_disabled() -> bool:
    """Tell whether PYTHONMALLOC routes every allocation through malloc."""
    return os.environ.get("PYTHONMALLOC", "") in {"malloc", "malloc_debug"}


def _try_probe(
    probe_type: type[RssProbe | Mallinfo2Probe | PeakRssProbe], reasons: list[str]
) -> Probe | None:
    """Build one probe, or note why it is unavailable and return None."""
    try:
        return probe_type()
    except ProbeUnavailableError as exc:
        reasons.append(f"{probe_type.name}: {exc}")
        return None


def make_probe(name: str = "auto") -> Probe:
    """Build a probe by name.

    ``"auto"`` picks, in order: ``mallinfo2`` if pymalloc is off
    (``PYTHONMALLOC=malloc``, so malloc sees everything); ``rss`` where
    ``/proc`` exists (it sees pymalloc's arenas, which ``mallinfo2`` cannot);
    ``mallinfo2`` where only it works; ``peak_rss`` as the last resort. It never
    picks ``tracemalloc``, even while tracing: traced bytes miss every
    allocation made by plain ``malloc`` (native leaks). The measurements behind
    this order are in benchmarks/bench_probes.py.

    Args:
        name: One of ``"auto"``, ``"tracemalloc"``, ``"rss"``, ``"mallinfo2"``,
            ``"peak_rss"``.

    Returns:
        A ready probe.

    Raises:
        ValueError: ``name`` is not one of the choices.
        ProbeUnavailableError: the probe named (or, for ``"auto"``, every probe)
            cannot measure in this process.
    """
    if name == "tracemalloc":
        return TracemallocProbe()
    if name == "rss":
        return RssProbe()
    if name == "mallinfo2":
        return Mallinfo2Probe()
    if name == "peak_rss":
        return PeakRssProbe()
    if name != "auto":
        raise ValueError(
            f"unknown probe {name!r}; choose one of {', '.join(map(repr, PROBE_NAMES))}"
        )
    order: list[type[RssProbe | Mallinfo2Probe | PeakRssProbe]] = [RssProbe, Mallinfo2Probe]
    if _pymalloc_disabled():
        order.reverse()
    order.append(PeakRssProbe)
    reasons: list[str] = []
    for probe_type in order:
        probe = _try_probe(probe_type, reasons)
        if probe is not None:
            return probe
    raise ProbeUnavailableError(
        "no heap probe works here ("
        + "; ".join(reasons)
        + "); use make_probe('tracemalloc') while tracemalloc traces, "
        "or pass your own probe (an object with name and read())"
    )
