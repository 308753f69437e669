"""Retention paths: real objects held by each kind of root, grouping, and no values in output."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import sys
import textwrap
import threading
import types
import weakref
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch.census import type_name
from memwatch.retention import (
    UNREACHABLE,
    TypeRetention,
    explain_retention,
    group_paths,
    sample_new_ids,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

SECRET = "hunter2-secret-value"

_APP_SOURCE = textwrap.dedent(
    """
    import functools

    class Payload:
        def __init__(self, n):
            self.n = n

    class Holder:
        def __init__(self):
            self.items = []

    class Registry:
        listeners = []

    class Auditor:
        def on_event(self):
            return None

    RESPONSE_CACHE = {}
    BAG = set()
    HOLDER = Holder()

    @functools.lru_cache(maxsize=None)
    def quote_for(key):
        return Payload(key)

    def remember(x, _seen=[]):
        _seen.append(Payload(x))
    """
)


@pytest.fixture
def app() -> Iterator[types.ModuleType]:
    """A real module in sys.modules, holding the leaks the tests plant."""
    module = types.ModuleType("retention_app")
    sys.modules[module.__name__] = module
    exec(compile(_APP_SOURCE, "retention_app.py", "exec"), module.__dict__)  # noqa: S102 - our own source
    yield module
    del sys.modules[module.__name__]
    module.__dict__.clear()
    gc.collect()


def _ids(objects: list[object]) -> dict[str, list[int]]:
    by_type: dict[str, list[int]] = {}
    for obj in objects:
        by_type.setdefault(type_name(type(obj)), []).append(id(obj))
    return by_type


def _only(result: tuple[TypeRetention, ...], what: str) -> TypeRetention:
    (match,) = [entry for entry in result if entry.what == what]
    return match


def test_module_global_dict_is_the_root(app: types.ModuleType) -> None:
    """Objects stored in a module-level dict are held by ``module.NAME (dict) [key]``."""
    payloads = [app.Payload(i) for i in range(10)]
    for i, payload in enumerate(payloads):
        app.RESPONSE_CACHE[f"{SECRET}{i}"] = payload
    result = _only(explain_retention(_ids(payloads)), "retention_app.Payload")
    assert result.sampled == 10
    (path,) = result.paths
    assert (path.root, path.kind, path.edges) == (
        "retention_app.RESPONSE_CACHE",
        "module global",
        ("(dict)", "[key]"),
    )
    assert path.share == 1.0


def test_instance_attribute_under_a_module_global(app: types.ModuleType) -> None:
    """A list attribute of a global instance reads as ``.items`` after the instance's type."""
    payloads = [app.Payload(i) for i in range(5)]
    app.HOLDER.items.extend(payloads)
    path = _only(explain_retention(_ids(payloads)), "retention_app.Payload").paths[0]
    assert path.root == "retention_app.HOLDER"
    assert path.edges == ("(retention_app.Holder)", ".items", "(list)", "[item]")


def test_class_attribute_and_bound_method(app: types.ModuleType) -> None:
    """Listeners kept as bound methods in a class attribute are traced through ``.__self__``."""
    auditors = [app.Auditor() for _ in range(5)]
    app.Registry.listeners.extend(auditor.on_event for auditor in auditors)
    path = _only(explain_retention(_ids(auditors)), "retention_app.Auditor").paths[0]
    assert (path.root, path.kind) == ("retention_app.Registry.listeners", "class attribute")
    assert path.edges == ("(list)", "[item]", "(method)", ".__self__")


def test_lru_cache_wrapper(app: types.ModuleType) -> None:
    """Results kept by an unbounded ``lru_cache`` are held by the wrapped function's cache."""
    results = [app.quote_for(i) for i in range(5)]
    path = _only(explain_retention(_ids(results)), "retention_app.Payload").paths[0]
    assert (path.root, path.kind) == ("lru_cache retention_app.quote_for", "lru_cache")
    assert path.edges == ("(dict)", "[key]")


def test_function_defaults(app: types.ModuleType) -> None:
    """A mutable default argument is reported under the function that owns it."""
    for i in range(5):
        app.remember(i)
    kept = list(app.remember.__defaults__[0])
    path = _only(explain_retention(_ids(kept)), "retention_app.Payload").paths[0]
    assert (path.root, path.kind) == ("retention_app.remember", "function")
    assert path.edges == ("(function)", ".__defaults__", "(tuple)", "[item]", "(list)", "[item]")


def test_closure_held_by_a_global_reaches_the_global(app: types.ModuleType) -> None:
    """A closure inside a global list is not a root itself: the chain goes on to the list."""
    payload = app.Payload(1)
    app.Registry.listeners.append(lambda: payload)
    path = _only(explain_retention(_ids([payload])), "retention_app.Payload").paths[0]
    assert path.root == "retention_app.Registry.listeners"
    assert path.edges == (
        "(list)",
        "[item]",
        "(function)",
        ".__closure__",
        "(tuple)",
        "[item]",
        "(cell)",
        ".cell_contents",
    )


