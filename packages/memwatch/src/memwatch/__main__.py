"""``python -m memwatch``: the ``memwatch`` command (see :mod:`memwatch.cli`)."""

from __future__ import annotations

import sys

from memwatch.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
