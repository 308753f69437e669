"""A census never raises on what the heap holds: odd names, unhashable classes, broken sizes."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import sys
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memwatch.census import Census, take_census, type_name
from memwatch.converter import dumps
from memwatch.diff import diff_censuses
from memwatch.models import encodable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class RaisingHashStr(str):
    """A str whose hash raises, as a name a census keys its tallies by."""

    __slots__ = ()

    def __hash__(self) -> int:
        raise RuntimeError("no hash")


class RaisingEverythingStr(str):
    """A str whose hash, comparison, formatting and conversion all raise."""

    __slots__ = ()

    def _raise(self, *_args: object) -> Any:
        raise RuntimeError("odd str")

    __hash__ = _raise  # type: ignore[assignment]
    __eq__ = _raise  # type: ignore[assignment]
    __ne__ = _raise  # type: ignore[assignment]
    __str__ = _raise  # type: ignore[assignment]
    __repr__ = _raise  # type: ignore[assignment]
    __format__ = _raise  # type: ignore[assignment]
    __add__ = _raise  # type: ignore[assignment]


class RaisingObject:
    """Not a str at all, and every comparison or conversion raises."""

    def _raise(self, *_args: object) -> Any:
        raise RuntimeError("odd object")

    __hash__ = _raise  # type: ignore[assignment]
    __eq__ = _raise  # type: ignore[assignment]
    __str__ = _raise  # type: ignore[assignment]
    __format__ = _raise  # type: ignore[assignment]

    @property
    def __class__(self) -> type:  # type: ignore[override]
        raise RuntimeError("no class")


class UnhashableMeta(type):  # noqa: PLW1641 - unhashable on purpose
    """Defining __eq__ without __hash__ makes every class of this metaclass unhashable."""

    def __eq__(cls, other: object) -> bool:
        return cls is other


class RaisingHashMeta(type):
    """Classes of this metaclass raise when hashed."""

    def __hash__(cls) -> int:
        raise RuntimeError("no hash for classes")


class CollidingMeta(type):
    """Classes of this metaclass all hash alike and raise when compared."""

    def __hash__(cls) -> int:
        return 7

    def __eq__(cls, other: object) -> bool:
        raise RuntimeError("no comparing classes")


class OpaqueMeta(type):
    """Every attribute read on a class of this metaclass raises, even its dunders."""

    def __getattribute__(cls, name: str) -> Any:
        raise RuntimeError(f"no {name} here")


def _instances(cls: type, count: int = 5) -> list[object]:
    return [object.__new__(cls) for _ in range(count)]


def _line_of(census: Census, objects: list[object]) -> tuple[str, int, int]:
    """The (name, nodes, size) of the single census line that holds every one of ``objects``."""
    wanted = {id(obj) for obj in objects}
    lines = [
        (name, tally) for name, tally in census.types.items() if wanted & set(tally.ids.tolist())
    ]
    assert len(lines) == 1, [name for name, _ in lines]
    name, tally = lines[0]
    assert wanted <= set(tally.ids.tolist())
    return name, tally.nodes, tally.size_bytes


@contextlib.contextmanager
def _getsizeof_replaced(replacement: Callable[..., Any] | None) -> Iterator[None]:
    """Replace sys.getsizeof for the block (None: leave it alone)."""
    real = sys.getsizeof
    if replacement is not None:
        sys.getsizeof = replacement
    try:
        yield
    finally:
        sys.getsizeof = real


def test_a_qualname_whose_hash_raises_is_named_by_its_text() -> None:
    """A __qualname__ that is a str subclass with a raising __hash__ is counted under its text."""
    cls = type("Odd", (), {})
    cls.__qualname__ = RaisingHashStr("Odd.Name")
    objects = _instances(cls)
    name, nodes, _ = _line_of(take_census(), objects)
    assert type(name) is str
    assert name == f"{__name__}.Odd.Name"
    assert nodes == len(objects)
    assert type_name(cls) == name


def test_a_module_str_whose_every_method_raises_is_named_by_its_text() -> None:
    """A __module__ str subclass whose ==, hash and str() raise still names the type by its text."""
    cls = type("Odd", (), {"__module__": RaisingEverythingStr("odd.module")})
    cls.__qualname__ = RaisingEverythingStr("Odd")
    objects = _instances(cls)
    name, nodes, _ = _line_of(take_census(), objects)
    assert (type(name), name, nodes) == (str, "odd.module.Odd", len(objects))


def test_a_module_that_is_not_a_str_is_left_out_of_the_name() -> None:
    """A __module__ that is no str and raises on every use leaves the bare qualified name."""
    cls = type("NoModule", (), {"__module__": RaisingObject()})
    objects = _instances(cls)
    name, nodes, _ = _line_of(take_census(), objects)
    assert (name, nodes) == ("NoModule", len(objects))


@pytest.mark.parametrize("meta", [UnhashableMeta, RaisingHashMeta, CollidingMeta, OpaqueMeta])
def test_classes_that_cannot_be_hashed_or_compared_are_counted(meta: type) -> None:
    """Instances of an unhashable class (or one whose hash or == raises) are counted by name."""
    cls = meta("Unhashable", (), {})
    objects = _instances(cls, 7)
    census = take_census()
    name, nodes, size = _line_of(census, objects)
    assert name == f"{__name__}.Unhashable"
    assert nodes == 7
    assert size == 7 * object.__sizeof__(objects[0]) + 7 * (
        sys.getsizeof(objects[0]) - object.__sizeof__(objects[0])
    )
    assert census.nodes == sum(tally.nodes for tally in census.types.values())


@pytest.mark.parametrize(
    "replacement",
    [lambda *_: None, lambda *_: 1.5, lambda *_: -8, lambda *_: True, lambda *_: 1 / 0],
    ids=["none", "float", "negative", "bool", "raising"],
)
def test_a_patched_getsizeof_falls_back_to_the_basic_size(replacement: Callable[..., Any]) -> None:
    """With sys.getsizeof returning nonsense, objects are counted at object.__sizeof__."""
    objects = _instances(type("Sized", (), {}), 9)
    with _getsizeof_replaced(replacement):
        census = take_census()
    _, nodes, size = _line_of(census, objects)
    assert nodes == 9
    assert size == 9 * object.__sizeof__(objects[0])
    assert all(type(tally.size_bytes) is int for tally in census.types.values())
    assert type(census.size_bytes) is int


def test_a_sizeof_that_returns_nonsense_falls_back_to_the_basic_size() -> None:
    """A Python __sizeof__ returning None, a float or a negative number costs its basic size."""
    for result in (None, 2.5, -1, 2**70):
        cls = type("BadSize", (), {"__sizeof__": lambda _self, result=result: result})
        objects = _instances(cls, 3)
        _, nodes, size = _line_of(take_census(), objects)
        assert (nodes, size) == (3, 3 * object.__sizeof__(objects[0])), result


QUALNAMES = st.sampled_from(["plain", "surrogate", "hash-raises", "everything-raises"])
MODULES = st.sampled_from(["absent", "plain", "surrogate", "str-subclass", "not-a-str", "builtins"])
METACLASSES = st.sampled_from([type, UnhashableMeta, RaisingHashMeta, CollidingMeta, OpaqueMeta])
SIZEOFS = st.sampled_from(["inherited", "raising", "none", "negative", "float", "borrowed-c"])
GETSIZEOFS = st.sampled_from(["real", "none", "raising"])

_QUALNAME_OF: dict[str, Callable[[str], str]] = {
    "plain": str,
    "surrogate": lambda text: f"{text}\udcff",
    "hash-raises": RaisingHashStr,
    "everything-raises": RaisingEverythingStr,
}
# Each example's class gets a name of its own: an earlier one may not be collected yet.
_SERIAL = itertools.count()
# A census of nothing: a diff against it lists every type of the other census.
_NOTHING = Census(
    taken_at=dt.datetime.now(dt.timezone.utc),
    nodes=0,
    size_bytes=0,
    frozen_objects=0,
    partial=False,
    elapsed_seconds=0.0,
    counts={},
    sizes={},
    starts={},
    ids=b"",
    site_sizes=None,
    site_counts=None,
)
_MODULE_OF = {
    "plain": lambda: "odd.mod",
    "surrogate": lambda: "odd\udc80mod",
    "str-subclass": lambda: RaisingEverythingStr("odd.mod"),
    "not-a-str": RaisingObject,
    "builtins": lambda: RaisingHashStr("builtins"),
}
_SIZEOF_OF: dict[str, Any] = {
    "raising": lambda _self: 1 / 0,
    "none": lambda _self: None,
    "negative": lambda _self: -1,
    "float": lambda _self: 2.5,
    "borrowed-c": list.__sizeof__,
}
_GETSIZEOF_OF: dict[str, Callable[..., Any] | None] = {
    "real": None,
    "none": lambda *_: None,
    "raising": lambda *_: 1 / 0,
}


def _odd_class(meta: type, qualname: str, module: str, sizeof: str) -> tuple[type, str]:
    """A class with these odd parts, and the text of its qualified name."""
    namespace: dict[str, Any] = {}
    if sizeof in _SIZEOF_OF:
        namespace["__sizeof__"] = _SIZEOF_OF[sizeof]
    if module in _MODULE_OF:
        namespace["__module__"] = _MODULE_OF[module]()
    if module == "absent":
        # Created where the globals have no __name__, a class gets no __module__ at all.
        scope: dict[str, Any] = {"meta": meta, "namespace": namespace}
        exec("cls = meta('Odd', (), namespace)", scope)  # noqa: S102
        cls: type = scope["cls"]
    else:
        cls = meta("Odd", (), namespace)
    text = f"Odd{next(_SERIAL)}"
    name = _QUALNAME_OF[qualname](text)
    type.__dict__["__qualname__"].__set__(cls, name)
    return cls, str.__str__(name)


# Each example takes two whole censuses of the test process: fewer examples, same property.
@settings(max_examples=25)
@given(meta=METACLASSES, qualname=QUALNAMES, module=MODULES, sizeof=SIZEOFS, getsizeof=GETSIZEOFS)
def test_no_type_attribute_makes_a_census_or_its_diff_raise(
    meta: type, qualname: str, module: str, sizeof: str, getsizeof: str
) -> None:
    """Whatever a class's name, module, metaclass and sizes do, its objects are counted once."""
    cls, qualname_text = _odd_class(meta, qualname, module, sizeof)
    objects = _instances(cls, 4)
    with _getsizeof_replaced(_GETSIZEOF_OF[getsizeof]):
        census = take_census()
    name, nodes, size = _line_of(census, objects)
    assert type(name) is str
    assert name.endswith(qualname_text)
    assert nodes == 4
    assert type(size) is int
    assert size >= 4 * object.__sizeof__(objects[0])
    report = json.loads(dumps(diff_censuses(_NOTHING, census, max_details=len(census.types))))
    assert encodable(name) in {detail["what"] for detail in report["change"]["details"]}
