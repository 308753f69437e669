"""Value objects for what a capture explains beyond its per-type rows.

Retention paths (who holds the new objects), grown containers (the untracked
data they gained) and the layer verdict (which layer of memory grew). They
are produced by :mod:`memwatch.retention`, :mod:`memwatch.untracked` and
:mod:`memwatch.verdict` and carried by :class:`memwatch.models.HeapChange` and
:class:`memwatch.models.Profile`. Names, counts and sizes only: never a value.
"""

from __future__ import annotations

from typing import Literal

import attrs

from memwatch.encodable import encodable_strings
from memwatch.formatting import format_size

__all__ = [
    "GrownContainer",
    "Layer",
    "LayerReadings",
    "RetentionPath",
    "RootKind",
    "TypeRetention",
    "Verdict",
]

RootKind = Literal[
    "module global",
    "class attribute",
    "function",
    "lru_cache",
    "thread frame",
    "logging manager",
    "unreachable",
    "search limit",
]

#: ``""``: not judged (a running or failed profile).
Layer = Literal[
    "", "none", "python objects", "untracked python data", "native memory", "allocator retention"
]


@attrs.frozen(field_transformer=encodable_strings)
class RetentionPath:
    """One chain of references from a root down to sampled objects.

    Attributes:
        root: What holds the chain, by name: ``"app.RESPONSE_CACHE"``,
            ``"lru_cache app.quote_for"``, ``"thread worker: app.loop (app.py:12)"``.
        kind: What sort of root it is.
        edges: From the root down to the sampled object: type names in
            parentheses and the edges between them (``.attr``, ``[key]``,
            ``<key>``, ``[item]``).
        samples: How many sampled objects follow this chain.
        share: ``samples`` over all objects sampled for the type.
    """

    root: str
    kind: RootKind
    edges: tuple[str, ...]
    samples: int
    share: float

    @property
    def text(self) -> str:
        """The chain as one line, e.g. ``"app.CACHE (dict) [key]"``."""
        return " ".join((self.root, *self.edges))


@attrs.frozen(field_transformer=encodable_strings)
class TypeRetention:
    """Who holds the sampled new objects of one type.

    Attributes:
        what: The type's census name.
        sampled: How many of its new objects were found alive and searched from.
        paths: The most followed chains, most samples first.
        partial: True when a limit (depth, nodes, time) stopped the search
            before every sample reached a root.
    """

    what: str
    sampled: int
    paths: tuple[RetentionPath, ...]
    partial: bool = False


@attrs.frozen(field_transformer=encodable_strings)
class GrownContainer:
    """A container that gained items, and what untracked data came with them.

    Attributes:
        what: The container's type name.
        holder: Its retention chain as one line (``"app.CACHE"``); ``""`` if not found.
        items: Items gained.
        size_bytes: Estimated bytes of untracked values (str, bytes, numbers,
            numpy arrays ...) those items brought.
        untracked_types: The untracked value types seen, largest share first.
    """

    what: str
    holder: str
    items: int
    size_bytes: int
    untracked_types: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The row as one line, e.g. ``app.CACHE (dict): +12,000 items, +18.2 mb``."""
        name = f"{self.holder} ({self.what})" if self.holder else self.what
        return f"{name}: +{self.items:,} items, +{format_size(self.size_bytes)}"


@attrs.frozen
class LayerReadings:
    """What the probes and the census saw change over one window (bytes unless noted).

    Attributes:
        seconds: The window's length.
        process_growth: RSS or cgroup usage, end minus start.
        malloc_growth: mallinfo2 in-use bytes, end minus start; ``None`` without glibc.
        blocks_growth: ``sys.getallocatedblocks()``, end minus start (a count).
        census_growth: Shallow bytes the gc-tracked types that grew gained
            between the two censuses (the types that shrank left out).
        untracked_growth: Bytes of untracked values the grown containers gained.
        traced_growth: Live bytes the tracing window saw allocated in Python's
            domain; ``None`` when no window traced.
        foreign_traced_growth: Live bytes traced in extensions' own domains (numpy).
        tracing_overhead: tracemalloc's own memory the window added (at its
            largest), already taken out of ``process_growth``, and out of
            ``malloc_growth`` while the window still held it at the end.
        census: False when no census was taken (a leak report's preliminary
            verdict): ``census_growth`` and ``untracked_growth`` are then unknown
            (0), and Python's allocator growing cannot tell objects from untracked data.
    """

    seconds: float = 0.0
    process_growth: int = 0
    malloc_growth: int | None = None
    blocks_growth: int = 0
    census_growth: int = 0
    untracked_growth: int = 0
    traced_growth: int | None = None
    foreign_traced_growth: int = 0
    tracing_overhead: int = 0
    census: bool = True


@attrs.frozen(field_transformer=encodable_strings)
class Verdict:
    """The layer of memory that grows, in one sentence, with the figures behind it.

    Attributes:
        layer: One of ``Layer``; ``""`` when not judged.
        text: One sentence for the on-call engineer.
        figures: The readings it was judged on.
    """

    layer: Layer = ""
    text: str = ""
    figures: LayerReadings = attrs.Factory(LayerReadings)
