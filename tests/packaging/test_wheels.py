"""The built wheels and sdists are complete, and the installed wheels pass the conformance suite.

Everything here works on artefacts built from the checkout into a temporary
directory; the conformance run uses a fresh virtual environment that has
never seen the checkout's sources, so a file missing from a wheel fails here.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trove_classifiers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from email.message import Message

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
VERSION_RE = r"[0-9][0-9a-z.+]*"
DISTRIBUTIONS = (
    "memwatch",
    "memwatch-django",
    "memwatch-fastapi",
    "memwatch-flask",
    "memwatch-tornado",
)
# The framework each adapter binds to, and its trove classifier where one exists
# (trove has no "Framework :: Tornado").
FRAMEWORK_CLASSIFIERS = {
    "memwatch-flask": "Framework :: Flask",
    "memwatch-fastapi": "Framework :: FastAPI",
    "memwatch-django": "Framework :: Django",
}
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PROJECT_URLS = ("Documentation", "Source", "Changelog")


def _import_name(dist: str) -> str:
    return dist.replace("-", "_")


def _artefact(dist_dir: Path, dist: str, suffix: str) -> Path:
    found = [
        p
        for p in dist_dir.iterdir()
        if re.fullmatch(rf"{_import_name(dist)}-{VERSION_RE}{re.escape(suffix)}", p.name)
    ]
    assert len(found) == 1, f"expected one {suffix} of {dist}, found {found}"
    return found[0]


def _wheel(dist_dir: Path, dist: str) -> Path:
    return _artefact(dist_dir, dist, "-py3-none-any.whl")


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.BytesParser().parsebytes(zf.read(name))


def test_core_wheel_ships_the_dashboard(dist_dir):
    """Every file of the dashboard (page, script, styles, uPlot and its licence) is in the wheel."""
    source = PACKAGES / "memwatch" / "src" / "memwatch" / "dashboard"
    expected = {p.name for p in source.iterdir() if p.is_file() and p.suffix != ".pyc"}
    assert {"index.html", "dashboard.js", "uPlot.iife.min.js", "uPlot.LICENSE"} <= expected
    with zipfile.ZipFile(_wheel(dist_dir, "memwatch")) as zf:
        shipped = {
            n.rsplit("/", 1)[1] for n in zf.namelist() if n.startswith("memwatch/dashboard/")
        }
    assert shipped == expected


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_each_distribution_builds_one_sdist_and_one_pure_wheel(dist_dir, dist):
    """python -m build yields exactly one sdist and one py3-none-any wheel per distribution."""
    assert _artefact(dist_dir, dist, ".tar.gz").stat().st_size > 0
    assert _wheel(dist_dir, dist).stat().st_size > 0


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_wheel_holds_only_the_package_and_its_marker(dist_dir, dist):
    """The wheel ships the import package with py.typed and nothing outside it but dist-info."""
    pkg = _import_name(dist)
    with zipfile.ZipFile(_wheel(dist_dir, dist)) as zf:
        names = zf.namelist()
    assert f"{pkg}/py.typed" in names
    assert f"{pkg}/__init__.py" in names
    stray = [n for n in names if not n.startswith((f"{pkg}/", f"{pkg}-"))]
    assert stray == []
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_core_wheel_ships_every_json_schema(dist_dir):
    """Every schema file in the source tree is in the core's wheel."""
    source = PACKAGES / "memwatch" / "src" / "memwatch" / "schemas"
    expected = {p.name for p in source.glob("*.json")}
    assert expected
    with zipfile.ZipFile(_wheel(dist_dir, "memwatch")) as zf:
        shipped = {
            n.rsplit("/", 1)[1]
            for n in zf.namelist()
            if re.fullmatch(r"memwatch/schemas/[^/]+\.json", n)
        }
    assert shipped == expected


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_wheel_metadata_is_complete(dist_dir, dist):
    """METADATA names Python >=3.10, valid classifiers incl. Typing :: Typed, URLs and a readme."""
    meta = _metadata(_wheel(dist_dir, dist))
    assert meta["Name"] == dist
    assert meta["Requires-Python"] == ">=3.10"
    classifiers = meta.get_all("Classifier") or []
    invalid = [c for c in classifiers if c not in trove_classifiers.classifiers]
    assert invalid == []
    assert "Typing :: Typed" in classifiers
    for python in PYTHONS:
        assert f"Programming Language :: Python :: {python}" in classifiers
    if dist in FRAMEWORK_CLASSIFIERS:
        assert FRAMEWORK_CLASSIFIERS[dist] in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    for label in PROJECT_URLS:
        assert urls.get(label, "").startswith("https://"), f"{dist}: no {label} URL"
    assert meta["Description-Content-Type"] == "text/markdown"
    readme = meta.get_payload()
    assert isinstance(readme, str)
    assert _import_name(dist) in readme
    assert meta["License-Expression"] or meta["License"]


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_sdist_holds_sources_readme_and_pyproject(dist_dir, dist):
    """The sdist carries pyproject.toml, the readme and the typed source tree."""
    sdist = _artefact(dist_dir, dist, ".tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    pkg = _import_name(dist)
    assert {"pyproject.toml", "README.md", f"src/{pkg}/__init__.py", f"src/{pkg}/py.typed"} <= names


# -- the installed wheels, in a fresh virtual environment -------------------------------------


def _run(*args: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def _clean_env() -> dict[str, str]:
    """The environment minus anything that would put the checkout or another venv in reach."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _test_requirements() -> list[str]:
    """The root pyproject's `tests` and `conformance` groups: what the suite imports and runs."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        groups = tomllib.load(f)["dependency-groups"]
    names = [name for name in ("tests", "conformance") if name in groups]
    reqs = [req for name in names for req in groups[name] if isinstance(req, str)]
    # The FastAPI conformance tests validate /openapi.json as OpenAPI 3.1.
    return [*reqs, "openapi-spec-validator>=0.7"]


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, dist_dir: Path) -> Path:
    """A new venv with our five wheels (from dist_dir only) and their third-party deps."""
    home = tmp_path_factory.mktemp("fresh")
    venv = home / "venv"
    env = _clean_env()
    _run(sys.executable, "-m", "venv", venv, cwd=home, env=env)
    python = venv / "bin" / "python"
    # Ours come from the freshly built wheels and nowhere else: no index for this step.
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-index",
        "--no-deps",
        "--find-links",
        dist_dir,
        *DISTRIBUTIONS,
        cwd=home,
        env=env,
    )
    # Then their third-party dependencies and the test tools from the normal index;
    # ours are already satisfied at the pinned version, so pip leaves them alone.
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--find-links",
        dist_dir,
        *DISTRIBUTIONS,
        *_test_requirements(),
        cwd=home,
        env=env,
    )
    _run(python, "-m", "pip", "check", cwd=home, env=env)
    return venv


