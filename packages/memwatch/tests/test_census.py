"""Tests of the heap census against real objects: counts, sizes, ids, budget, sites, freezing."""

from __future__ import annotations

import collections
import datetime as dt
import gc
import sys
import tracemalloc
import weakref
from typing import TYPE_CHECKING

import pytest

from memwatch import census as census_module
from memwatch import sites
from memwatch.census import Census, TypeTally, bookkeeping, take_census, type_name
from memwatch.models import GCStats

if TYPE_CHECKING:
    from collections.abc import Callable


class Plain:
    """An ordinary class with an instance dict."""

    def __init__(self, value: int = 0) -> None:
        self.value = value


class Slotted:
    """A class with __slots__ and no instance dict."""

    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a = [1]
        self.b = None


class Outer:
    """Holds a nested class so that qualified names can be checked."""

    class Inner:
        """A nested class."""


class SizedList(list[int]):
    """A list subclass: its size comes from list.__sizeof__ plus a per-type header."""


class SizedDict(dict[int, None]):
    """A dict subclass: its size comes from dict.__sizeof__ plus a per-type header."""


class SizedTuple(tuple[object, ...]):
    """A variable-size type that relies on object.__sizeof__ and tp_itemsize."""

    __slots__ = ()


class PythonSizeof:
    """A __sizeof__ written in Python: sys.getsizeof calls it for every object."""

    def __init__(self, extra: int) -> None:
        self.extra = extra

    def __sizeof__(self) -> int:
        return object.__sizeof__(self) + self.extra


class RaisingSizeof:
    """A __sizeof__ that fails: the census must count the object anyway."""

    def __sizeof__(self) -> int:
        raise RuntimeError("no size for you")


class BorrowedSizeof:
    """A C-implemented __sizeof__ that does not apply to this type, so every call fails."""

    __sizeof__ = list.__sizeof__


class BrokenNamesMeta(type):
    """A metaclass whose __qualname__ and __module__ raise, as a broken framework's might."""

    def __getattribute__(cls, name: str) -> object:
        if name in {"__qualname__", "__module__"}:
            raise RuntimeError("broken metaclass")
        return super().__getattribute__(name)


def tally(census: Census, tp: type) -> TypeTally:
    """The census line of ``tp``."""
    return census.types[type_name(tp)]


def test_type_name_builtins_are_bare() -> None:
    """Builtin types are named without a module, as memwatch names JS constructors."""
    assert [type_name(t) for t in (dict, list, tuple, type)] == ["dict", "list", "tuple", "type"]


def test_type_name_is_module_and_qualname() -> None:
    """Other types are named module.QualName, nested classes included."""
    assert type_name(Outer.Inner) == f"{__name__}.Outer.Inner"
    assert type_name(collections.OrderedDict) == "collections.OrderedDict"


def test_type_name_survives_broken_module_and_metaclass() -> None:
    """A type with no or a non-string __module__, or a raising __qualname__, still gets a name."""
    namespace: dict[str, object] = {}
    # Created where the globals have no __name__, a class gets no __module__ at all.
    exec("NoModule = type('NoModule', (), {})", namespace)  # noqa: S102
    no_module = namespace["NoModule"]
    assert isinstance(no_module, type)
    with pytest.raises(AttributeError):
        _ = no_module.__module__
    odd_module = type("OddModule", (), {"__module__": 42})
    broken = BrokenNamesMeta("Broken", (), {})
    assert type_name(no_module) == "NoModule"
    assert type_name(odd_module) == "OddModule"
    with pytest.raises(RuntimeError):
        _ = broken.__qualname__
    assert type_name(broken) == f"{__name__}.Broken"


def test_census_counts_instances_with_their_ids_and_sizes() -> None:
    """A census sees every instance of a class, with its id and its sys.getsizeof size."""
    objects = [Plain(i) for i in range(300)]
    census = take_census(owners=False)  # each instance's own size, without its __dict__
    line = tally(census, Plain)
    assert line.nodes == 300
    assert line.size_bytes == sum(map(sys.getsizeof, objects))
    assert line.ids.format == "Q"
    assert set(line.ids.tolist()) == {id(o) for o in objects}


