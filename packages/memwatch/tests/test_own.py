"""Which dotted names are memwatch's own, or its dependencies', and which the application's."""

from __future__ import annotations

import pytest

from memwatch.own import is_memwatch_name, is_own_name


@pytest.mark.parametrize(
    ("name", "memwatch", "own"),
    [
        ("memwatch.models.Status", True, True),
        ("memwatch_flask.Memwatch", True, True),
        # The test kit's apps stand in for an application: theirs is the leak.
        ("memwatch.testing.apps.LeakyThing", False, False),
        ("cattrs.gen._consts.AttributeOverride", False, True),
        ("attr._make._CountingAttr", False, True),
        ("attrs.Attribute", False, True),
        # A prefix is a whole module name: lookalikes are the application's.
        ("memwatchers.Cache", False, False),
        ("attrsy.Thing", False, False),
        ("app.cattrs_cache", False, False),
        ("__main__.LeakyThing", False, False),
    ],
)
def test_names(name: str, *, memwatch: bool, own: bool) -> None:
    """A census leaves out memwatch's names; retention also its dependencies'."""
    assert is_memwatch_name(name) is memwatch
    assert is_own_name(name) is own