def test_fresh_venv_imports_the_installed_wheels_not_the_checkout(fresh_venv):
    """Each package imports from the venv's site-packages, never from the source tree."""
    code = (
        "import importlib, json; "
        f"print(json.dumps({{n: importlib.import_module(n).__file__ for n in "
        f"{[_import_name(d) for d in DISTRIBUTIONS]!r}}}))"
    )
    out = _run(fresh_venv / "bin" / "python", "-c", code, cwd=fresh_venv.parent, env=_clean_env())
    files = json.loads(out)
    for name, file in files.items():
        assert Path(file).resolve().is_relative_to(fresh_venv.resolve()), (name, file)
        assert "site-packages" in Path(file).parts


# Each adapter's conformance suite (it subclasses memwatch.testing.ConformanceSuite), run from
# the installed wheels as a third-party adapter author would run it. The gunicorn variants
# fork a server per check; the adapter envs run them, here the in-process servers suffice.
# One WSGI adapter and the kit's worked example: the other adapters' envs already run the
# same suite against their installed (built, non-editable) packages.
CONFORMANCE = [
    ROOT / "packages" / "memwatch-flask" / "tests" / "test_flask_conformance.py",
    ROOT / "packages" / "memwatch-django" / "tests" / "test_django.py",
]


def test_conformance_suite_passes_against_the_installed_wheels(fresh_venv):
    """The shipped suite, run by the fresh venv's Python, passes against the installed adapters."""
    assert all(path.is_file() for path in CONFORMANCE), CONFORMANCE
    out = _run(
        fresh_venv / "bin" / "python",
        "-m",
        "pytest",
        *CONFORMANCE,
        "-k",
        "not Gunicorn",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        ROOT,
        cwd=fresh_venv.parent,
        env=_clean_env(),
    )
    summary = out.strip().splitlines()[-1]
    assert re.search(r"\b[1-9]\d* passed\b", summary), summary
    for word in ("failed", "error"):
        assert word not in summary, out[-3000:]
    # Every adapter and server is installed here: nothing may be skipped for want of an
    # import (pytest.importorskip's "could not import ..."); a check that does not apply
    # to one server may still skip itself.
    skips = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert not [line for line in skips if "could not import" in line], skips