def test_logging_manager() -> None:
    """Loggers made per request are held by ``logging.root.manager.loggerDict``."""
    loggers = [logging.getLogger(f"{SECRET}.{i}") for i in range(5)]
    try:
        path = _only(explain_retention(_ids(loggers)), "logging.Logger").paths[0]
        assert (path.root, path.kind) == ("logging.root.manager.loggerDict", "logging manager")
    finally:
        for logger in loggers:
            logging.root.manager.loggerDict.pop(logger.name, None)


def test_live_thread_frame_local() -> None:
    """An object held only by a local of another live thread is rooted at that thread's frame."""
    ready, release = threading.Event(), threading.Event()
    box: list[int] = []

    def worker() -> None:
        kept = {"payload": [SECRET]}
        box.append(id(kept))
        ready.set()
        release.wait(10)

    thread = threading.Thread(target=worker, name="holder-thread")
    thread.start()
    try:
        ready.wait(10)
        path = _only(explain_retention({"dict": box}), "dict").paths[0]
        assert path.kind == "thread frame"
        assert path.root.startswith("thread holder-thread: ")
        assert "worker" in path.root
        assert "kept" in path.root
    finally:
        release.set()
        thread.join()


def test_garbage_awaiting_collection(app: types.ModuleType) -> None:
    """A cycle nothing else refers to is reported as garbage awaiting collection."""
    gc.disable()
    try:
        first, second = app.Holder(), app.Holder()
        first.items.append(second)
        second.items.append(first)
        ids = _ids([first, second])
        del first, second
        result = _only(explain_retention(ids), "retention_app.Holder")
    finally:
        gc.enable()
        gc.collect()
    (path,) = result.paths
    assert (path.root, path.kind, path.edges) == (UNREACHABLE, "unreachable", ())


def test_depth_limit_is_reported(app: types.ModuleType) -> None:
    """A chain longer than ``max_depth`` is reported as a search limit, marked partial."""
    payload = app.Payload(1)
    app.HOLDER.items.append([[[[payload]]]])
    result = _only(explain_retention(_ids([payload]), max_depth=2), "retention_app.Payload")
    assert result.partial
    assert result.paths[0].kind == "search limit"


def test_no_value_appears_in_any_output(app: types.ModuleType) -> None:
    """A secret planted as dict key, set element and list element never shows in a path."""
    payloads = [app.Payload(i) for i in range(6)]
    app.RESPONSE_CACHE[SECRET] = payloads[0]
    app.RESPONSE_CACHE[payloads[1]] = SECRET
    app.BAG.add((SECRET, payloads[2]))
    app.HOLDER.items.append([SECRET, payloads[3]])
    app.Registry.listeners.append({SECRET: {SECRET: payloads[4]}})
    setattr(app.HOLDER, "plain", payloads[5])  # noqa: B010 - an attribute added at run time
    result = explain_retention(_ids(payloads), top=10)
    text = repr(result)
    assert SECRET not in text
    assert "hunter2" not in text
    texts = {path.text for entry in result for path in entry.paths}
    assert texts == {
        "retention_app.RESPONSE_CACHE (dict) [key]",
        "retention_app.RESPONSE_CACHE (dict) <key>",
        "retention_app.BAG (set) [item] (tuple) [item]",
        "retention_app.HOLDER (retention_app.Holder) .items (list) [item] (list) [item]",
        "retention_app.Registry.listeners (list) [item] (dict) [key] (dict) [key]",
        "retention_app.HOLDER (retention_app.Holder) .plain",
    }


def test_holds_no_reference_after_returning(app: types.ModuleType) -> None:
    """Once the search returns, a sampled object is freed as soon as the app drops it."""
    payload = app.Payload(1)
    app.HOLDER.items.append(payload)
    ref = weakref.ref(payload)
    ids = _ids([payload])
    del payload
    gc.disable()  # a reference cycle left behind would then keep it alive
    try:
        explain_retention(ids)
        app.HOLDER.items.clear()
        assert ref() is None
    finally:
        gc.enable()


def test_stale_or_retyped_ids_are_skipped(app: types.ModuleType) -> None:
    """An id naming no live object of the asked type yields no entry for that type."""
    other = app.Holder()
    assert explain_retention({"retention_app.Payload": [id(other)]}) == ()


_paths = st.tuples(
    st.sampled_from(["a.X", "b.Y", "c.Z"]),
    st.sampled_from(["module global", "class attribute"]),
    st.lists(st.sampled_from(["(dict)", "[key]", "[item]", ".attr"]), max_size=3).map(tuple),
)


