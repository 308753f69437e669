"""The app a gunicorn worker serves for :class:`memwatch.testing.ConformanceSuite`.

``gunicorn 'memwatch.testing.child:app()'`` loads the test module named by
``MEMWATCH_TESTING_SUITE`` (``path::ClassName``) and builds the app with the
memwatch options of ``MEMWATCH_TESTING_OPTIONS``, as the suite set them.
"""

from __future__ import annotations

from memwatch.testing.suite import _suite_in_child

__all__ = ["app"]


def app() -> object:
    """Build the app, in the worker's process, the way the suite asked for it."""
    suite, options = _suite_in_child()
    return suite.make_app(**options)
