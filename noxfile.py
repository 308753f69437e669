"""Developer tasks: `python3 -m nox -l` lists them.

The test matrix lives in tox.ini (CI runs it); these sessions are the
day-to-day shortcuts around it.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PACKAGES = sorted(str(p.parent) for p in (ROOT / "packages").glob("*/pyproject.toml"))
CORE = str(ROOT / "packages" / "memwatch")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
def tests(session: nox.Session) -> None:
    """Run the core's tests against an installed (non-editable) core."""
    session.install(*_group("tests"))
    session.install(CORE)
    session.run("pytest", "packages/memwatch/tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: lint and format check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the core and the adapters."""
    session.install(*_group("typecheck"))
    session.install(*PACKAGES)
    session.run("mypy", "--strict", *(f"{pkg}/src" for pkg in PACKAGES))


@nox.session
def docs(session: nox.Session) -> None:
    """Run the docs' code examples, then build the site with warnings as errors."""
    session.install(*_group("docs"))
    session.install(*PACKAGES)
    session.run("pytest", "docs", "-q", "-p", "no:cacheprovider")
    out = session.posargs or [str(ROOT / "docs" / "_build" / "html")]
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "docs", *out)
    session.log(f"open {out[0]}/index.html")


@nox.session
def dev(session: nox.Session) -> None:
    """Install every package editable, with all test tools, into .venv (one command)."""
    session.run("python", "-m", "venv", str(ROOT / ".venv"), external=True)
    python = str(ROOT / ".venv" / "bin" / "python")
    session.run(python, "-m", "pip", "install", "--upgrade", "pip", external=True)
    editable = [arg for pkg in PACKAGES for arg in ("-e", pkg)]
    groups = [*_group("tests"), *_group("lint"), *_group("typecheck")]
    session.run(python, "-m", "pip", "install", *editable, *groups, external=True)
    session.log("activate with: source .venv/bin/activate")


@nox.session
def demo(session: nox.Session) -> None:
    """A leaking service, found and explained by memwatch (printed by the CLI's renderer)."""
    session.install(*PACKAGES, f"{CORE}[cli]")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session
def scenarios(session: nox.Session) -> None:
    """Nine realistic leaks, default settings: what memwatch names in its own profile.

    Prints the matrix (scenario, detected after, culprit rank by type / line /
    root, verdict); takes minutes, one scenario after another. Arguments go to
    examples/scenarios/matrix.py, e.g. `nox -s scenarios -- response_cache`.
    """
    session.install(*PACKAGES, "flask", "numpy", "lxml")
    session.run("python", "examples/scenarios/matrix.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite (about 35 min, mostly live detection); writes docs/benchmarks.md.

    Arguments go to benchmarks/run_all.py, e.g. `nox -s bench -- --quick --healthy-minutes 1`.
    """
    session.install(*_group("benchmarks"))
    session.install(*PACKAGES, "flask", "fastapi", "tornado")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session
def hardening(session: nox.Session) -> None:
    """The whole hardening suite, slow runs and figures included; `-- -m slow` for those only."""
    session.install(*_group("tests"), *_group("conformance"), "schemathesis>=4")
    session.install(*PACKAGES)
    args = session.posargs or ["-m", "slow or not slow"]
    session.run("pytest", "tests/hardening", "-s", "-p", "no:cacheprovider", *args)


@nox.session
def screenshots(session: nox.Session) -> None:
    """Retake the dashboard's screenshots in docs/_static (1280x800, Debian's chromium)."""
    session.install(*_group("tests"), *_group("conformance"), *_group("browser"))
    session.install(*PACKAGES)
    out = ROOT / "docs" / "_static"
    out.mkdir(exist_ok=True)
    session.run(
        "pytest",
        "tests/browser",
        "-k",
        "flask",
        "-p",
        "no:cacheprovider",
        env={"MEMWATCH_SCREENSHOTS": str(out)},
    )
