"""The converter's hooks for every body memwatch serves or stores, built once, up front.

cattrs builds a class's (un)structure hooks at the class's first use, and
building them makes cattrs objects of its own (attribute overrides, generated
functions and their closures). A profile's end, or the first listing of a
running profile, would then make them between the profile's two censuses, and
its diff would list ``cattrs.gen._consts.AttributeOverride`` among the
application's types. The watcher's first poll calls :func:`build_hooks`, off
the request path, before any census can start from a poll; building the
hooks of a class builds those of every class its fields hold.
"""

from __future__ import annotations

import functools
import gc

from memwatch.converter import converter
from memwatch.host_models import WorkerList
from memwatch.models import (
    GCResult,
    Message,
    Problem,
    Profile,
    ProfileIdList,
    ProfileList,
    Status,
)
from memwatch.sample_window import SampleSeries

__all__ = ["BODIES", "build_hooks"]

BODIES: tuple[type, ...] = (
    Status,
    Profile,
    ProfileList,
    ProfileIdList,
    GCResult,
    Message,
    Problem,
    SampleSeries,
    WorkerList,
)
"""The top-level models the API answers with and the store reads back."""


#: cattrs empties its hook cache whenever it registers a hook it made for a
#: collection type (``tuple[DiffDetail, ...]``), which drops the hooks built
#: before; those collection hooks are kept for good, so the second pass builds
#: what the first one dropped and clears nothing. A third costs only lookups.
_PASSES = 3


@functools.cache
def build_hooks() -> None:
    """Build the unstructure and structure hooks of :data:`BODIES`, once (about 40 ms).

    Then one full collection, at the watcher's first poll, when a service's
    heap is still that of its start.
    """
    for _ in range(_PASSES):
        for body in BODIES:
            converter.get_unstructure_hook(body)
            converter.get_structure_hook(body)
    # Building leaves cyclic garbage (cattrs' overrides, frames): collected now, once, it
    # cannot be freed during the first profile and show there as cattrs' objects.
    gc.collect()
