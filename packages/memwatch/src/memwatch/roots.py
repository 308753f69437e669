"""Where a retention chain ends, and how a chain is named without reading a value.

A root is what the application keeps alive on purpose or by accident: a module
global, a class attribute, a module-level function (its defaults, closure or
``lru_cache`` cache), a live thread's frame, or a library registry (the
logging manager's ``loggerDict``). :class:`Roots` recognises them by identity;
:func:`name_chain` turns a chain of objects into a root label and edges made of
type names, attribute names (identifiers the code chose) and the markers
``[key]`` (a dict value), ``<key>`` (a dict key) and ``[item]`` (an element):
never a key's or an element's value.
"""

from __future__ import annotations

import gc
import sys
import threading
from itertools import pairwise
from typing import TYPE_CHECKING, cast

import attrs

from memwatch.census import type_name
from memwatch.explained import RootKind

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

__all__ = ["UNREACHABLE", "DictEntries", "RootKind", "Roots", "current_frames", "frames_of"]
__all__ += ["name_chain"]


def current_frames() -> dict[int, FrameType]:
    """Every thread's top frame (``sys._current_frames()``), with the collector off meanwhile.

    ``sys._current_frames()`` allocates while it holds the interpreter's list of
    threads. A collection started there runs the gc callbacks (memwatch's own
    watcher among them), which may hand the GIL to a thread that then waits for
    that list to start or end a thread: the process hangs for good (CPython
    gh-106883, in 3.10 and in 3.11 before 3.11.9; from 3.12 a collection starts
    only between bytecodes). A collector that the application turned off stays off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()  # noqa: SLF001 - the one API for other threads' stacks
    finally:
        if enabled:
            gc.enable()


UNREACHABLE = "unreachable: garbage awaiting collection"
_ATTRIBUTE_EDGES = {
    "function": ("__closure__", "__defaults__", "__kwdefaults__", "__dict__"),
    "method": ("__self__", "__func__"),
    "cell": ("cell_contents",),
    "traceback": ("tb_frame", "tb_next"),
    "frame": ("f_back",),
    "property": ("fget", "fset", "fdel"),
    "staticmethod": ("__func__",),
    "classmethod": ("__func__",),
    "functools.partial": ("func", "args", "keywords"),
}
_EXCEPTION_EDGES = ("__traceback__", "__context__", "__cause__", "args")


def frames_of(frame: FrameType | None) -> Iterator[FrameType]:
    """``frame`` and its callers, innermost first."""
    while frame is not None:
        yield frame
        frame = frame.f_back


@attrs.frozen
class Roots:
    """Where chains end: ids of module dicts, live thread frames and their locals."""

    module_dicts: dict[int, str]
    frames: dict[int, str]
    locals_: dict[int, str]
    registries: dict[int, str]

    @classmethod
    def collect(cls) -> Roots:
        """The roots of this process now (other threads' stacks, modules, registries)."""
        module_dicts = {}
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            if isinstance(namespace, dict):
                module_dicts[id(namespace)] = name
        frames: dict[int, str] = {}
        locals_: dict[int, str] = {}
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        tops = current_frames()
        # This thread's own top frame is this one: a local naming it would be a cycle.
        del tops[threading.get_ident()]
        for ident in list(tops):
            for frame in frames_of(tops.pop(ident)):
                label = f"thread {names.get(ident, ident)}: {_code_name(frame)}"
                frames[id(frame)] = label
                for var, value in _frame_locals(frame):
                    locals_.setdefault(id(value), f"{label} local {var}")
        registries = {}
        logging = sys.modules.get("logging")
        manager = getattr(getattr(logging, "root", None), "manager", None)
        logger_dict = getattr(manager, "loggerDict", None)
        if isinstance(logger_dict, dict):
            registries[id(logger_dict)] = "logging.root.manager.loggerDict"
        return cls(module_dicts, frames, locals_, registries)

    def node_root(self, ident: int) -> tuple[str, RootKind] | None:
        """The root an object is by its id (a module dict, a registry, a thread's local)."""
        if ident in self.registries:
            return self.registries[ident], "logging manager"
        if ident in self.locals_:
            return self.locals_[ident], "thread frame"
        if ident in self.module_dicts:
            return self.module_dicts[ident], "module global"
        return None

    def parent_root(self, parent: object) -> tuple[str, RootKind] | None:
        """The root a referrer is by its type (a class, a module-level function, a frame)."""
        if id(parent) in self.frames:
            return self.frames[id(parent)], "thread frame"
        if issubclass(type(parent), type):
            return type_name(parent), "class attribute"  # type: ignore[arg-type]
        tp = type(parent)
        if tp.__name__ == "_lru_cache_wrapper":
            return f"lru_cache {_qualified(parent)}", "lru_cache"
        if tp.__name__ == "function" and "<locals>" not in _qualified(parent):
            return _qualified(parent), "function"
        return None


def _qualified(func: object) -> str:
    module = getattr(func, "__module__", None)
    if module is None and str(
        getattr(getattr(func, "__code__", None), "co_filename", "")
    ).startswith("<cattrs generated"):
        module = "cattrs"  # cattrs compiles its (un)structure functions with no module of their own
    qualname = getattr(func, "__qualname__", None)
    qualname = qualname if isinstance(qualname, str) else type_name(type(func))
    return f"{module}.{qualname}" if isinstance(module, str) else qualname


def _code_name(frame: FrameType) -> str:
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name)
    return f"{name} ({code.co_filename}:{frame.f_lineno})"


