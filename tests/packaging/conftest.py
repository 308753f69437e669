"""Shared facts about the five distributions, for the packaging tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
DISTRIBUTIONS = sorted(p.parent.name for p in PACKAGES.glob("*/pyproject.toml"))


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build an sdist and, from that sdist, a wheel of every distribution (as a release would)."""
    out = tmp_path_factory.mktemp("dist")
    for name in DISTRIBUTIONS:
        # Without --sdist/--wheel, build makes the sdist first and the wheel from it,
        # so a file the sdist forgets breaks the wheel here rather than on a user's machine.
        result = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(PACKAGES / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"building {name} failed:\n{result.stdout}\n{result.stderr}")
    return out
