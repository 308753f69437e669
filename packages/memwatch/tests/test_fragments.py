"""The status serializer that reuses each part's JSON gives exactly the bytes ``dumps`` gives."""

from __future__ import annotations

import gc

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch import fragments
from memwatch.converter import dumps
from memwatch.fragments import FieldwiseEncoder
from memwatch.headroom import _memory_info
from memwatch.models import GCStats, MemoryInfo, Status
from memwatch.process import process_info
from memwatch.store.location import describe_store
from memwatch.store.memory import MemoryStore
from test_models import gc_stats, statuses

FIELDS = [field.name for field in attrs.fields(Status)]


@st.composite
def status_sequences(draw: st.DrawFn) -> list[Status]:
    """Statuses in which each part is either the previous status's object or a new one."""
    sequence = [draw(statuses)]
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        fresh = draw(statuses)
        kept = draw(st.sets(st.sampled_from(FIELDS)))
        previous = sequence[-1]
        sequence.append(attrs.evolve(fresh, **{name: getattr(previous, name) for name in kept}))
    return sequence


@given(sequence=status_sequences())
def test_each_status_serializes_as_dumps_does(sequence: list[Status]) -> None:
    """Whatever was kept from the last status and whatever is new, the bytes are dumps's."""
    encoder = FieldwiseEncoder(Status)
    for status in sequence:
        assert encoder.encode(status) == dumps(status)


@given(status=statuses)
def test_a_repeated_status_reuses_every_part(status: Status) -> None:
    """The second serialization of the same status encodes no part again."""
    encoded: list[object] = []

    def counting_dumps(value: object) -> bytes:
        encoded.append(value)
        return dumps(value)

    encoder = FieldwiseEncoder(Status)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fragments, "dumps", counting_dumps)
        first = encoder.encode(status)
        assert len(encoded) == len(FIELDS)
        assert encoder.encode(status) == first
    assert len(encoded) == len(FIELDS)


@given(stats=gc_stats)
def test_an_equal_new_part_is_encoded_again(stats: GCStats) -> None:
    """Equal is not enough: 0.0 and -0.0 are equal, and the second must say -0.0."""
    encoder = FieldwiseEncoder(Status)
    positive = Status(last_gc=attrs.evolve(stats, usage_trend=0.0))
    negative = Status(last_gc=attrs.evolve(stats, usage_trend=-0.0))
    assert positive == negative
    encoder.encode(positive)
    assert encoder.encode(negative) == dumps(negative)
    assert b'"usage_trend":-0.0' in encoder.encode(negative)


def test_the_process_part_is_the_same_object_while_its_readings_stand() -> None:
    """process_info hands the same object back until a reading (here the thresholds) changes."""
    first = process_info()
    assert process_info() is first
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0] + 1, *thresholds[1:])
    try:
        changed = process_info()
    finally:
        gc.set_threshold(*thresholds)
    assert changed is not first
    assert changed.gc_thresholds[0] == thresholds[0] + 1
    assert process_info().gc_thresholds == tuple(thresholds)


def test_the_store_and_memory_parts_are_the_same_object_for_the_same_figures() -> None:
    """The same store description and the same memory figures give the very same objects."""
    store = MemoryStore()
    assert describe_store(store) is describe_store(store)
    figures = (512 << 20, "env", 100 << 20, 412 << 20, 30.0, None)
    info = _memory_info(*figures)
    assert _memory_info(*figures) is info
    assert info == MemoryInfo(*figures)
    assert _memory_info(512 << 20, "env", 101 << 20, 411 << 20, 30.0, None) is not info
