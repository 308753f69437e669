"""The layer verdict: a pure function of the readings over one window."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from memwatch.verdict import BLOCK_BYTES, MIN_GROWTH, LayerReadings, judge

MB = 1 << 20
_bytes = st.integers(min_value=-100 * MB, max_value=500 * MB)
_readings = st.builds(
    LayerReadings,
    seconds=st.floats(min_value=1, max_value=3600),
    process_growth=_bytes,
    malloc_growth=st.none() | _bytes,
    blocks_growth=st.integers(min_value=-1_000_000, max_value=5_000_000),
    census_growth=_bytes,
    untracked_growth=st.integers(min_value=0, max_value=500 * MB),
    traced_growth=st.none() | st.integers(min_value=0, max_value=500 * MB),
    foreign_traced_growth=st.integers(min_value=0, max_value=500 * MB),
    census=st.booleans(),
)


@given(_readings)
def test_verdict_is_total_and_deterministic(readings: LayerReadings) -> None:
    """Every reading gets one layer, a one-sentence text, its own figures, the same each time."""
    verdict = judge(readings)
    assert verdict == judge(readings)
    assert verdict.figures == readings
    assert verdict.text
    assert "\n" not in verdict.text


@given(_readings)
def test_small_growth_is_no_leak(readings: LayerReadings) -> None:
    """Below the minimum growth there is nothing to explain, whatever the other figures."""
    small = attrs.evolve(readings, process_growth=min(readings.process_growth, MIN_GROWTH - 1))
    assert judge(small).layer == "none"


@given(_readings, st.integers(min_value=2, max_value=50))
def test_scaling_every_figure_keeps_the_layer(readings: LayerReadings, factor: int) -> None:
    """The verdict depends on shares, not on the size of the leak."""
    base = attrs.evolve(readings, process_growth=max(readings.process_growth, MIN_GROWTH))
    scaled = LayerReadings(
        seconds=base.seconds,
        process_growth=base.process_growth * factor,
        malloc_growth=None if base.malloc_growth is None else base.malloc_growth * factor,
        blocks_growth=base.blocks_growth * factor,
        census_growth=base.census_growth * factor,
        untracked_growth=base.untracked_growth * factor,
        traced_growth=None if base.traced_growth is None else base.traced_growth * factor,
        foreign_traced_growth=base.foreign_traced_growth * factor,
        census=base.census,
    )
    assert judge(scaled).layer == judge(base).layer


@given(st.integers(min_value=MIN_GROWTH, max_value=500 * MB), st.floats(0.31, 2.0))
def test_census_explaining_the_growth_means_python_objects(growth: int, ratio: float) -> None:
    """When the census sees a good part of the growth (30%), the layer is Python objects."""
    readings = LayerReadings(seconds=60, process_growth=growth, census_growth=int(growth * ratio))
    assert judge(readings).layer == "python objects"


@given(st.integers(min_value=MIN_GROWTH, max_value=500 * MB), st.floats(0.51, 2.0))
def test_traced_but_not_counted_is_untracked_data(growth: int, ratio: float) -> None:
    """Growth the tracing window sees but the census does not is untracked Python data."""
    readings = LayerReadings(
        seconds=60,
        process_growth=growth,
        census_growth=growth // 100,
        traced_growth=int(growth * ratio),
    )
    assert judge(readings).layer == "untracked python data"


@given(st.integers(min_value=MIN_GROWTH, max_value=500 * MB), st.floats(0.51, 1.2))
def test_malloc_growing_alone_is_native(growth: int, ratio: float) -> None:
    """malloc growing while Python's allocators do not is native memory, and memray is named."""
    readings = LayerReadings(
        seconds=60, process_growth=growth, malloc_growth=int(growth * ratio), traced_growth=0
    )
    assert judge(attrs.evolve(readings, traced_growth=growth // 5)).layer == "native memory"
    verdict = judge(readings)
    assert verdict.layer == "native memory"
    assert "memray run --native" in verdict.text


@given(st.integers(min_value=MIN_GROWTH, max_value=500 * MB))
def test_extension_domain_is_native(growth: int) -> None:
    """Bytes an extension traces in its own domain (numpy) are native memory."""
    readings = LayerReadings(
        seconds=60,
        process_growth=growth,
        census_growth=growth // 10,
        traced_growth=growth // 10,
        foreign_traced_growth=growth,
    )
    assert judge(readings).layer == "native memory"


@given(st.integers(min_value=MIN_GROWTH, max_value=500 * MB), st.integers(-10 * MB, 0))
def test_rss_alone_growing_is_allocator_retention(growth: int, malloc: int) -> None:
    """RSS growing while malloc in-use and Python's blocks do not is allocator retention."""
    readings = LayerReadings(seconds=60, process_growth=growth, malloc_growth=malloc)
    assert judge(readings).layer == "allocator retention"


@given(_readings)
def test_without_a_census_python_memory_is_never_called_untracked_data(
    readings: LayerReadings,
) -> None:
    """A leak report's verdict cannot tell objects from untracked data: it never claims data."""
    assert judge(attrs.evolve(readings, census=False)).layer != "untracked python data"


@given(st.integers(min_value=MIN_GROWTH, max_value=500 * MB), st.floats(0.31, 2.0))
def test_without_a_census_pythons_blocks_are_python_memory(growth: int, ratio: float) -> None:
    """Python's blocks explaining a good part (30%) of a leak's growth is Python memory."""
    readings = LayerReadings(
        seconds=60,
        process_growth=growth,
        malloc_growth=0,
        blocks_growth=int(growth * ratio) // BLOCK_BYTES + 1,
        census=False,
    )
    verdict = judge(readings)
    assert verdict.layer == "python objects"
    assert "census tells apart" in verdict.text


@given(st.integers(min_value=MIN_GROWTH, max_value=500 * MB), st.floats(0.0, 0.2))
def test_without_a_census_large_values_in_malloc_are_native_or_python(
    growth: int, blocks_share: float
) -> None:
    """malloc explaining half a leak, Python's blocks less, is native memory or large values."""
    blocks = int(growth * blocks_share) // BLOCK_BYTES
    readings = LayerReadings(
        seconds=60,
        process_growth=growth,
        malloc_growth=growth // 2 + 1,
        blocks_growth=blocks,
        census=False,
    )
    verdict = judge(readings)
    assert verdict.layer == "native memory"
    assert "str/bytes over 512 bytes" in verdict.text
