"""Memory limits: the ceiling this process is killed (or refused memory) at, and how near it is.

In Kubernetes and most PaaS a leaking worker dies by its cgroup's limit, and every
piece of in-process evidence dies with it. :class:`MemoryLimits` reads, cheaply and
without ever raising:

- **cgroup v2**: ``memory.max`` and ``memory.current`` of this process's cgroup and
  of each ancestor up to the mount (a parent's limit binds its children too), and
  the ``oom_kill`` count of ``memory.events``;
- **cgroup v1**: ``memory.limit_in_bytes`` and ``memory.usage_in_bytes`` the same
  way, and the ``oom_kill`` count of ``memory.oom_control``. v1 says "no limit" with
  ``LONG_MAX`` rounded down to a page, so any value from 2**62 on means none;
- **rlimits**: ``RLIMIT_AS`` against the address space and ``RLIMIT_DATA`` against
  the data segment (statm's ``size`` and ``data``); past them allocations fail;
- **MEMWATCH_MEMORY_LIMIT** (:func:`parse_size`), the operator's word, which wins
  over all of them. It is compared with this process's resident set, the way
  uwsgi's ``reload-on-rss`` or Celery's ``max_memory_per_child`` measure a worker.

Where several limits exist, the effective one is the one with the least headroom.
Without any, ``used_bytes`` is the process's resident set. The cgroup is found once
(:mod:`memwatch.cgroups`) and its files, like statm, are read through descriptors
kept open: a reading costs about 20 us on this machine (three cgroup v1 levels),
so the watcher can take one per sample. Every path is taken under a *root*, so
tests build the kernel's files in a temporary directory.
"""

from __future__ import annotations

import decimal
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from memwatch.cgroups import CgroupMemory
from memwatch.probes import StatmFile
from memwatch.process_models import LimitSource

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "LIMIT_ENV",
    "LimitSource",
    "MemoryLimits",
    "MemoryReading",
    "limit_from_env",
    "parse_size",
]

#: The environment variable that sets the limit explicitly.
LIMIT_ENV = "MEMWATCH_MEMORY_LIMIT"

#: statm holds seven fields; data (the sixth) is the last one read.
_STATM_FIELDS = 6

