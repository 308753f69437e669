"""The tracing window: it starts and stops tracemalloc, and names application lines."""

from __future__ import annotations

import logging
import sys
import textwrap
import tracemalloc
import types
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch import tracing
from memwatch.tracing import FrameClassifier, TracingWindow, default_classifier, group_sites

if TYPE_CHECKING:
    from collections.abc import Iterator

_APP = textwrap.dedent(
    """
    import logging

    KEPT = []

    def allocate(n):
        for i in range(n):
            KEPT.append(bytearray(1000))

    def loggers(n):
        for i in range(n):
            KEPT.append(logging.getLogger(f"tracing-test.{i}"))
    """
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[types.ModuleType]:
    """An application module in a real file outside every library directory."""
    path = tmp_path / "tracing_app.py"
    path.write_text(_APP)
    module = types.ModuleType("tracing_app")
    module.__file__ = str(path)
    exec(compile(_APP, str(path), "exec"), module.__dict__)  # noqa: S102 - our own source
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("tracing-test"):
            del logging.root.manager.loggerDict[name]


@pytest.fixture(autouse=True)
def _not_tracing() -> Iterator[None]:
    """Each test starts and ends with tracemalloc off."""
    tracemalloc.stop()
    yield
    tracemalloc.stop()


def test_window_starts_and_stops_tracing(app: types.ModuleType) -> None:
    """A window started tracing, names the application line, and stops tracing when closed."""
    with TracingWindow() as window:
        assert tracemalloc.is_tracing()
        assert window.started_tracing
        app.allocate(200)
        sites = window.sites()
    assert not tracemalloc.is_tracing()
    top = sites[0]
    assert top.file == app.__file__
    assert top.line == 8
    assert top.library == ""
    assert top.count >= 200
    assert top.size_bytes >= 200 * 1000


def test_allocation_inside_a_library_keeps_the_library_frame(app: types.ModuleType) -> None:
    """``logging.getLogger`` called from the app is charged to the app's line, library beside."""
    with TracingWindow() as window:
        app.loggers(100)
        sites = window.sites(limit=50)
    # Under coverage its tracer's own allocations are charged to other app lines too.
    ours = max((site for site in sites if site.file == app.__file__), key=lambda s: s.size_bytes)
    assert ours.line == 12
    assert ours.library.startswith(str(Path("logging", "__init__.py:")))
    package = str(Path(tracing.__file__).parent)
    assert not any(site.file.startswith((package, "<")) for site in sites)


def test_window_leaves_someone_elses_tracing_on(app: types.ModuleType) -> None:
    """Tracing started before the window stays on, and sites cover the window only."""
    tracemalloc.start(10)
    early = [bytearray(5000) for _ in range(50)]
    with TracingWindow() as window:
        assert not window.started_tracing
        app.allocate(30)
        sites = window.sites()
    assert tracemalloc.is_tracing()
    assert sites[0].file == app.__file__
    assert sites[0].size_bytes < 50 * 5000
    del early


def test_overlapping_windows_stop_tracing_after_the_last(app: types.ModuleType) -> None:
    """Of two overlapping windows, only the last to close stops tracing."""
    first = TracingWindow().open()
    second = TracingWindow().open()
    assert second.started_tracing
    first.close()
    assert tracemalloc.is_tracing()
    app.allocate(10)
    assert second.sites()[0].file == app.__file__
    second.close()
    assert not tracemalloc.is_tracing()


def test_a_window_opens_once() -> None:
    """Opening a window twice is an error; closing twice is harmless."""
    window = TracingWindow().open()
    with pytest.raises(RuntimeError, match="opens once"):
        window.open()
    window.close()
    window.close()
    assert window.sites() == ()


def test_classifier_knows_libraries_and_memwatch() -> None:
    """The stdlib, site-packages, memwatch, cattrs and generated code are not application code."""
    classifier = default_classifier()
    assert not classifier.is_app(logging.__file__)
    assert not classifier.is_app(pytest.__file__)
    import cattrs  # noqa: PLC0415 - only to find where it is installed

    import memwatch  # noqa: PLC0415

    assert not classifier.is_app(cattrs.__file__)
    assert not classifier.is_app(memwatch.__file__)
    assert not classifier.is_app("<cattrs generated structure memwatch.models.Profile>")
    assert classifier.is_app(str(Path("/srv/app/app.py").resolve()))
    assert classifier.short(logging.__file__) == str(Path("logging", "__init__.py"))


_CLASSIFIER = FrameClassifier(library_dirs=("/lib",), own_dirs=("/own",))
_frame = st.tuples(
    st.sampled_from(["/app/a.py", "/app/b.py", "/lib/x.py", "/own/m.py", "<gen>"]),
    st.integers(1, 5),
)


@given(
    st.lists(
        st.tuples(
            st.lists(_frame, min_size=1, max_size=6), st.integers(1, 10_000), st.integers(1, 50)
        ),
        max_size=30,
    )
)
def test_grouping_properties(traces: list) -> None:  # type: ignore[type-arg]
    """Grouped bytes equal the bytes of the traces kept; own code never appears."""
    sites = group_sites(traces, _CLASSIFIER, limit=1000)
    kept = [
        (frames, size) for frames, size, _ in traces if not any(f == "/own/m.py" for f, _ in frames)
    ]
    assert sum(site.size_bytes for site in sites) == sum(size for _, size in kept)
    assert [site.size_bytes for site in sites] == sorted(
        (site.size_bytes for site in sites), reverse=True
    )
    assert len({(site.file, site.line) for site in sites}) == len(sites)
    for site in sites:
        assert site.file != "/own/m.py"
        if site.library:
            assert not site.library.startswith("/app")


def test_reading_counts_python_and_extension_domains(app: types.ModuleType) -> None:
    """Traced bytes cover what the window allocated; numpy's buffers count as another domain."""
    numpy = pytest.importorskip("numpy")
    with TracingWindow() as window:
        app.allocate(100)
        kept = [numpy.ones(10_000) for _ in range(10)]
        reading = window.read()
    assert reading.traced_bytes >= 100 * 1000
    assert reading.foreign_bytes >= 10 * 80_000
    del kept


def test_finish_reads_then_stops_tracing(app: types.ModuleType) -> None:
    """finish() returns the window's sites and leaves tracing off, as a capture's end does."""
    window = TracingWindow().open()
    app.allocate(50)
    reading = window.finish()
    assert not tracemalloc.is_tracing()
    assert reading.sites[0].file == app.__file__
    assert window.finish().sites == ()
