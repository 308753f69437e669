"""Reading CPython objects directly: type names past any metaclass, shallow sizes and ids in bulk.

A census reads every object on the heap, and the heap may hold anything: a
metaclass that overrides attribute access, a ``__qualname__`` that is a str
subclass whose ``__hash__`` raises, a ``__sizeof__`` that returns ``None``, a
patched :func:`sys.getsizeof`. So these readers run none of the heap's Python
code where CPython offers a way around it (the descriptors of ``type`` itself,
exact ``str`` copies), check what they cannot avoid running, and never raise
for an odd object: they fall back to a figure that is always available.

They are also the census's fast paths. Sizes are summed by calling a type's C
``__sizeof__`` directly, and ids are copied out of a list's item array with one
``memcpy``, once this interpreter's list layout has been verified; anywhere
else the plain, slower route gives the same figures.

This module is internal to memwatch: its names may change in any release.
"""

from __future__ import annotations

import functools
import sys
from array import array
from types import MethodDescriptorType

__all__ = ["ids_bytes", "list_items_offset", "read_module", "read_qualname", "shallow_bytes"]

_ID_BYTES = 8
_UNNAMED = "<unnamed type>"

# Read through ``type`` itself so that a metaclass cannot intercept them.
_QUALNAME = type.__dict__["__qualname__"]
_MODULE = type.__dict__["__module__"]
_MRO = type.__dict__["__mro__"]
_TYPE_DICT = type.__dict__["__dict__"]
_ITEMSIZE = type.__dict__["__itemsize__"]
_OBJECT_SIZEOF = object.__dict__["__sizeof__"]
# str's own __str__ gives an exact str copy of any str subclass without calling
# anything the subclass overrides, and refuses a non-str by its real type.
_EXACT_STR = str.__str__


def read_qualname(tp: type) -> str:
    """``tp.__qualname__`` as an exact ``str``, whatever its metaclass or str subclass does.

    Never raises: a type whose name cannot be read at all (a C type whose
    ``tp_name`` is not UTF-8) is called ``"<unnamed type>"``.
    """
    try:
        return _EXACT_STR(_QUALNAME.__get__(tp, type))
    except Exception:  # noqa: BLE001 - a census must count the type's objects all the same
        return _UNNAMED


def read_module(tp: type) -> str | None:
    """``tp.__module__`` as an exact ``str``; ``None`` when it is missing or not a str.

    Never raises: a class made where the globals have no ``__name__`` has no
    ``__module__``, and any class may set it to any object.
    """
    try:
        return _EXACT_STR(_MODULE.__get__(tp, type))
    except Exception:  # noqa: BLE001 - missing, not a str, or its class dict raised
        return None


def shallow_bytes(tp: type, objects: list[object]) -> int:
    """What ``sum(map(sys.getsizeof, objects))`` gives, several times faster; never raises.

    ``objects`` are all of exact type ``tp``, at least one. ``sys.getsizeof``
    looks ``__sizeof__`` up on every call and adds a header (the gc header, and
    on 3.12+ the pre-header) that is fixed per type. For a type whose
    ``__sizeof__`` is implemented in C, calling that implementation directly and
    adding the header once per object gives the same figure; when it is
    ``object.__sizeof__`` on a fixed-size type every object has the same size.
    Anything else (a ``__sizeof__`` written in Python, or one that fails) goes
    through ``sys.getsizeof`` object by object; an object it cannot size (or
    sizes with anything but an int >= 0) counts at its basic size,
    ``object.__sizeof__``.
    """
    try:
        impl = _find_sizeof(tp)
    except Exception:  # noqa: BLE001 - a class dict whose keys raise: measured object by object
        impl = None
    if type(impl) is MethodDescriptorType:
        total = _sizes_in_c(tp, impl, objects)
        if total is not None:
            return total
    return sum(map(_guarded_getsizeof, objects))


