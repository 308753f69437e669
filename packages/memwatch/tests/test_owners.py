"""Owner-aware rows: an instance's own dict, bound methods and closures go under its type."""

from __future__ import annotations

import gc
from collections import defaultdict

from memwatch.owners import owned_parts

SHARED: dict[str, int] = {"shared": 1}


class Auditor:
    """An application class with attributes, a bound method and closures over it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.label = f"auditor {n}"
        self.cache: dict[str, int] = {}
        self.config = SHARED

    def on_event(self) -> int:
        return self.n


def _groups() -> dict[type, list[object]]:
    """Every tracked object grouped by exact type, as a census groups them."""
    groups: defaultdict[type, list[object]] = defaultdict(list)
    for obj in gc.get_objects():
        groups[type(obj)].append(obj)
    return groups


def test_dicts_methods_and_closures_go_to_their_owner() -> None:
    """Each auditor's __dict__, its bound method and a closure over it are Auditor's parts."""
    auditors = [Auditor(i) for i in range(50)]
    for auditor in auditors:
        vars(auditor)  # materialize the __dict__ on interpreters with inline values
    listeners = [auditor.on_event for auditor in auditors]
    closures = [_closure_over(auditor) for auditor in auditors]
    groups = _groups()
    owned = owned_parts(groups.values())
    del groups
    parts = owned.parts[id(Auditor)]
    own = {id(vars(auditor)) for auditor in auditors if _dict_is_a_referent(auditor)}
    assert own <= {id(part) for part in parts}
    assert {id(listener) for listener in listeners} <= owned.claimed
    assert {id(closure) for closure in closures} <= owned.claimed
    assert id(SHARED) not in owned.claimed


def _closure_over(auditor: Auditor):
    return lambda: auditor.n


def _dict_is_a_referent(instance: object) -> bool:
    """Whether gc sees the instance's __dict__ (3.13 visits inline values instead)."""
    return any(ref is vars(instance) for ref in gc.get_referents(instance))


def test_a_shared_dict_is_not_claimed() -> None:
    """A dict two instances refer to belongs to neither."""
    first, second = Auditor(1), Auditor(2)
    second.cache = first.cache
    first.__dict__["many"] = [first]  # a dict that gc sees on every version
    groups = _groups()
    owned = owned_parts(groups.values())
    del groups
    assert id(first.cache) not in owned.claimed
    assert id(vars(first)) in owned.claimed or not _dict_is_a_referent(first)


class _UnhashableMeta(type):
    """A metaclass that makes its classes unhashable, as some ORMs' do."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(cls, other: object) -> bool:
        return cls is other


class Unhashable(metaclass=_UnhashableMeta):
    """An application class that cannot be a dict key or a set member."""

    def on_event(self) -> int:
        return id(self)


def test_parts_of_an_unhashable_class_go_to_their_owner() -> None:
    """Bound methods and closures of instances whose class is unhashable are still claimed."""
    instances = [Unhashable() for _ in range(20)]
    listeners = [instance.on_event for instance in instances]
    closures = [_closure_over(instance) for instance in instances]  # type: ignore[arg-type]
    groups = _groups_by_id()
    owned = owned_parts(groups.values())
    del groups
    mine = {id(part) for part in owned.parts[id(Unhashable)]}
    assert {id(listener) for listener in listeners} <= mine
    assert {id(closure) for closure in closures} <= mine


def _groups_by_id() -> dict[int, list[object]]:
    """Every tracked object grouped by its exact type's id (an unhashable class cannot be a key)."""
    groups: defaultdict[int, list[object]] = defaultdict(list)
    for obj in gc.get_objects():
        groups[id(type(obj))].append(obj)
    return groups
