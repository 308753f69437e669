"""Sphinx configuration for memwatch's documentation.

Build with ``python3 -m nox -s docs`` (warnings are errors, the examples are
run). The build imports the installed ``memwatch`` packages: autodoc reads
their docstrings, ``_ext/detector_plots.py`` runs the real detector to draw
its figures, and ``_ext/http_reference.py`` checks the HTTP reference against
the JSON Schemas and ``memwatch.http.ROUTES``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import memwatch

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "memwatch"
author = "The memwatch team"
copyright = "the memwatch team"
release = memwatch.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "detector_plots",
    "http_reference",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "conftest.py", "README.md"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Google-style docstrings, as the code is written.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# Attributes as fields of their class: autodoc documents the members themselves
# (NamedTuple fields, attrs fields), and two descriptions would collide.
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_preserve_defaults = True

# Warnings are errors (-W) and every reference must resolve (-n). The build
# runs without a network, so there is no intersphinx: references into the
# standard library and third-party packages cannot resolve and are listed here.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(datetime|collections|typing|types|threading|pathlib|ipaddress)(\..*)?"),
    (r"py:.*", r"(gc|sys|os|tracemalloc|contextlib|email|http|asyncio)(\..*)?"),
    (r"py:.*", r"(attrs?|cattrs?|flask|fastapi|starlette|tornado|werkzeug|jsonschema|rich)(\..*)?"),
    (r"py:.*", r"(_dt|_typeshed|TracebackType|Mapping|Callable|Iterable|Iterator|Sequence)(\..*)?"),
    (r"py:class", r"(Any|Literal|TypeAlias|Protocol|Exception|LookupError|ValueError)"),
    (r"py:class", r"(Path|NoneType|Awaitable|Coroutine|Lock|RLock|Event|APIRouter|URLSpec|Rule)"),
    (r"py:.*", r"(builtins|multiprocessing|sqlite3|prometheus_client|opentelemetry)(\..*)?"),
    # The metrics extras' third-party types, as their modules import them.
    (r"py:class", r"(metrics\..*|Metric|ModuleType|ImportError)"),
    (r"py:.*", r"(django|httpx|hypothesis|referencing|random)(\..*)?"),
    # The middlewares' names for the protocol's callables, and Django's URLPattern.
    (r"py:class", r"(WSGIApp|ASGIApp|Environ|StartResponse|Scope|Receive|Send|Message|URLPattern)"),
    # memwatch.testing's checks are mixins the docs describe in prose (they are test methods).
    (r"py:class", r"memwatch\.testing\.checks(_process)?\..*"),
    (r"py:class", r"(Series|Finding)"),
    # The adapters' aliases for their framework's classes.
    (r"py:class", r"Starlette(Request|Response)"),
    # Type variables of generic helpers.
    (r"py:class", r"memwatch\..*\._?T"),
    (r"py:(class|obj)", r"(memwatch\.fragments\.)?_M"),
    # Literal aliases (a chain's root kind, a verdict's layer) are documented where defined.
    (r"py:class", r"(RootKind|Layer|Chain)"),
    # napoleon reads a property docstring's "Per type name: ..." as a type; the text is fine.
    (r"py:class", r"Per type name"),
]

html_theme = "furo"
html_title = f"memwatch {release}"
html_theme_options = {
    "source_repository": "https://github.com/memwatch/memwatch/",
    "source_branch": "main",
    "source_directory": "docs/",
}
