"""Untracked data: grown containers, the str/bytes/numbers they gained, and their holders."""

from __future__ import annotations

import datetime as dt
import sys
import types
from typing import TYPE_CHECKING

import pytest

from memwatch import untracked
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


class _Session:
    """An application object whose bulk is an untracked payload.

    Slotted: an attribute dict of untracked values is itself untracked on some
    Pythons (and counted then), which would make the expected sizes differ.
    """

    __slots__ = ("config", "payload", "user")

    def __init__(self, user: int) -> None:
        self.user = f"user-{user}"
        self.payload = bytearray(1024)


def test_the_payloads_of_tracked_items_are_counted(app: types.ModuleType) -> None:
    """A list gaining objects that each hold a 1 KiB bytearray is named with the bytearrays."""
    before = count_containers()
    app.ARRAYS.extend(_Session(i) for i in range(2000))
    (top, *_) = (entry for entry in grown_containers(before) if entry.holder.endswith("ARRAYS"))
    assert top.items == 2000
    payloads = sum(sys.getsizeof(s.payload) + sys.getsizeof(s.user) for s in app.ARRAYS)
    assert top.size_bytes == pytest.approx(payloads, rel=0.05)
    assert top.untracked_types[0] == "bytearray"


def test_objects_two_containers_hold_count_for_the_one_that_grew_most(
    app: types.ModuleType,
) -> None:
    """A list and a registry of the same new sessions: their payloads count once, for the list.

    Each container sizes a sample of its newest items; two that gain the same
    objects in the same order (a registry and its index, a logger manager and
    its placeholders) sample the same ones, so the second finds them counted.
    """
    before = count_containers()
    sessions = [_Session(i) for i in range(2000)]
    app.ARRAYS.extend([*(_Session(i) for i in range(500)), *sessions])  # it gained most
    app.RENDERED.update((f"s{i}", session) for i, session in enumerate(sessions))
    found = {entry.holder: entry for entry in grown_containers(before)}
    listed, registry = found["untracked_app.ARRAYS"], found["untracked_app.RENDERED"]
    each = sys.getsizeof(sessions[0].payload) + sys.getsizeof(sessions[0].user)
    assert listed.size_bytes == pytest.approx(2500 * each, rel=0.05)
    # The registry's own keys only: the newest sessions it holds were the list's.
    keys = sum(sys.getsizeof(key) for key in app.RENDERED)
    assert registry.size_bytes == pytest.approx(keys, rel=0.05)


def test_payloads_two_levels_below_the_items_are_counted(app: types.ModuleType) -> None:
    """A list gaining tuples of sessions (one tuple per request) is named with their bytearrays."""
    before = count_containers()
    app.ARRAYS.extend(tuple(_Session(100 * i + j) for j in range(10)) for i in range(300))
    (top, *_) = (entry for entry in grown_containers(before) if entry.holder.endswith("ARRAYS"))
    held = sum(sys.getsizeof(s.payload) + sys.getsizeof(s.user) for row in app.ARRAYS for s in row)
    assert top.untracked_types[0] == "bytearray"
    assert top.size_bytes == pytest.approx(held, rel=0.05)


def test_a_blob_every_item_points_at_is_nobodys_growth(app: types.ModuleType) -> None:
    """2,000 sessions sharing one 1 MB blob: it is not scaled up to 2,000 copies of a sample's."""
    blob = bytes(1 << 20)
    before = count_containers()
    app.ARRAYS.extend(_Session(i) for i in range(2000))  # no second list of them: one holder
    for session in app.ARRAYS:
        session.config = blob
    (top, *_) = (entry for entry in grown_containers(before) if entry.holder.endswith("ARRAYS"))
    own = sum(sys.getsizeof(s.payload) + sys.getsizeof(s.user) for s in app.ARRAYS)
    assert top.size_bytes == pytest.approx(own, rel=0.05)


def test_a_value_the_items_share_counts_once(app: types.ModuleType) -> None:
    """2,000 dicts sharing one 10 kB string bring their own small ints, not 2,000 copies of it."""
    shared = "s" * 10_000
    before = count_containers()
    app.ARRAYS.extend({"body": shared, "n": 10_000 + i} for i in range(2000))
    (top, *_) = (entry for entry in grown_containers(before) if entry.holder.endswith("ARRAYS"))
    assert top.items == 2000
    assert top.size_bytes < 2000 * sys.getsizeof(shared) / 20


def test_a_budget_bounds_the_referents_listed_and_the_estimate_scales(
    app: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items with many referents are looked at until the budget, and the sample is scaled."""
    monkeypatch.setattr(untracked, "REFERENT_BUDGET", 2_000)  # 20 of the items below
    before = count_containers()
    app.ARRAYS.extend([10_000_000 + 1000 * i + j for j in range(100)] for i in range(600))
    (top, *_) = (entry for entry in grown_containers(before) if entry.holder.endswith("ARRAYS"))
    held = sum(sys.getsizeof(number) for row in app.ARRAYS for number in row)
    assert top.items == 600
    assert top.size_bytes == pytest.approx(held, rel=0.05)
    assert top.untracked_types == ("int",)


def test_a_container_that_did_not_grow_is_not_listed(app: types.ModuleType) -> None:
    """A large container whose item count stayed the same is never reported."""
    before = count_containers()
    app.STABLE["k1"] = 2
    assert all(found.holder != "untracked_app.STABLE" for found in grown_containers(before))


def test_containers_rank_by_items_gained(app: types.ModuleType) -> None:
    """Of two grown containers, the one that gained more items comes first."""
    before = count_containers()
    app.ARRAYS.extend(b"y" * 100 + str(i).encode() for i in range(400))  # 400 distinct bytes
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
