"""The direct readers of CPython objects: names past metaclasses, sizes, ids from list memory."""

from __future__ import annotations

import sys
from array import array
from typing import TYPE_CHECKING

from memwatch import layout
from memwatch.census import take_census, type_name

if TYPE_CHECKING:
    import pytest


class Plain:
    """An ordinary class with an instance dict."""

    def __init__(self, value: int = 0) -> None:
        self.value = value


class CollidingKey(str):
    """A class-dict key that hashes like "__sizeof__" and raises when compared."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash("__sizeof__")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing keys")


def test_names_are_exact_str_copies_read_past_the_class() -> None:
    """read_qualname and read_module copy whatever str subclass a class holds to a plain str."""

    class Tagged(str):
        __slots__ = ()

    cls = type("Named", (), {"__module__": Tagged("some.module")})
    cls.__qualname__ = Tagged("Outer.Named")
    qualname, module = layout.read_qualname(cls), layout.read_module(cls)
    assert (type(qualname), qualname) == (str, "Outer.Named")
    assert (type(module), module) == (str, "some.module")


def test_a_module_that_is_missing_or_no_str_reads_as_none() -> None:
    """read_module answers None for a class without __module__ or with a non-str one."""
    scope: dict[str, object] = {}
    exec("cls = type('NoModule', (), {})", scope)  # noqa: S102 - globals without __name__
    no_module = scope["cls"]
    assert isinstance(no_module, type)
    assert layout.read_module(no_module) is None
    assert layout.read_module(type("Odd", (), {"__module__": 42})) is None
    assert layout.read_module(dict) == "builtins"


def test_a_class_dict_whose_keys_raise_is_sized_object_by_object() -> None:
    """A class dict holding a key that collides with "__sizeof__" and raises still gets sizes."""
    cls = type("Colliding", (), {CollidingKey("x"): 1})
    objects = [cls() for _ in range(4)]
    assert layout.shallow_bytes(cls, objects) == 4 * object.__sizeof__(objects[0])
    assert take_census().types[type_name(cls)].nodes == 4


def test_shallow_bytes_of_builtins_match_getsizeof() -> None:
    """The C fast path gives what sys.getsizeof gives, for fixed and variable sizes."""
    for objects in ([[0] * i for i in range(50)], [{i: i} for i in range(50)], [Plain()] * 3):
        tp = type(objects[0])
        assert layout.shallow_bytes(tp, objects) == sum(map(sys.getsizeof, objects))


def test_ids_read_from_memory_equal_id() -> None:
    """The fast id reader gives exactly the id() of every item, in order."""
    objects = [Plain(), [], {}, (1, [2]), Plain]
    offset = layout.list_items_offset()
    assert offset is not None
    assert layout._ids_by_memory(objects, offset) == array("Q", map(id, objects)).tobytes()
    assert layout.ids_bytes(objects) == array("Q", map(id, objects)).tobytes()
    assert layout.ids_bytes([]) == b""


def test_list_header_check_rejects_other_layouts() -> None:
    """The layout check refuses anything that is not a default-build list header."""
    probe: list[object] = [1, 2, 3]
    good = (1, id(list), 3, 0xDEAD, 4)
    assert layout._is_list_header(good, probe)
    assert not layout._is_list_header((1, id(tuple), 3, 0xDEAD, 4), probe)
    assert not layout._is_list_header((1, id(list), 2, 0xDEAD, 4), probe)
    assert not layout._is_list_header((1, id(list), 3, 0, 4), probe)
    assert not layout._is_list_header((1, id(list), 3, 0xDEAD, 2), probe)
    assert not layout._is_list_header(good[:4], probe)


def test_census_without_the_fast_id_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the list layout cannot be verified, ids come from id() and the census is the same."""
    objects = [Plain(i) for i in range(50)]
    monkeypatch.setattr(layout, "list_items_offset", lambda: None)
    line = take_census().types[type_name(Plain)]
    assert line.nodes == 50
    assert set(line.ids.tolist()) == {id(o) for o in objects}
