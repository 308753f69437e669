"""The ``memwatch`` command's entry point (the console script and ``python -m memwatch``).

It needs the ``cli`` extra (``pip install "memwatch[cli]"``, which adds rich);
without it the command says so in one line instead of failing on an import.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

_MISSING_EXTRA = (
    "memwatch: the command line needs the 'cli' extra: pip install \"memwatch[cli]\" "
    "(missing module: {name})"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).
    """
    try:
        from memwatch.cli.commands import run  # noqa: PLC0415 - rich is an optional extra
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("rich"):
            raise
        print(_MISSING_EXTRA.format(name=exc.name), file=sys.stderr)  # noqa: T201 - the CLI's one line
        return 2
    return run(sys.argv[1:] if argv is None else argv)
