"""memwatch's pytest plugin (entry point ``pytest11``): the kit's asserts explain themselves.

pytest rewrites ``assert`` statements only in test modules and in modules it
was told about before they are imported; this plugin, loaded by pytest at
start-up whenever memwatch is installed, tells it about the kit's checks, so a
failing check shows the values it compared. It does nothing else, and nothing
outside pytest imports it.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite(
    "memwatch.testing.checks",
    "memwatch.testing.checks_process",
    "memwatch.testing.contract",
)
