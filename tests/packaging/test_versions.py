"""The five distributions move in lockstep: one version, and each pins the others to it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
ADAPTERS = ("memwatch-django", "memwatch-fastapi", "memwatch-flask", "memwatch-tornado")
DISTRIBUTIONS = ("memwatch", *ADAPTERS)


def _project(dist: str) -> dict[str, object]:
    with (PACKAGES / dist / "pyproject.toml").open("rb") as f:
        project: dict[str, object] = tomllib.load(f)["project"]
    return project


def _requirements(specs: object) -> dict[str, Requirement]:
    assert isinstance(specs, list)
    reqs = [Requirement(spec) for spec in specs]
    return {req.name: req for req in reqs}


@pytest.fixture(scope="module")
def version() -> str:
    return str(_project("memwatch")["version"])


def test_every_distribution_has_the_cores_version(version):
    """All five pyproject.toml files carry the same version string."""
    versions = {dist: _project(dist)["version"] for dist in DISTRIBUTIONS}
    assert set(versions.values()) == {version}, versions


def test_runtime_version_matches_metadata(version):
    """memwatch.__version__ in the source equals the version in pyproject.toml."""
    init = (PACKAGES / "memwatch" / "src" / "memwatch" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', init, re.MULTILINE)
    assert match is not None
    assert match.group(1) == version


def test_the_five_distributions_exist():
    """packages/ holds exactly the core and the four adapters, each with a pyproject.toml."""
    found = sorted(p.parent.name for p in PACKAGES.glob("*/pyproject.toml"))
    assert found == sorted(DISTRIBUTIONS)


@pytest.mark.parametrize("dist", ADAPTERS)
def test_adapter_pins_the_core_exactly(dist, version):
    """Each adapter depends on memwatch==<the same version>, nothing looser."""
    reqs = _requirements(_project(dist).get("dependencies", []))
    assert "memwatch" in reqs, f"{dist} does not depend on memwatch"
    assert str(reqs["memwatch"].specifier) == f"=={version}"


@pytest.mark.parametrize("extra", ["flask", "fastapi", "tornado"])
def test_core_extra_pins_its_adapter_exactly(extra, version):
    """`pip install memwatch[<framework>]` installs that adapter at the same version."""
    extras = _project("memwatch").get("optional-dependencies", {})
    assert isinstance(extras, dict)
    reqs = _requirements(extras.get(extra, []))
    adapter = f"memwatch-{extra}"
    assert adapter in reqs, f"extra {extra!r} does not install {adapter}"
    assert str(reqs[adapter].specifier) == f"=={version}"


def test_changelog_has_an_entry_for_the_version(version):
    """CHANGELOG.md has a heading for the current version."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(version)}\]", changelog, re.MULTILINE)