def _find_sizeof(tp: type) -> object:
    """``tp.__sizeof__`` as ``sys.getsizeof`` finds it (the MRO, not the metaclass)."""
    for base in _MRO.__get__(tp, type):
        impl = _TYPE_DICT.__get__(base, type).get("__sizeof__")
        if impl is not None:
            return impl
    return None  # pragma: no cover - every MRO ends with object, which has one


def _sizes_in_c(tp: type, impl: MethodDescriptorType, objects: list[object]) -> int | None:
    """The total through a C ``__sizeof__`` plus a per-type header; ``None`` if it cannot apply."""
    try:
        first = objects[0]
        full = sys.getsizeof(first)
        own = int(impl(first))
        # A patched sys.getsizeof may answer anything; the real one never less than __sizeof__.
        if type(full) is not int or full < own:
            return None
        if impl is _OBJECT_SIZEOF and _ITEMSIZE.__get__(tp, type) == 0:
            return full * len(objects)
        return int(sum(map(impl, objects))) + (full - own) * len(objects)
    except Exception:  # noqa: BLE001 - e.g. a C __sizeof__ borrowed by an unrelated class
        return None


def _guarded_getsizeof(obj: object) -> int:
    try:
        size = sys.getsizeof(obj)
    except Exception:  # noqa: BLE001 - a broken __sizeof__ must not break the census
        size = None
    if type(size) is int and size >= 0:
        return size
    return int(_OBJECT_SIZEOF(obj))


def ids_bytes(objects: list[object]) -> bytes:
    """The ``id()`` of every object in ``objects``, packed as native ``"Q"`` items."""
    offset = list_items_offset()
    if offset is None or not objects:
        return _ids_by_id(objects)
    return _ids_by_memory(objects, offset)


def _ids_by_id(objects: list[object]) -> bytes:
    return array("Q", map(id, objects)).tobytes()


def _ids_by_memory(objects: list[object], offset: int) -> bytes:
    """Copy a list's item pointers, which on CPython are the items' ``id()`` values.

    One memcpy instead of one int object per item; only used once
    :func:`list_items_offset` has verified the list layout on this interpreter.
    """
    import ctypes  # noqa: PLC0415 - only on interpreters that passed the layout check

    items = ctypes.c_void_p.from_address(id(objects) + offset).value
    return ctypes.string_at(items, _ID_BYTES * len(objects)) if items else b""


@functools.cache
def list_items_offset() -> int | None:
    """Where a list keeps its item pointer, if this interpreter is laid out as expected.

    CPython's list is ``{refcnt, type, size, items, allocated}``. Debug,
    free-threaded or other builds differ; there the check fails and ids are
    taken with ``id()`` instead. The first call imports :mod:`ctypes`.
    """
    if sys.implementation.name != "cpython":  # pragma: no cover - CPython only here
        return None
    try:
        import ctypes  # noqa: PLC0415 - optional: some embedded builds lack it
    except ImportError:  # pragma: no cover
        return None
    if ctypes.sizeof(ctypes.c_void_p) != _ID_BYTES:  # pragma: no cover - 64-bit only here
        return None
    probe: list[object] = [_QUALNAME, _MODULE, _MRO]
    # Five words lie within any list object on any build; read nothing beyond them.
    # (No ctypes array type: it would be a new class, freed later and seen by a census.)
    words = tuple(ctypes.c_size_t.from_address(id(probe) + i * _ID_BYTES).value for i in range(5))
    if not _is_list_header(words, probe):
        return None  # pragma: no cover - a non-default build
    offset = 3 * _ID_BYTES
    if _ids_by_memory(probe, offset) != _ids_by_id(probe):  # pragma: no cover
        return None
    return offset


def _is_list_header(words: tuple[int, ...], probe: list[object]) -> bool:
    """Whether ``words`` read at ``id(probe)`` look like a default-build list header."""
    return (
        len(words) == 5
        and words[1] == id(list)
        and words[2] == len(probe)
        and words[3] != 0
        and words[4] >= len(probe)
    )
