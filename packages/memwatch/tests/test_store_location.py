"""Which store a process gets: memory for one process, a private shared file for workers."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import stat
from typing import TYPE_CHECKING, Any

import pytest

from memwatch.store import MemoryStore
from memwatch.store.fallback import FallbackStore
from memwatch.store.location import StoreLocation, choose_store, locate_store, private_base
from memwatch.store.processes import parent_identity, process_identity
from memwatch.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _in_multiprocessing_child(function: Callable[[], Any]) -> Any:
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(function)


def _in_forked_child(function: Callable[[], Any]) -> Any:
    """Run ``function`` in a child made by a bare os.fork, as gunicorn makes its workers."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            os.write(write, pickle.dumps(function()))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)  # noqa: S301 - our own child's answer


class _Locate:
    """A picklable call of locate_store with a private base under a test directory."""

    def __init__(self, runtime: Path, **env: str) -> None:
        self.env = {"XDG_RUNTIME_DIR": str(runtime), **env}

    def __call__(self) -> tuple[StoreLocation, int, int]:
        parent = parent_identity()
        return locate_store(self.env), parent.pid, parent.start_ticks


def test_one_process_keeps_the_memory_store() -> None:
    """A process whose parent is not running workers like it (this test run) stays in memory."""
    assert locate_store({}) == StoreLocation("memory", None, "one process")
    assert isinstance(choose_store({}), MemoryStore)


def test_memwatch_store_memory_wins_over_everything(tmp_path: Path) -> None:
    """MEMWATCH_STORE=memory keeps memory even with MEMWATCH_DIR set."""
    env = {"MEMWATCH_STORE": "memory", "MEMWATCH_DIR": str(tmp_path)}
    assert locate_store(env).kind == "memory"


def test_memwatch_dir_names_the_sqlite_directory(tmp_path: Path) -> None:
    """MEMWATCH_DIR gives the SQLite store there, behind the memory fallback."""
    assert locate_store({"MEMWATCH_DIR": str(tmp_path)}) == StoreLocation(
        "sqlite", tmp_path, "MEMWATCH_DIR"
    )
    store = choose_store({"MEMWATCH_DIR": str(tmp_path)})
    assert isinstance(store, FallbackStore)
    assert isinstance(store.primary, SQLiteStore)
    assert store.primary.path.parent == tmp_path


@pytest.mark.parametrize("run", [_in_multiprocessing_child, _in_forked_child])
def test_workers_share_a_private_store_keyed_by_their_parent(
    tmp_path: Path, run: Callable[[Callable[[], Any]], Any]
) -> None:
    """A multiprocessing or bare-fork child gets SQLite in a 0700 directory named by its parent."""
    location, ppid, ticks = run(_Locate(tmp_path))
    assert ppid == os.getpid()
    assert ticks == process_identity().start_ticks
    assert location.kind == "sqlite"
    assert location.directory == tmp_path / "memwatch" / f"{ppid}-{ticks}"
    assert stat.S_IMODE((tmp_path / "memwatch").stat().st_mode) == 0o700


def test_a_private_directory_others_can_read_is_refused(tmp_path: Path) -> None:
    """A pre-made base directory open to others is not used: memory, with the reason."""
    base = tmp_path / "memwatch"
    base.mkdir(mode=0o755)
    base.chmod(0o755)
    location, _, _ = _in_forked_child(_Locate(tmp_path))
    assert location == StoreLocation("memory", None, "private directory not ours")


def test_directories_of_gone_parents_are_swept(tmp_path: Path) -> None:
    """A keyed directory whose parent process is gone is removed; the live parent's stays."""
    base = tmp_path / "memwatch"
    base.mkdir(mode=0o700)
    gone = base / f"{2**22 + 5}-12345"
    gone.mkdir()
    (gone / "memwatch.sqlite3").write_bytes(b"old")
    unrelated = base / "notes"
    unrelated.mkdir()
    location, _, _ = _in_forked_child(_Locate(tmp_path))
    assert not gone.exists()
    assert unrelated.exists()
    assert location.directory is not None
    assert location.directory.parent == base


def test_private_base_prefers_the_runtime_directory(tmp_path: Path) -> None:
    """$XDG_RUNTIME_DIR/memwatch when it exists, else a per-uid directory in the temp dir."""
    assert private_base({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path / "memwatch"
    fallback = private_base({"XDG_RUNTIME_DIR": str(tmp_path / "missing")})
    assert fallback.name == f"memwatch-{os.getuid()}"