def _frame_locals(frame: FrameType) -> list[tuple[str, object]]:
    try:
        return [(str(var), value) for var, value in frame.f_locals.items() if isinstance(var, str)]
    except Exception:  # noqa: BLE001 - a frame being torn down may refuse; it holds nothing then
        return []


def name_chain(
    objs: list[object], label: str, kind: RootKind, entries: DictEntries | None = None
) -> tuple[str, RootKind, tuple[str, ...]]:
    """The root label and edges of ``objs``, a chain from a root down to a sample.

    ``entries`` (with every chain :meth:`DictEntries.want`-ed first) finds where
    the children sit in large dicts in one pass per dict.
    """
    keys = entries or DictEntries()
    edges: list[str] = []
    start = 0
    if kind == "module global" and len(objs) > 1:
        label = (
            f"{label}{keys.label(cast('dict[object, object]', objs[0]), objs[1], attribute=True)}"
        )
        start = 1
    elif kind == "class attribute" and len(objs) > 2:
        label = (
            f"{label}{keys.label(cast('dict[object, object]', objs[1]), objs[2], attribute=True)}"
        )
        start = 2
    elif kind == "lru_cache" and len(objs) > 1:
        start = 1
    for position in range(start, len(objs) - 1):
        parent, child = objs[position], objs[position + 1]
        owner = objs[position - 1] if position else None
        namespace = issubclass(type(parent), dict) and _is_namespace(
            owner, cast("dict[object, object]", parent)
        )
        if not namespace:
            edges.append(f"({type_name(type(parent))})")
        edges.append(_edge(parent, child, namespace=namespace, keys=keys))
    return label, kind, tuple(edge for edge in edges if edge)


def _edge(parent: object, child: object, *, namespace: bool, keys: DictEntries) -> str:
    tp = type(parent)
    if issubclass(tp, dict):
        return keys.label(cast("dict[object, object]", parent), child, attribute=namespace)
    if issubclass(tp, (list, tuple, set, frozenset)) or tp.__name__ == "deque":
        return "[item]"
    names = _ATTRIBUTE_EDGES.get(type_name(tp), ())
    if issubclass(tp, BaseException):
        names = _EXCEPTION_EDGES
    for name in names:
        if getattr(parent, name, None) is child:
            return f".{name}"
    if tp.__name__ == "frame":
        return _frame_local(parent, child)
    return _attribute(parent, child)