_UNITS = {
    "": 1,
    "b": 1,
    **{
        f"{prefix}{suffix}": 1000**power
        for power, prefix in enumerate("kmgt", 1)
        for suffix in ("", "b")
    },
    **{
        f"{prefix}i{suffix}": 1024**power
        for power, prefix in enumerate("kmgt", 1)
        for suffix in ("", "b")
    },
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Parse a size: bytes (``536870912``) or a number with a unit (``512MiB``, ``1.5GB``).

    Units are case-insensitive: ``K``/``KB``, ``M``/``MB``, ``G``/``GB``, ``T``/``TB``
    are powers of 1000, ``Ki``/``KiB``, ``Mi``/``MiB`` ... powers of 1024 (as
    Kubernetes writes them: ``512Mi``, ``1G``). Fractions round to whole bytes.

    Raises:
        ValueError: not a size, or not a positive one.
    """
    match = _SIZE.fullmatch(text)
    unit = match[2].lower() if match else ""
    if match is None or unit not in _UNITS:
        msg = f"{text!r} is not a size (bytes, or a number with a unit: 512MiB, 1.5GB, 2Gi)"
        raise ValueError(msg)
    size = int((decimal.Decimal(match[1]) * _UNITS[unit]).to_integral_value())
    if size <= 0:
        msg = f"{text!r} is not a positive size"
        raise ValueError(msg)
    return size


def limit_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """The limit ``MEMWATCH_MEMORY_LIMIT`` sets, in bytes; ``None`` when unset or empty.

    Raises:
        ValueError: the variable holds no positive size; the message names it.
    """
    raw = (os.environ if environ is None else environ).get(LIMIT_ENV, "").strip()
    if not raw:
        return None
    try:
        return parse_size(raw)
    except ValueError as exc:
        msg = f"{LIMIT_ENV}={raw!r}: {exc}"
        raise ValueError(msg) from None


@attrs.frozen
class MemoryReading:
    """The effective memory limit and what it counts, at one moment.

    Attributes:
        limit_bytes: The limit, or ``None`` when there is none.
        limit_source: Where it comes from: ``"cgroup2"``, ``"cgroup1"``, ``"rlimit"``,
            ``"env"``, or ``"none"``.
        used_bytes: What the limit is compared with (the cgroup's usage, the address
            space or data segment, the resident set for ``env`` and ``none``), or
            ``None`` when it cannot be read.
        oom_kills: Processes the kernel's OOM killer ended in this cgroup (at the level
            whose limit binds), or ``None`` without a memory cgroup or that counter.
    """

    limit_bytes: int | None = None
    limit_source: LimitSource = "none"
    used_bytes: int | None = None
    oom_kills: int | None = None

    @property
    def headroom_bytes(self) -> int | None:
        """Bytes left before the limit (0 once reached), or ``None`` when either is unknown."""
        if self.limit_bytes is None or self.used_bytes is None:
            return None
        return max(0, self.limit_bytes - self.used_bytes)


class MemoryLimits:
    """Reads the effective memory limit and what it counts; never raises once built.

    Attributes:
        errors: Readings that failed in part (a file vanished, held garbage ...).
    """

    def __init__(
        self, *, explicit_limit: int | None = None, root: str | os.PathLike[str] = "/"
    ) -> None:
        """Find the cgroup and open the files read later.

        Args:
            explicit_limit: A limit in bytes that wins over every other source
                (``MEMWATCH_MEMORY_LIMIT``, see :func:`limit_from_env`).
            root: Where ``/proc`` and ``/sys`` are found (``"/"`` but in tests).
        """
        self.explicit_limit = explicit_limit
        self.errors = 0
        try:
            self.cgroup = CgroupMemory.find(root)
        except (OSError, ValueError):
            self.errors += 1
            self.cgroup = None
        try:
            self._statm: StatmFile | None = StatmFile(str(Path(root, "proc", "self", "statm")))
            self._page_size = self._statm.page_size
        except (OSError, ValueError, AttributeError):
            self._statm = None
            self._page_size = 0

    def read(self) -> MemoryReading:
        """The effective limit now: the explicit one, else the one with the least headroom."""
        pages = self._pages()
        resident = None if pages is None else pages[1] * self._page_size
        oom_kills = None
        candidates: list[tuple[LimitSource, int, int | None]] = []
        if self.cgroup is not None:
            errors = self.cgroup.errors
            limit, used, oom_kills = self.cgroup.read()
            self.errors += self.cgroup.errors - errors
            if limit is not None:
                candidates.append((self.cgroup.source, limit, used))
        if self.explicit_limit is not None:
            return MemoryReading(self.explicit_limit, "env", resident, oom_kills)
        candidates.extend(self._rlimits(pages))
        if not candidates:
            return MemoryReading(None, "none", resident, oom_kills)
        source, limit, used = min(candidates, key=_headroom_rank)
        return MemoryReading(limit, source, used, oom_kills)

    def _pages(self) -> list[int] | None:
        """The fields of statm in pages (size, resident, shared, text, lib, data), or ``None``."""
        if self._statm is None:
            return None
        try:
            pages = self._statm.pages()
        except (OSError, ValueError):
            pages = []
        if len(pages) < _STATM_FIELDS:
            self.errors += 1
            return None
        return pages

    def _rlimits(self, pages: list[int] | None) -> list[tuple[LimitSource, int, int | None]]:
        """``RLIMIT_AS`` with the address space and ``RLIMIT_DATA`` with the data segment."""
        try:
            import resource  # noqa: PLC0415 - absent on Windows, where no rlimit applies
        except ImportError:
            return []
        found: list[tuple[LimitSource, int, int | None]] = []
        for which, field in ((resource.RLIMIT_AS, 0), (resource.RLIMIT_DATA, 5)):
            try:
                soft, _ = resource.getrlimit(which)
            except (OSError, ValueError):
                self.errors += 1
                continue
            if soft != resource.RLIM_INFINITY:
                used = None if pages is None else pages[field] * self._page_size
                found.append(("rlimit", soft, used))
        return found


def _headroom_rank(candidate: tuple[LimitSource, int, int | None]) -> tuple[int, int]:
    """Known headroom first, least first; then the smallest limit."""
    _, limit, used = candidate
    return (0, limit - used) if used is not None else (1, limit)
