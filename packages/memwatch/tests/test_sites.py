"""Allocation sites: what a census records from tracemalloc and how two censuses compare."""

from __future__ import annotations

import ctypes
import tracemalloc
from typing import TYPE_CHECKING

from hypothesis import given
from hypothesis import strategies as st

from memwatch import layout, sites
from memwatch.census import take_census
from memwatch.models import AllocationSite

if TYPE_CHECKING:
    import pytest

site_tables = st.dictionaries(
    st.tuples(st.sampled_from(["a.py", "b.py", "/x:y/c.py"]), st.integers(0, 5)),
    st.tuples(st.integers(0, 10_000), st.integers(0, 100)),
    max_size=12,
)


def test_split_sites_reads_back_what_record_sites_keys() -> None:
    """A "file:line" key splits at its last colon, so a file name may hold colons itself."""
    split = sites.split_sites(
        {"C:/app/x.py:12": 100, "a.py:3": 7}, {"C:/app/x.py:12": 2, "a.py:3": 1}
    )
    assert split == {("C:/app/x.py", 12): (100, 2), ("a.py", 3): (7, 1)}


@given(before=site_tables, after=site_tables, limit=st.integers(0, 20))
def test_site_changes_are_the_net_changes_largest_first(
    before: dict[tuple[str, int], tuple[int, int]],
    after: dict[tuple[str, int], tuple[int, int]],
    limit: int,
) -> None:
    """Every changed line appears once with its net change, ordered, and at most `limit` of them."""
    changes = sites.site_changes(before, after, limit)
    expected = {}
    for key in {**before, **after}:
        size = after.get(key, (0, 0))[0] - before.get(key, (0, 0))[0]
        count = after.get(key, (0, 0))[1] - before.get(key, (0, 0))[1]
        if size or count:
            expected[key] = AllocationSite(file=key[0], line=key[1], size_bytes=size, count=count)
    assert len(changes) == min(limit, len(expected))
    assert all(expected[site.file, site.line] == site for site in changes)
    ranks = [(-abs(s.size_bytes), -abs(s.count), s.file, s.line) for s in changes]
    assert ranks == sorted(ranks)
    if len(changes) < len(expected):
        worst = min(abs(s.size_bytes) for s in changes) if changes else None
        left_out = [s for k, s in expected.items() if s not in changes]
        assert worst is None or all(abs(s.size_bytes) <= worst for s in left_out)


def test_no_site_changes_unless_both_censuses_traced() -> None:
    """A census without sites on either side gives no site changes."""
    table = {("a.py", 1): (10, 1)}
    assert sites.site_changes(None, table, 5) == ()
    assert sites.site_changes(table, None, 5) == ()


def test_record_sites_leaves_out_memwatch_and_tracemalloc() -> None:
    """No site a census records is in memwatch's own files or tracemalloc's."""
    tracemalloc.start()
    try:
        kept = [bytearray(256) for _ in range(10)]
        take_census()  # memwatch allocates in its own files here
        sizes, counts = sites.record_sites()
    finally:
        tracemalloc.stop()
    assert sizes.keys() == counts.keys()
    files = {file for file, _ in sites.split_sites(sizes, counts)}
    assert __file__ in files
    assert len(kept) == 10
    assert not [f for f in files if sites._is_own_file(f)]
    assert sites._is_own_file(sites.__file__)
    assert sites._is_own_file(tracemalloc.__file__)


def test_without_the_fast_id_reader_ctypes_allocations_stay_visible_as_sites(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where ids come from id(), a census copies nothing via ctypes, so ctypes' lines stay sites."""
    monkeypatch.setattr(layout, "list_items_offset", lambda: None)
    monkeypatch.setattr(sites, "list_items_offset", lambda: None)
    sites._census_copy_lines.cache_clear()
    buffer = ctypes.create_string_buffer(4096)
    tracemalloc.start()
    try:
        copies = [ctypes.string_at(buffer, 4096) for _ in range(50)]
        census = take_census()
    finally:
        tracemalloc.stop()
        sites._census_copy_lines.cache_clear()
    assert census.sites is not None
    in_ctypes = [size for (file, _), (size, _) in census.sites.items() if file == ctypes.__file__]
    assert sum(in_ctypes) >= 50 * 4096
    assert len(copies) == 50