def _frame_local(frame: object, child: object) -> str:
    """``.f_locals.name`` when ``child`` is one of a (finished) frame's local variables."""
    for var, value in _frame_locals(frame):  # type: ignore[arg-type]
        if value is child and var.isidentifier():
            return f".f_locals.{var}"
    return "(referent)"


def _is_namespace(owner: object, namespace: dict[object, object]) -> bool:
    """Whether ``namespace`` is the ``__dict__`` of ``owner`` (its keys are attribute names)."""
    if owner is None or issubclass(type(owner), type):
        return False
    try:
        return object.__getattribute__(owner, "__dict__") is namespace
    except Exception:  # noqa: BLE001 - an owner without a __dict__ is simply not its namespace
        return False


class DictEntries:
    """Where children sit in dicts: one pass per dict for all the children asked about.

    A chain through a cache of a million entries is named for each of its
    samples; looking for each child separately would walk the dict each time.
    """

    def __init__(self) -> None:
        """No dict asked about yet."""
        self._dicts: dict[int, dict[object, object]] = {}
        self._wanted: dict[int, set[int]] = {}
        self._found: dict[tuple[int, int], str] | None = None

    def want(self, objs: list[object]) -> None:
        """Note every dict-to-child step of the chain ``objs``."""
        for parent, child in pairwise(objs):
            if issubclass(type(parent), dict):
                self._dicts[id(parent)] = cast("dict[object, object]", parent)
                self._wanted.setdefault(id(parent), set()).add(id(child))

    def label(self, namespace: dict[object, object], child: object, *, attribute: bool) -> str:
        """``.name`` (an attribute name), ``[key]`` (a value) or ``<key>`` (a key)."""
        if self._found is None:
            self._found = {}
            for ident, wanted in self._wanted.items():
                self._found.update(_entries(self._dicts[ident], wanted))
            self._dicts.clear()
        found = self._found.get((id(namespace), id(child)))
        if found is None:
            found = _entries(namespace, {id(child)}).get((id(namespace), id(child)), "[key]")
        if found.startswith(".") and not attribute:
            return "[key]"
        return found


def _entries(namespace: dict[object, object], wanted: set[int]) -> dict[tuple[int, int], str]:
    """For the wanted children: ``.key`` when the key is an identifier, ``[key]``, or ``<key>``."""
    found: dict[tuple[int, int], str] = {}
    try:
        for key, value in namespace.items():
            if id(value) in wanted:
                name = f".{key}" if isinstance(key, str) and key.isidentifier() else "[key]"
                found.setdefault((id(namespace), id(value)), name)
            if id(key) in wanted:
                found.setdefault((id(namespace), id(key)), "<key>")
    except RuntimeError:  # changed size during iteration: another thread writes to it
        pass
    return found


def _attribute(parent: object, child: object) -> str:
    """``.name`` when ``child`` is one of ``parent``'s own attributes (dict or slots)."""
    try:
        namespace = object.__getattribute__(parent, "__dict__")
    except Exception:  # noqa: BLE001 - no instance dict: try the slots below
        namespace = None
    if isinstance(namespace, dict):
        if namespace is child:
            return ""
        for key, value in list(namespace.items()):
            if value is child and isinstance(key, str) and key.isidentifier():
                return f".{key}"
    return _slot(parent, child)


def _slot(parent: object, child: object) -> str:
    for klass in type(parent).__mro__:
        for key, descriptor in list(vars(klass).items()):
            if type(descriptor).__name__ != "member_descriptor":
                continue
            try:
                if descriptor.__get__(parent, klass) is child:
                    return f".{key}"
            except Exception:  # noqa: BLE001, S112 - an unset slot holds nothing
                continue
    return "(referent)"
