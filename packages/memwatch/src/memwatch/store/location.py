"""Which store a service gets, and where its file lives, with no configuration needed.

The rule (docs/workers.md gives the reasons):

1. ``MEMWATCH_STORE=memory``: the in-memory store, whatever else holds.
2. ``MEMWATCH_DIR=/some/dir``: the SQLite store in that directory, shared by
   every process that names it and kept across restarts of the whole service.
3. Otherwise, a *worker* (a process whose parent runs several like it: its
   command line is its parent's, as after gunicorn's fork; it was started by
   ``multiprocessing``, as ``uvicorn --workers``; or its parent is a known
   multi-worker server) gets the SQLite store in a private directory keyed by
   its parent's pid and start time, so that siblings share it and a restarted
   server starts afresh: ``$XDG_RUNTIME_DIR/memwatch/<ppid>-<start>`` or
   ``/tmp/memwatch-<uid>/<ppid>-<start>``, 0700 and checked to be ours.
4. Anything else runs as one process: the in-memory store.

Directories left by parents that are gone are removed when a new one is made,
so restarts do not pile files up under the private directory.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs

from memwatch.process_models import StoreInfo
from memwatch.store.fallback import FallbackStore
from memwatch.store.memory import MemoryStore
from memwatch.store.processes import is_alive, parent_identity
from memwatch.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Mapping

    from memwatch.store.protocol import Store

__all__ = [
    "StoreLocation",
    "choose_store",
    "describe_store",
    "locate_store",
    "open_store",
    "private_base",
]

# Servers whose parent process only manages workers; matched against the parent's
# command line when the worker's own differs (gunicorn with setproctitle, for one).
_WORKER_SERVERS = (b"gunicorn", b"uvicorn", b"hypercorn", b"granian", b"daphne")


@attrs.frozen
class StoreLocation:
    """Where a service's store lives, and why.

    Attributes:
        kind: ``"memory"`` or ``"sqlite"``.
        directory: The SQLite store's directory (``None`` for memory).
        reason: Why this one, in a few words (for logs and docs, not for the HTTP API).
    """

    kind: Literal["memory", "sqlite"]
    directory: Path | None
    reason: str


def _cmdline(pid: int | str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _is_worker() -> bool:
    """True when this process's parent runs workers like it."""
    if multiprocessing.parent_process() is not None:
        return True
    mine, parents = _cmdline("self"), _cmdline(os.getppid())
    if not parents:
        return False
    if mine == parents:
        return True
    launcher = b" ".join(parents.split(b"\0")[:3]).lower()
    return any(server in launcher for server in _WORKER_SERVERS)


def private_base(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user directory holding the keyed stores of worker services."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "memwatch"
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"memwatch-{uid}"


def _private_dir(path: Path) -> bool:
    """Make ``path`` 0700, or check that an existing one is ours, not a link, and private."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return info.st_mode & 0o077 == 0


def _sweep(base: Path, keep: str) -> None:
    """Remove keyed directories whose parent process is gone."""
    for entry in base.iterdir():
        pid, _, ticks = entry.name.partition("-")
        if entry.name == keep or not (pid.isdigit() and ticks.isdigit()):
            continue
        if not is_alive(int(pid), int(ticks)):
            shutil.rmtree(entry, ignore_errors=True)


def locate_store(environ: Mapping[str, str] | None = None) -> StoreLocation:
    """Decide where this process's store lives (the rule in this module's docstring)."""
    env = os.environ if environ is None else environ
    if env.get("MEMWATCH_STORE", "").strip().lower() == "memory":
        return StoreLocation("memory", None, "MEMWATCH_STORE=memory")
    named = env.get("MEMWATCH_DIR", "").strip()
    if named:
        return StoreLocation("sqlite", Path(named), "MEMWATCH_DIR")
    if sys.platform == "win32" or not _is_worker():
        return StoreLocation("memory", None, "one process")
    base = private_base(env)
    parent = parent_identity()
    key = f"{parent.pid}-{parent.start_ticks}"
    try:
        if not _private_dir(base):
            return StoreLocation("memory", None, "private directory not ours")
        _sweep(base, keep=key)
    except OSError:
        return StoreLocation("memory", None, "private directory unusable")
    return StoreLocation("sqlite", base / key, f"workers of pid {parent.pid}")


def open_store(location: StoreLocation) -> Store:
    """The store at ``location``: SQLite behind a memory fallback, or memory."""
    if location.kind == "memory" or location.directory is None:
        return MemoryStore()
    return FallbackStore(SQLiteStore(location.directory))


def describe_store(store: object) -> StoreInfo:
    """What a status says of ``store``: its kind, whether it is shared, and any fallback."""
    if isinstance(store, FallbackStore):
        reason = store.fallback_reason
        return _store_info("memory" if reason else "sqlite", store.shared, reason)
    if isinstance(store, SQLiteStore):
        return _store_info("sqlite", shared=True)
    return _store_info("memory", shared=bool(getattr(store, "shared", False)))


# The same description gives the same (frozen) object back, so that a status's serializer
# (memwatch.fragments.FieldwiseEncoder) reuses its JSON.
_store_info = functools.lru_cache(maxsize=4, typed=True)(StoreInfo)


def choose_store(environ: Mapping[str, str] | None = None) -> Store:
    """The store this process should use, by :func:`locate_store`'s rule."""
    return open_store(locate_store(environ))
