"""The core's import graph: every module loads on its own, with no cycle and no needless edge.

Each module is imported in an interpreter that has loaded no memwatch module and
whose ``memwatch`` package (and any parent package) is an empty stand-in, so
only the module's own imports run: a module that works only because
``memwatch/__init__.py`` happened to import something first, or that sits in a
runtime cycle, fails here. Imports under ``TYPE_CHECKING`` never run, so a
second check reads every import statement in the source and looks for cycles
among them.

Where ``os.fork`` exists, one interpreter imports the heavy third-party packages
the test kit needs (pytest, hypothesis, jsonschema...) once, checks that no
memwatch module came with them, and forks a child per module: the same check,
without importing those packages again for each of the ~90 modules (that took
most of the core suite's time on a loaded machine).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_SPEC = importlib.util.find_spec("memwatch")
assert _SPEC is not None
assert _SPEC.submodule_search_locations is not None
SOURCE = Path(next(iter(_SPEC.submodule_search_locations)))


def _module_name(path: Path) -> str:
    parts = ["memwatch", *path.relative_to(SOURCE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}

# Runs in the fresh interpreter: stand-ins for the parent packages, then the import.
_IMPORT_ALONE = """
import importlib, importlib.util, json, sys, types
def import_alone(name):
    parts = name.split(".")
    for depth in range(1, len(parts)):
        parent = ".".join(parts[:depth])
        spec = importlib.util.find_spec(parent)
        stand_in = types.ModuleType(parent)
        stand_in.__path__ = list(spec.submodule_search_locations)
        sys.modules[parent] = stand_in
    importlib.import_module(name)
    return sorted(m for m in sys.modules if m.split(".")[0] == "memwatch")
"""

# The interpreter that forks one child per module (see the module docstring): it reads a
# module name per line and answers a JSON line, {"loaded": [...]} or {"error": traceback}.
_FORKING_IMPORTER = (
    _IMPORT_ALONE
    + """
import os, traceback
for library in sys.argv[1:]:
    try:
        importlib.import_module(library)
    except ImportError:
        pass
early = sorted(m for m in sys.modules if m.split(".")[0] == "memwatch")
print(json.dumps({"preloaded": early}), flush=True)
for line in sys.stdin:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            answer = {"loaded": import_alone(line.strip())}
        except BaseException:
            answer = {"error": traceback.format_exc()}
        with os.fdopen(write, "w") as out:
            out.write(json.dumps(answer))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    print(text or json.dumps({"error": "the child died without answering"}), flush=True)
"""
)

#: Loaded once before the forks: what the test kit's modules import that is slow to import.
_PRELOADED = ("attrs", "cattrs", "pytest", "hypothesis", "jsonschema", "referencing", "httpx")

# Cycles allowed for now (auth <-> http ended when Request moved to memwatch.wire).
KNOWN_CYCLES: list[tuple[str, ...]] = []


class ForkingImporter:
    """One interpreter that imports each module in a fork of itself (POSIX only)."""

    def __init__(self, cwd: Path) -> None:
        """Start the interpreter and check that its preloaded packages loaded no memwatch module."""
        self._process = subprocess.Popen(
            [sys.executable, "-c", _FORKING_IMPORTER, *_PRELOADED],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        preloaded = self._read()["preloaded"]
        assert preloaded == [], f"the preloaded packages imported memwatch: {preloaded}"

    def _read(self) -> dict[str, list[str]]:
        assert self._process.stdout is not None
        answer: dict[str, list[str]] = json.loads(self._process.stdout.readline())
        return answer

    def __call__(self, name: str) -> list[str]:
        """Import ``name`` alone in a fork; return the memwatch modules it loaded."""
        assert self._process.stdin is not None
        self._process.stdin.write(name + "\n")
        self._process.stdin.flush()
        answer = self._read()
        assert "error" not in answer, f"import {name} failed alone:\n{answer['error']}"
        return answer["loaded"]

    def close(self) -> None:
        """End the interpreter."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.close()
        self._process.wait(timeout=60)
        self._process.stdout.close()


def import_in_fresh_interpreter(name: str, cwd: Path) -> list[str]:
    """Import ``name`` in a fresh interpreter; return the memwatch modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALONE + f"print(json.dumps(import_alone({name!r})))"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"import {name} failed alone:\n{result.stderr}"
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.fixture(scope="module")
def import_alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], list[str]]]:
    """Import a module alone: in a fork of a clean interpreter, or a fresh one without fork."""
    cwd = tmp_path_factory.mktemp("imports")
    if not hasattr(os, "fork"):
        yield lambda name: import_in_fresh_interpreter(name, cwd)
        return
    importer = ForkingImporter(cwd)
    yield importer
    importer.close()


def imports_in_source(path: Path) -> set[str]:
    """The memwatch modules that ``path`` names in any import statement, type-only ones included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in MODULES}


def source_graph() -> dict[str, set[str]]:
    """Every core module's imports of other core modules, from the source."""
    return {name: imports_in_source(path) - {name} for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The groups of modules that reach each other through imports, each sorted."""
    reach = {node: reachable(graph, node) for node in graph}
    return sorted(
        {
            tuple(sorted(other for other in reach[node] if node in reach[other]))
            for node in graph
            if node in reach[node]
        }
    )


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for other in graph[todo.pop()] - seen:
            seen.add(other)
            todo.append(other)
    return seen


#: The library each extra's modules need; without it they are skipped, not failed.
EXTRA_LIBRARIES = {
    "memwatch.cli.": "rich",
    "memwatch.prometheus": "prometheus_client",
    "memwatch.otel": "opentelemetry",
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_imports_alone(name, import_alone):
    """Each core module imports in a fresh interpreter without the package's __init__ first."""
    for prefix, library in EXTRA_LIBRARIES.items():
        if name.startswith(prefix) and importlib.util.find_spec(library) is None:
            pytest.skip(f"{name} needs its extra's {library}, which is not installed")
    assert name in import_alone(name)


def test_package_imports(tmp_path):
    """Importing the memwatch package itself, as users do, works in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", "import memwatch"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_collector_does_not_load_the_detector(import_alone):
    """The collector builds samples without loading any part of the detector."""
    loaded = import_alone("memwatch.collector")
    assert "memwatch.samples" in loaded
    assert [name for name in loaded if name.startswith("memwatch.detector")] == []


def test_collector_names_no_detector_module():
    """No import statement of the collector, type-only ones included, reaches the detector."""
    reached = reachable(source_graph(), "memwatch.collector")
    assert "memwatch.samples" in reached
    assert sorted(name for name in reached if name.startswith("memwatch.detector")) == []


def test_no_import_cycle_in_source():
    """The core's import statements, type-only ones included, form no cycle beyond known ones."""
    assert [group for group in cycles(source_graph()) if group not in KNOWN_CYCLES] == []


def test_known_cycles_still_exist():
    """Each allowed cycle is still there, so the allowance is dropped as soon as one is broken."""
    found = cycles(source_graph())
    assert [group for group in KNOWN_CYCLES if group not in found] == []


def test_cycle_finder_sees_a_cycle():
    """The cycle finder reports a three-module cycle and ignores a chain."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [("a", "b", "c")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_module_that_fails_to_import_is_reported(import_alone):
    """The importer reports a failing import with its traceback, and goes on answering."""
    with pytest.raises(AssertionError, match="failed alone") as failed:
        import_alone("memwatch.no_such_module")
    assert "ModuleNotFoundError" in str(failed.value)
    assert "memwatch.wire" in import_alone("memwatch.wire")
