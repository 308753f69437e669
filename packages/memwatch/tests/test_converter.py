"""The converter's edges: what it refuses when structuring JSON back into models."""

from __future__ import annotations

import pytest
from cattrs.errors import ClassValidationError

from memwatch.converter import converter, dumps, loads
from memwatch.models import DiffDetail, LeakReport


def test_a_non_string_timestamp_is_refused():
    """A timestamp that is not a string is a validation error naming the field's problem."""
    with pytest.raises(ClassValidationError) as info:
        converter.structure({"timestamp": 1700000000}, LeakReport)
    assert "expected an RFC 3339 timestamp string, got int" in repr(info.value.exceptions)


def test_the_derived_size_is_ignored_when_structuring():
    """The 'size' string is derived from size_bytes, never read back."""
    detail = DiffDetail(what="dict", size_bytes=2048, allocated=3, freed=1)
    assert b'"size":"2 kb"' in dumps(detail)
    assert loads(dumps(detail).replace(b'"2 kb"', b'"nonsense"'), DiffDetail) == detail
