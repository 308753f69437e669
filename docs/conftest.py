"""Run the documentation's code examples (Sybil): ```python blocks and >>> examples."""

from __future__ import annotations

import os

from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser, SkipParser


def _setup(namespace: dict[str, object]) -> None:
    # The quickstarts read the token from the environment, as a service would.
    os.environ.setdefault("MEMWATCH_TOKEN", "docs-example-token")
    # Examples run as a script would: Flask(__name__) finds its root path from it.
    namespace["__name__"] = "__main__"


pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["*.md", "**/*.md"],
    setup=_setup,
).pytest()