@pytest.mark.parametrize(
    ("tp", "make"),
    [
        (Slotted, lambda _: Slotted()),
        (SizedList, lambda i: SizedList(range(i))),
        (SizedDict, lambda i: SizedDict.fromkeys(range(i))),
        (SizedTuple, lambda i: SizedTuple([[j] for j in range(i % 9)])),
        (PythonSizeof, PythonSizeof),
    ],
    ids=["slots", "list-subclass", "dict-subclass", "tuple-subclass", "python-sizeof"],
)
def test_census_sizes_agree_with_getsizeof(tp: type, make: Callable[[int], object]) -> None:
    """Every sizing path gives exactly what sys.getsizeof gives, object by object."""
    objects = [make(i) for i in range(1, 120)]
    census = take_census(owners=False)  # each object's own size, without its __dict__
    assert tally(census, tp).nodes == len(objects)
    assert tally(census, tp).size_bytes == sum(map(sys.getsizeof, objects))


def test_census_builtin_sizes_match_a_getsizeof_loop() -> None:
    """For every builtin container type, the census total equals a plain getsizeof loop."""
    keep = [[0] * (i % 40) for i in range(500)] + [{"k": [i]} for i in range(200)]
    gc.collect()
    census = take_census(owners=False)  # raw rows: no dict is sized under its owner
    expected: dict[str, tuple[int, int]] = {}
    for obj in gc.get_objects():
        if type(obj) in (list, dict, tuple, set, Plain):
            name = type_name(type(obj))
            count, size = expected.get(name, (0, 0))
            expected[name] = (count + 1, size + sys.getsizeof(obj))
    # The loop's own list holds the census' peers; compare the types it cannot disturb.
    for name in ("dict", "tuple", "set"):
        got = census.types[name]
        assert abs(got.nodes - expected[name][0]) <= 3, name
        per_object = got.size_bytes / got.nodes
        assert per_object == pytest.approx(expected[name][1] / expected[name][0], rel=0.05)
    assert len(keep) == 700


def test_broken_sizeof_is_counted_with_a_fallback() -> None:
    """Objects whose __sizeof__ raises are counted at their basic size, and the census goes on."""
    raising = [RaisingSizeof() for _ in range(7)]
    borrowed = [BorrowedSizeof() for _ in range(5)]
    census = take_census()
    assert tally(census, RaisingSizeof) == (
        7,
        7 * object.__sizeof__(raising[0]),
        tally(census, RaisingSizeof).ids,
    )
    assert tally(census, BorrowedSizeof).nodes == 5
    assert tally(census, BorrowedSizeof).size_bytes == 5 * object.__sizeof__(borrowed[0])


def test_types_sharing_a_name_are_merged() -> None:
    """Two distinct classes with the same module and qualified name make one census line."""

    def make() -> type:
        class Twin:
            pass

        return Twin

    first, second = make(), make()
    objects = [first() for _ in range(4)] + [second() for _ in range(6)]
    line = take_census().types[type_name(first)]
    assert line.nodes == 10
    assert set(line.ids.tolist()) == {id(o) for o in objects}


def test_census_keeps_no_reference_to_heap_objects() -> None:
    """Holding a census does not keep the objects it counted alive."""
    obj = Plain()
    ref = weakref.ref(obj)
    census = take_census()
    assert tally(census, Plain).nodes >= 1
    del obj
    gc.collect()
    assert ref() is None


def test_census_never_counts_censuses_or_bookkeeping_types() -> None:
    """Census instances and classes marked as bookkeeping never appear in a census."""

    @bookkeeping
    class Ledger:
        pass

    ledgers = [Ledger() for _ in range(3)]
    earlier = [take_census() for _ in range(3)]
    census = take_census()
    assert type_name(Census) not in census.types
    assert type_name(Ledger) not in census.types
    assert len(ledgers) == len(earlier) == 3


def test_census_never_counts_memwatchs_own_models() -> None:
    """The reports and samples memwatch keeps while a capture runs are not the app's growth."""
    kept = [GCStats() for _ in range(50)]
    census = take_census()
    assert type_name(GCStats) not in census.types
    assert not any(name.startswith("memwatch.") for name in census.types)
    assert len(kept) == 50


def test_census_counts_the_test_kits_app_classes() -> None:
    """The adapter test kit's apps stand in for the application: their leak is counted."""
    from memwatch.testing.apps import LeakyThing  # noqa: PLC0415 - the kit's own leaking class

    things = [LeakyThing(b"x") for _ in range(30)]
    assert take_census().types[type_name(LeakyThing)].nodes >= 30
    assert len(things) == 30


