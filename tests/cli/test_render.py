"""The CLI's renderer: labels each figure, hides library lines, tolerates absent keys."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from memwatch.cli import render

STATUS = {
    "lastEvent": "leak",
    "lastGC": {
        "estimated_base": 40 * 2**20,
        "num_full_gc": 3,
        "num_inc_gc": 90,
        "usage_trend": 12.5,
    },
    "lastLeak": {
        "timestamp": "2026-12-01T13:32:44.612379Z",
        "reason": "heap baseline grew 41.37 mb over 22 samples (44s) - 3382.2 mb/hr",
        "growth": 43_000_000,
        "verdict": {
            "layer": "python objects",
            "text": "preliminary, from the probes over the leak's window: Python memory",
        },
    },
    "lastDiff": {
        "timestamp": "2026-12-01T13:32:55Z",
        "before": {"nodes": 10, "size": "1 kb"},
        "after": {"nodes": 20, "size": "2 kb"},
        "change": {
            "size": "1 kb",
            "allocated_nodes": 10,
            "freed_nodes": 0,
            "details": [{"what": "app.LeakyThing", "+": 10, "-": 0, "size": "1 kb"}],
            "allocation_sites": [
                {"file": "/srv/app.py", "line": 35, "size": "11 mb", "count": 21400},
                {
                    "file": "/venv/lib/python3.11/site-packages/cattrs/__init__.py",
                    "line": 246,
                    "count": 3,
                },
            ],
            "retention": [
                {
                    "what": "app.LeakyThing",
                    "sampled": 20,
                    "paths": [{"root": "app.SESSIONS", "edges": ["[item]"], "share": 0.95}],
                }
            ],
            "untracked": [
                {
                    "what": "dict",
                    "holder": "app.CACHE",
                    "items": 1200,
                    "size": "1.2 mb",
                    "untracked_types": ["str", "bytes"],
                }
            ],
        },
    },
    "process": {"pid": 4242, "python_version": "3.11.7", "tracemalloc_tracing": True},
    "watcher": {
        "running": True,
        "mode": "trend",
        "probe": "rss",
        "samples": 5,
        "heap_bytes": 45 * 2**20,
    },
    "memory": {
        "limit_bytes": 512 * 2**20,
        "limit_source": "cgroup2",
        "headroom_bytes": 400 * 2**20,
    },
}


def _text(renderable) -> str:
    console = Console(width=160, record=True, file=open("/dev/null", "w"))  # noqa: SIM115, PTH123 - closed with the console
    console.print(renderable)
    text = console.export_text()
    console.file.close()
    return text


def test_status_labels_every_figure():
    """Status names the probe's reading, baseline, limit, leak and the objects counted."""
    text = _text(render.status_view(STATUS))
    assert "process RSS now" in text
    assert "45 mb" in text
    assert "40 mb (trend +12.5%)" in text
    assert "512 mb (cgroup2, headroom 400 mb)" in text
    assert "LEAK heap baseline grew 41.37 mb" in text
    assert "preliminary, from the probes over the leak's window: Python memory" in text
    assert "20 Python objects counted (2 kb)" in text


def test_no_sample_yet_is_not_zero_bytes():
    """Before the first sample the reading says so instead of '0 bytes'."""
    status = {**STATUS, "watcher": {"probe": "tracemalloc", "samples": 0, "heap_bytes": 0}}
    text = _text(render.status_view(status)) + _text(render.reading_line(status))
    assert "no sample yet" in text
    assert "0 bytes" not in text
    assert "traced bytes (tracemalloc)" in text


def test_diff_hides_library_lines_and_shows_retention():
    """The diff lists application lines only (counting the rest) and the retention paths."""
    text = _text(render.diff_view(STATUS["lastDiff"]))
    assert "app.py:35" in text
    assert "__init__.py:246" not in text
    assert "1 line in libraries or memwatch not shown" in text
    assert "app.SESSIONS [item]" in text
    assert "95%" in text
    assert "grown container: app.CACHE (dict): +1,200 items, +1.2 mb of str, bytes" in text


def test_brackets_in_names_are_text_not_markup():
    """A type named like rich markup (`[bold]`, `list[int]`) prints as it is."""
    details = [{"what": "app.Box[bold]", "+": 1, "-": 0, "size": "1 kb"}]
    text = _text(render.diff_view({"change": {"details": details}}))
    assert "app.Box[bold]" in text


@pytest.mark.parametrize(
    ("path", "application"),
    [
        ("/srv/app/views.py", True),
        ("flask_app.py", True),
        ("/venv/lib/python3.11/site-packages/flask/app.py", False),
        ("/usr/lib/python3/dist-packages/yaml/__init__.py", False),
        ("/usr/lib/python3.12/logging/__init__.py", False),
        ("/root/.pyenv/versions/3.13.1/lib/python3.13t/json/decoder.py", False),
        ("C:\\Python311\\Lib\\python3.11\\json\\decoder.py", True),  # not a POSIX stdlib layout
        ("<frozen importlib._bootstrap>", False),
        ("/work/repo/packages/memwatch/src/memwatch/census.py", False),
        ("/work/repo/packages/memwatch-flask/src/memwatch_flask/__init__.py", False),
        ("/work/repo/src/myapp/models.py", True),
    ],
)
def test_is_application_file(path, application):
    """Libraries, the standard library and memwatch's own source are not application code."""
    assert render.is_application_file(path) is application


@given(st.lists(st.floats(0, 1e12), max_size=100), st.integers(1, 60))
def test_sparkline_is_bounded_and_ordered(values, width):
    """A sparkline has one block per shown value, and a higher value never gets a lower block."""
    line = render.sparkline(values, width)
    shown = values[-width:]
    assert len(line) == len(shown)
    pairs = sorted(zip(shown, line, strict=True))
    assert [block for _, block in pairs] == sorted(block for _, block in pairs)


def _prune(body, keep):
    if isinstance(body, dict):
        return {k: _prune(v, keep) for i, (k, v) in enumerate(body.items()) if keep(i)}
    return body


@given(st.integers(0, 2**16))
def test_views_tolerate_absent_keys(seed):
    """Any key of a status or profile may be missing: every view still renders."""
    status = _prune(json.loads(json.dumps(STATUS)), lambda i: (seed >> (i % 16)) & 1)
    for view in (render.status_view, render.reading_line):
        _text(view(status))
    _text(render.diff_view(status.get("lastDiff", {})))
    profile = {**status, "id": "x", "state": "complete"}
    _text(render.profile_view(profile))
    _text(render.profiles_table([profile, {}]))
    _text(render.gc_view(status))


def test_a_sample_before_any_stats_event_shows_no_zero_baseline():
    """A first sample with no stats event yet says the baseline is not estimated, not 0 bytes."""
    status = {
        **STATUS,
        "watcher": {"probe": "rss", "samples": 1, "heap_bytes": 26 * 1024 * 1024},
        "lastGC": {"timestamp": "", "estimated_base": 0},
    }
    text = _text(render.reading_line(status))
    assert "26 mb" in text
    assert "not estimated yet" in text
    assert "0 bytes" not in text