@given(st.lists(_paths, min_size=1, max_size=60), st.integers(min_value=1, max_value=10))
def test_grouping_counts_and_shares(found: list, top: int) -> None:  # type: ignore[type-arg]
    """Groups are sorted by samples, their counts match the input and shares are count/total."""
    grouped = group_paths(found, top=top)
    assert 1 <= len(grouped) <= top
    counts = [path.samples for path in grouped]
    assert counts == sorted(counts, reverse=True)
    for path in grouped:
        assert path.samples == found.count((path.root, path.kind, path.edges))
        assert path.share == pytest.approx(path.samples / len(found))
    if len(set(found)) <= top:
        assert sum(counts) == len(found)
        assert sum(path.share for path in grouped) == pytest.approx(1.0)


@given(
    st.lists(st.integers(min_value=0, max_value=500), unique=True, max_size=200),
    st.lists(st.integers(min_value=0, max_value=500), unique=True, max_size=200),
    st.integers(min_value=0, max_value=30),
)
def test_sample_new_ids(before: list[int], after: list[int], limit: int) -> None:
    """Samples are new ids only, at most ``limit``, in ``after``'s order, and the same each time."""
    picked = sample_new_ids(before, after, limit)
    new = [ident for ident in after if ident not in set(before)]
    assert len(picked) == min(limit, len(new))
    assert set(picked) <= set(new)
    assert picked == sorted(picked, key=after.index)
    assert picked == sample_new_ids(before, after, limit)


def test_kept_exc_info_names_the_frame_local(app: types.ModuleType) -> None:
    """A list local to the failing frame, kept through ``sys.exc_info()``, is named by its local."""

    def charge() -> None:
        basket = [app.Payload(1)]
        raise ValueError(len(basket))

    try:
        charge()
    except ValueError:
        app.HOLDER.items.append(sys.exc_info())
    frame = app.HOLDER.items[0][2].tb_next.tb_frame
    basket = frame.f_locals["basket"]
    path = _only(explain_retention({"list": [id(basket)]}), "list").paths[0]
    del frame, basket
    app.HOLDER.items.clear()
    assert path.root == "retention_app.HOLDER"
    assert path.edges[-4:] == ("(traceback)", ".tb_frame", "(frame)", ".f_locals.basket")


def test_memwatchs_own_holdings_are_not_reported_as_the_leak(app: types.ModuleType) -> None:
    """Objects held only from memwatch's own module globals yield no retention path."""
    import memwatch.store  # noqa: PLC0415 - its namespace plays memwatch's own bookkeeping

    held = [app.Payload(i) for i in range(5)]
    memwatch.store.TEST_HOLDING = held  # type: ignore[attr-defined]
    try:
        found = explain_retention(_ids(held))
    finally:
        del memwatch.store.TEST_HOLDING  # type: ignore[attr-defined]
    assert [p.root for t in found for p in t.paths if "memwatch." in p.root] == []
    app.HOLDER.items.extend(held)
    path = _only(explain_retention(_ids(held)), "retention_app.Payload").paths[0]
    assert path.root == "retention_app.HOLDER"


def test_an_lru_cache_of_memwatchs_dependencies_is_not_the_leak(app: types.ModuleType) -> None:
    """Results kept by an lru_cache defined in memwatch's dependencies yield no retention path."""
    import functools  # noqa: PLC0415 - only this test builds a cache

    def make(key: int) -> object:
        return app.Payload(key)

    make.__module__ = "cattrs.dispatch"
    cached = functools.lru_cache(maxsize=None)(make)
    held = [cached(i) for i in range(5)]
    found = explain_retention(_ids(held))
    assert [p.root for t in found for p in t.paths if "cattrs." in p.root] == []
    cached.cache_clear()


def test_a_chain_through_a_memwatch_holder_is_not_the_leak(app: types.ModuleType) -> None:
    """Objects an app global reaches only through a memwatch object (a mount) yield no path."""
    from memwatch.store import WorkerRecord  # noqa: PLC0415 - plays a mounted memwatch's state

    now = dt.datetime.now(dt.timezone.utc)
    held = [app.Payload(i) for i in range(5)]
    app.HOLDER.items.append(WorkerRecord(1, now, now, exited=False, status={"kept": held}))
    found = explain_retention(_ids(held))
    assert [p.root for t in found for p in t.paths] == []
    app.HOLDER.items.append(held)
    path = _only(explain_retention(_ids(held)), "retention_app.Payload").paths[0]
    assert (path.root, path.edges[-2:]) == ("retention_app.HOLDER", ("(list)", "[item]"))


def test_the_test_kits_app_is_the_application() -> None:
    """What the adapter test kit's leaking route keeps is traced to its global, not dropped."""
    from memwatch.testing import apps  # noqa: PLC0415 - the kit's own leaking app

    apps.leak()
    try:
        kept = list(apps.LEAKED[-1])
        path = _only(explain_retention(_ids(kept)), type_name(apps.LeakyThing)).paths[0]
    finally:
        apps.LEAKED.clear()
    # The kit imports the list into more than one of its modules: any of them is the root.
    assert path.root.startswith("memwatch.testing.")
    assert path.root.endswith(".LEAKED")
