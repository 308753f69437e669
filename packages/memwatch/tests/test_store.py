"""The bounded in-memory profile store and profile ids."""

from __future__ import annotations

import datetime as dt
import re
import threading

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from memwatch.models import Profile
from memwatch.store import MemoryProfileStore, ProfileStore, new_profile_id

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)


def make_profile(profile_id: str, state: str = "complete") -> Profile:
    return Profile(id=profile_id, state=state, trigger="manual", started=NOW)  # type: ignore[arg-type]


def test_ids_are_short_url_safe_unique_and_never_status():
    """Ids are 8 URL-safe characters, distinct, and never the reserved word."""
    ids = {new_profile_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{7}", i) for i in ids)
    assert "status" not in ids


def test_store_satisfies_the_protocol():
    """The default store is a ProfileStore."""
    assert isinstance(MemoryProfileStore(), ProfileStore)


def test_max_profiles_must_be_positive():
    """A store that can hold nothing is a configuration error."""
    with pytest.raises(ValueError, match="at least 1"):
        MemoryProfileStore(0)


def test_oldest_finished_profiles_are_evicted_first():
    """Beyond the bound, the oldest finished profiles go and running ones stay."""
    store = MemoryProfileStore(max_profiles=3)
    store.put(make_profile("run", state="running"))
    for name in ("a", "b", "c"):
        store.put(make_profile(name))
    assert [p.id for p in store.list()] == ["run", "b", "c"]
    store.put(make_profile("d", state="failed"))
    assert [p.id for p in store.list()] == ["run", "c", "d"]


def test_replacing_keeps_position_and_running_is_never_evicted():
    """Ending a profile replaces it in place; an all-running store grows past its bound."""
    store = MemoryProfileStore(max_profiles=1)
    store.put(make_profile("x", state="running"))
    store.put(make_profile("y", state="running"))
    assert len(store) == 2
    store.put(make_profile("x"))
    assert [p.id for p in store.list()] == ["x", "y"]
    assert store.get("x") == make_profile("x")


def test_get_delete_clear():
    """Missing ids read as None, delete says whether it found one, clear empties."""
    store = MemoryProfileStore()
    store.put(make_profile("a"))
    assert store.get("nope") is None
    assert store.delete("a") is True
    assert store.delete("a") is False
    store.put(make_profile("b"))
    store.clear()
    assert store.list() == []


def test_concurrent_puts_lose_nothing_within_the_bound():
    """Threads putting at once leave exactly the bound's worth of the newest profiles."""
    store = MemoryProfileStore(max_profiles=50)
    barrier = threading.Barrier(4)

    def worker(prefix: str) -> None:
        barrier.wait(timeout=10)
        for i in range(200):
            store.put(make_profile(f"{prefix}{i:04d}"))

    threads = [threading.Thread(target=worker, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(store) == 50
    assert len({p.id for p in store.list()}) == 50


class StoreMachine(RuleBasedStateMachine):
    """The store against a plain model: bounded, oldest finished evicted first."""

    def __init__(self) -> None:
        super().__init__()
        self.bound = 4
        self.store = MemoryProfileStore(self.bound)
        self.model: dict[str, Profile] = {}
        self.counter = 0

    @rule(running=st.booleans())
    def put_new(self, running: bool) -> None:
        self.counter += 1
        profile = make_profile(f"p{self.counter}", "running" if running else "complete")
        self.store.put(profile)
        self._model_put(profile)

    def _model_put(self, profile: Profile) -> None:
        self.model[profile.id] = profile
        excess = len(self.model) - self.bound
        victims = [k for k, v in self.model.items() if v.state != "running" and k != profile.id]
        for key in victims[: max(0, excess)]:
            del self.model[key]

    @precondition(lambda self: any(p.state == "running" for p in self.model.values()))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        running = sorted(k for k, v in self.model.items() if v.state == "running")
        key = data.draw(st.sampled_from(running))
        ended = attrs.evolve(self.model[key], state="complete")
        self.store.put(ended)
        self._model_put(ended)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        assert self.store.delete(key)
        del self.model[key]

    @invariant()
    def matches_model(self) -> None:
        assert self.store.list() == list(self.model.values())

    @invariant()
    def finished_profiles_are_bounded(self) -> None:
        finished = [p for p in self.store.list() if p.state != "running"]
        assert len(finished) <= self.bound


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(stateful_step_count=20)
