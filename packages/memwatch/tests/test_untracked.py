"""Untracked data: grown containers, the str/bytes/numbers they gained, and their holders."""

from __future__ import annotations

import datetime as dt
import sys
import types
from typing import TYPE_CHECKING

import pytest

from memwatch.census import take_census
from memwatch.store import WorkerRecord
from memwatch.untracked import count_containers, grown_containers

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def app() -> Iterator[types.ModuleType]:
    """A real module with an empty cache, a list and a stable table."""
    module = types.ModuleType("untracked_app")
    module.RENDERED = {}
    module.ARRAYS = []
    module.STABLE = {f"k{i}": i for i in range(1000)}
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_a_dict_cache_of_strings_is_named_with_its_bytes(app: types.ModuleType) -> None:
    """A module-level dict gaining 3,000 rendered pages is the top container, with their bytes."""
    before = count_containers()
    for i in range(3000):
        app.RENDERED[f"/page/{i}"] = "x" * 1000 + str(i)
    (top, *_) = grown_containers(before)
    assert top.what == "dict"
    assert top.holder == "untracked_app.RENDERED"
    assert top.items == 3000
    expected = sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in app.RENDERED.items())
    assert top.size_bytes == pytest.approx(expected, rel=0.05)
    assert top.untracked_types == ("str",)
    assert top.text.startswith("untracked_app.RENDERED (dict): +3,000 items, +")


def test_a_container_that_did_not_grow_is_not_listed(app: types.ModuleType) -> None:
    """A large container whose item count stayed the same is never reported."""
    before = count_containers()
    app.STABLE["k1"] = 2
    assert all(found.holder != "untracked_app.STABLE" for found in grown_containers(before))


def test_containers_rank_by_items_gained(app: types.ModuleType) -> None:
    """Of two grown containers, the one that gained more items comes first."""
    before = count_containers()
    app.ARRAYS.extend(b"y" * 100 for _ in range(400))
    for i in range(900):
        app.RENDERED[i] = float(i)
    found = [
        entry for entry in grown_containers(before) if entry.holder.startswith("untracked_app")
    ]
    assert [entry.holder for entry in found[:2]] == [
        "untracked_app.RENDERED",
        "untracked_app.ARRAYS",
    ]
    assert found[0].untracked_types == ("float", "int") or found[0].untracked_types == (
        "int",
        "float",
    )
    assert found[1].untracked_types == ("bytes",)


def test_numpy_arrays_in_a_list() -> None:
    """numpy arrays are untracked: a list of them is named with their buffers' bytes."""
    numpy = pytest.importorskip("numpy")
    module = types.ModuleType("untracked_np")
    module.KEPT = []
    sys.modules[module.__name__] = module
    try:
        before = count_containers()
        module.KEPT.extend(numpy.zeros(1000) for _ in range(300))
        (top, *_) = grown_containers(before)
        assert top.holder == "untracked_np.KEPT"
        assert top.untracked_types == ("numpy.ndarray",)
        assert top.size_bytes >= 300 * 8000
    finally:
        del sys.modules[module.__name__]


def test_memwatchs_own_census_tables_are_not_listed(app: types.ModuleType) -> None:
    """A census taken between the two counts is memwatch's bookkeeping, never a grown container."""
    before = count_containers()
    census = take_census()
    app.RENDERED.update((i, str(i)) for i in range(300))
    holders = [found.holder for found in grown_containers(before)]
    assert holders[0] == "untracked_app.RENDERED"
    assert not any("Census" in holder for holder in holders)
    del census


def test_a_container_held_through_memwatch_is_not_listed(app: types.ModuleType) -> None:
    """A dict an app global reaches only through a memwatch object is memwatch's, not the app's."""
    now = dt.datetime.now(dt.timezone.utc)
    status: dict[str, str] = {}
    app.ARRAYS.append(WorkerRecord(1, now, now, exited=False, status=status))
    before = count_containers()
    status.update((f"k{i}", "v" * 50) for i in range(2000))
    app.RENDERED.update((i, str(i)) for i in range(300))
    holders = [found.holder for found in grown_containers(before)]
    assert holders[0] == "untracked_app.RENDERED"
    assert not any("WorkerRecord" in holder for holder in holders), holders