def test_census_totals_and_metadata() -> None:
    """Totals are the sums of the lines; taken_at is aware UTC; a full census is not partial."""
    before = dt.datetime.now(dt.timezone.utc)
    census = take_census()
    lines = census.types.values()
    assert census.nodes == sum(line.nodes for line in lines) > 0
    assert census.size_bytes == sum(line.size_bytes for line in lines) > 0
    assert census.taken_at.tzinfo is dt.timezone.utc
    assert before <= census.taken_at <= dt.datetime.now(dt.timezone.utc)
    assert not census.partial
    assert census.elapsed_seconds > 0
    assert census.frozen_objects == gc.get_freeze_count()
    assert "nodes=" in repr(census)


def test_census_restores_the_collector_state() -> None:
    """Automatic collection is resumed after a census, and left off if it was off."""
    assert gc.isenabled()
    take_census()
    assert gc.isenabled()
    gc.disable()
    try:
        take_census()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_tiny_time_budget_gives_a_partial_census() -> None:
    """With no time to spare the census stops early, says so, and saw fewer objects."""
    keep = [Plain(i) for i in range(20_000)]
    full = take_census()
    partial = take_census(time_budget=0.0)
    assert partial.partial
    assert partial.nodes < full.nodes
    assert len(keep) == 20_000


def test_negative_time_budget_is_refused() -> None:
    """A negative time budget is a caller error."""
    with pytest.raises(ValueError, match="time_budget"):
        take_census(time_budget=-1.0)


def test_frozen_objects_are_reported_and_not_counted() -> None:
    """Objects hidden by gc.freeze() are not counted, and the census says how many there are."""
    frozen = [Slotted() for _ in range(50)]
    gc.freeze()
    try:
        census = take_census()
        assert census.frozen_objects == gc.get_freeze_count() >= 50
        assert type_name(Slotted) not in census.types
    finally:
        gc.unfreeze()
    assert tally(take_census(), Slotted).nodes == 50
    assert len(frozen) == 50


def test_sites_name_the_allocating_line_when_tracing() -> None:
    """With tracemalloc tracing, the census records live bytes per file and line."""
    tracemalloc.start()
    try:
        line = sys._getframe().f_lineno + 1  # the next line allocates
        blobs = [bytearray(512) for _ in range(100)]
        census = take_census()
        untraced = take_census(trace_sites=False)
    finally:
        tracemalloc.stop()
    assert census.sites is not None
    size, count = census.sites[__file__, line]
    assert size >= 100 * 512
    assert count >= 100
    assert not any(file in (census_module.__file__, sites.__file__) for file, _ in census.sites)
    assert untraced.sites is None
    assert len(blobs) == 100


def test_sites_are_none_without_tracing() -> None:
    """Without tracemalloc, a census has no allocation sites."""
    assert not tracemalloc.is_tracing()
    assert take_census().sites is None


def test_budget_spent_before_sites_marks_partial_and_skips_them() -> None:
    """When the budget is gone before tracemalloc's snapshot, the census skips it and is partial."""
    tracemalloc.start()
    try:
        census = take_census(time_budget=0.0)
    finally:
        tracemalloc.stop()
    assert census.partial
    assert census.sites is None


class _Owner:
    """An application class whose instances own a dict, a bound method and a closure."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.tags = [n]

    def handler(self) -> int:
        return self.n


def test_rows_count_owned_parts_under_the_owner() -> None:
    """An instance's own dict and bound method are sized under its type; counts stay put."""
    owners = [_Owner(i) for i in range(200)]
    for owner in owners:
        vars(owner)  # materialize the dict where attributes live inline
    handlers = [owner.handler for owner in owners]
    raw = take_census(owners=False)
    folded = take_census()
    name = type_name(_Owner)
    assert folded.types[name].nodes == raw.types[name].nodes == 200
    method_bytes = sum(map(sys.getsizeof, handlers))
    assert folded.types[name].size_bytes >= raw.types[name].size_bytes + method_bytes
    assert folded.types["method"].size_bytes <= raw.types["method"].size_bytes - method_bytes
    assert folded.types["method"].nodes == raw.types["method"].nodes
    # Parts move between rows; an untracked __dict__ (atomic values only) is newly counted.
    assert folded.size_bytes >= raw.size_bytes * 0.99
    del handlers
