"""Cgroup memory files: the limit, usage and OOM kills of this process's cgroup and its parents.

Found once from ``/proc/self/cgroup`` (which cgroup) and ``/proc/self/mountinfo``
(where its hierarchy is mounted), then read through descriptors kept open: one
``pread`` per file, 3-8 us each on this machine's cgroup v1. cgroup v2 names the
files ``memory.max``, ``memory.current`` and ``memory.events``; v1
``memory.limit_in_bytes``, ``memory.usage_in_bytes`` and ``memory.oom_control``.
A parent's limit binds its children, so every level up to the mount is read and
the one with the least headroom binds. Paths are taken under a *root*, so tests
build the kernel's files in a temporary directory.
"""

from __future__ import annotations

import os
import re
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["CgroupMemory", "CgroupVersion"]

CgroupVersion = Literal["cgroup2", "cgroup1"]

#: cgroup v1's "no limit" is LONG_MAX rounded down to a page; no real limit is this large.
_V1_UNLIMITED = 1 << 62


class _KeptFile:
    """A file read again and again through one descriptor (cgroup files are not per process)."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)

    def read(self) -> str:
        return os.pread(self._fd, 4096, 0).decode("ascii")


@attrs.frozen
class _Files:
    """The names of the memory controller's files in one cgroup version."""

    limit: str
    usage: str
    events: str


_FILES = {
    "cgroup2": _Files("memory.max", "memory.current", "memory.events"),
    "cgroup1": _Files("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.oom_control"),
}


class _Level:
    """One cgroup directory's limit, usage and OOM counter files."""

    def __init__(self, directory: Path, files: _Files) -> None:
        self.limit = _KeptFile(directory / files.limit)
        self.usage = _KeptFile(directory / files.usage)
        events = directory / files.events
        self.events = _KeptFile(events) if events.exists() else None

    def oom_kills(self) -> int | None:
        if self.events is None:
            return None
        for line in self.events.read().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return None


def _limit_value(text: str) -> int | None:
    text = text.strip()
    if text == "max":
        return None
    value = int(text)
    return None if value >= _V1_UNLIMITED else value


class CgroupMemory:
    """The memory controller's files of this process's cgroup and its ancestors.

    Attributes:
        source: ``"cgroup2"`` or ``"cgroup1"``.
        directory: The process's own cgroup directory.
        errors: Levels skipped because their files could not be read or parsed.
    """

    def __init__(self, source: CgroupVersion, directory: Path, top: Path | None = None) -> None:
        """Open the files of ``directory`` and of each ancestor up to ``top`` that has them.

        A level without them is skipped: in cgroup v2 a parent may limit memory
        without enabling the controller for its children.

        Args:
            source: The cgroup version.
            directory: The process's own cgroup directory.
            top: The hierarchy's mount point (default: ``directory``'s root).

        Raises:
            OSError: no level has readable memory files.
        """
        self.source = source
        self.directory = directory
        self.errors = 0
        files = _FILES[source]
        chain = [directory, *directory.parents]
        if top is not None and top in chain:
            chain = chain[: chain.index(top) + 1]
        self._levels = [_Level(level, files) for level in chain if (level / files.limit).is_file()]
        if not self._levels:
            msg = f"no {files.limit} in {directory} or above"
            raise OSError(msg)

    @classmethod
    def find(cls, root: str | os.PathLike[str] = "/") -> CgroupMemory | None:
        """The memory cgroup of this process (v2 first, then v1), or ``None``.

        Args:
            root: Where ``/proc`` and ``/sys`` are found (``"/"`` but in tests).

        Raises:
            OSError: ``/proc/self/cgroup`` or ``/proc/self/mountinfo`` is unreadable.
        """
        base = Path(root)
        proc = base / "proc" / "self"
        memberships = _memberships((proc / "cgroup").read_text(encoding="ascii"))
        mounts = list(_mounts((proc / "mountinfo").read_text(encoding="utf-8")))
        for source in ("cgroup2", "cgroup1"):
            found = _directory(base, source, memberships.get(source), mounts)
            if found is None:
                continue
            try:
                return cls(source, *found)
            except OSError:
                continue
        return None

    def read(self) -> tuple[int | None, int | None, int | None]:
        """The binding limit, the usage it counts, and that level's OOM kills.

        The binding level is the one with the least headroom; without any limit,
        the usage and OOM kills of the process's own cgroup.
        """
        best: tuple[int, int, _Level] | None = None
        for level in self._levels:
            try:
                limit = _limit_value(level.limit.read())
                if limit is None:
                    continue
                used = int(level.usage.read())
            except (OSError, ValueError):
                self.errors += 1
                continue
            if best is None or limit - used < best[0] - best[1]:
                best = (limit, used, level)
        try:
            if best is not None:
                return best[0], best[1], best[2].oom_kills()
            leaf = self._levels[0]
            return None, int(leaf.usage.read()), leaf.oom_kills()
        except (OSError, ValueError):
            self.errors += 1
            return (best[0], best[1], None) if best is not None else (None, None, None)


def _memberships(text: str) -> dict[str, str]:
    """The cgroup paths of ``/proc/self/cgroup``: the v2 one and the v1 memory one."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            found["cgroup2"] = path
        elif "memory" in controllers.split(","):
            found["cgroup1"] = path
    return found


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (a space in a mount point is written as four characters)."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), field)


def _mounts(text: str) -> Iterator[tuple[str, str, str, list[str]]]:
    """``(root, mount point, type, super options)`` of each cgroup mount in mountinfo."""
    for line in text.splitlines():
        before, separator, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if separator and len(fields) >= 5 and len(tail) >= 3 and tail[0] in {"cgroup", "cgroup2"}:
            yield _unescape(fields[3]), _unescape(fields[4]), tail[0], tail[2].split(",")


def _directory(
    base: Path, source: str, path: str | None, mounts: list[tuple[str, str, str, list[str]]]
) -> tuple[Path, Path] | None:
    """The directory of cgroup ``path`` and its hierarchy's mount point, or ``None``.

    The path in ``/proc/self/cgroup`` is relative to the hierarchy's root and the
    mount shows the hierarchy from its own root down. A container that sees its
    host's path, or a mount of only its own cgroup, falls back to the mount point.
    """
    if path is None:
        return None
    for root, point, kind, options in mounts:
        if kind != ("cgroup2" if source == "cgroup2" else "cgroup") or (
            source == "cgroup1" and "memory" not in options
        ):
            continue
        mount = base / point.lstrip("/")
        if root == "/":
            relative = path
        elif path == root or path.startswith(root + "/"):
            relative = path[len(root) :]
        else:
            return mount, mount
        directory = mount / relative.lstrip("/")
        return (directory if directory.is_dir() else mount), mount
    return None
