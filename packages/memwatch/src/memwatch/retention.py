"""Retention paths: why sampled new objects are still alive, grouped by chain.

The top growing types of a diff are sampled (ids present after, absent
before); ``memwatch.referrers`` finds each sample's chain of referrers to a
root (``memwatch.roots``), and samples that follow the same chain are
grouped: the top chains, with the share of samples that follow each. Names
only, never values. Costs and bounds are those of ``memwatch.referrers``.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING

from memwatch.explained import RetentionPath, RootKind, TypeRetention
from memwatch.own import is_own_name
from memwatch.referrers import Chain, trace_objects
from memwatch.roots import UNREACHABLE

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["UNREACHABLE", "RetentionPath", "RootKind", "TypeRetention"]
__all__ += ["explain_retention", "group_paths", "is_own", "sample_new_ids"]


def is_own(chain: Chain) -> bool:
    """Whether ``chain`` is rooted in memwatch or its dependencies, or passes through them.

    What memwatch holds for its own work (its store's summaries, cattrs'
    generated functions) is not the leak, and neither is a chain from the
    application's own global that passes through a holder of theirs, named in
    the chain as ``(module.Type)`` (``app.extensions`` -> the mounted memwatch
    -> its store's last status): that is memwatch reached from where it was
    mounted (``memwatch.own``).
    """
    root, _, edges = chain
    return is_own_name(root.removeprefix("lru_cache ")) or any(
        edge.startswith("(") and is_own_name(edge[1:]) for edge in edges
    )


def group_paths(
    found: Iterable[tuple[str, RootKind, tuple[str, ...]]], *, top: int = 3
) -> tuple[RetentionPath, ...]:
    """Group per-sample chains into the ``top`` most followed ones.

    Args:
        found: One ``(root, kind, edges)`` per sampled object.
        top: At most this many chains are returned.

    Returns:
        Chains with their sample count and share, most samples first (ties by text).
    """
    counts = Counter(found)
    total = sum(counts.values())
    ranked = sorted(
        counts.items(), key=lambda item: (-item[1], " ".join((item[0][0], *item[0][2])))
    )
    return tuple(
        RetentionPath(root=root, kind=kind, edges=edges, samples=count, share=count / total)
        for (root, kind, edges), count in ranked[:top]
    )


def sample_new_ids(before: Iterable[int], after: Sequence[int], limit: int) -> list[int]:
    """Up to ``limit`` ids in ``after`` but not in ``before``, picked at random.

    The pick is seeded by the number of new ids, so the same censuses give the
    same samples; an even stride would alias with objects created in a
    repeating pattern (two leaks interleaved in one request).

    Args:
        before: The type's ids in the baseline census.
        after: The type's ids in the later census.
        limit: How many to pick.

    Returns:
        The picked ids, in ``after``'s order.
    """
    if limit <= 0:
        return []
    old = set(before)
    new = [ident for ident in after if ident not in old]
    if len(new) <= limit:
        return new
    picked = sorted(random.Random(len(new)).sample(range(len(new)), limit))  # noqa: S311 - not security
    return [new[position] for position in picked]


def explain_retention(
    ids_by_type: Mapping[str, Sequence[int]],
    *,
    max_depth: int = 24,
    max_nodes: int = 20_000,
    time_budget: float | None = 5.0,
    top: int = 3,
) -> tuple[TypeRetention, ...]:
    """Find what holds the objects behind ``ids_by_type``, type by type.

    Ids are resolved to live objects by one pass over :func:`gc.get_objects`;
    an id that names no live object of that type any more (freed, or reused by
    another type) is skipped. Run it off the request path, as a census.

    Args:
        ids_by_type: Per census type name, the ids of the sampled new objects.
        max_depth: Levels of referrers searched at most.
        max_nodes: Distinct objects the search may visit.
        time_budget: Seconds the search may take (checked between chunks); ``None``: no limit.
        top: Chains reported per type.

    Returns:
        One :class:`TypeRetention` per type that had a live sample, in input order.
    """
    per_type: dict[str, list[Chain]] = {name: [] for name in ids_by_type}
    for name, _, chain in trace_objects(
        ids_by_type, max_depth=max_depth, max_nodes=max_nodes, time_budget=time_budget
    ):
        if not is_own(chain):
            per_type[name].append(chain)
    return tuple(
        TypeRetention(
            what=name,
            sampled=len(found),
            paths=group_paths(found, top=top),
            partial=any(kind == "search limit" for _, kind, _ in found),
        )
        for name, found in per_type.items()
        if found
    )
