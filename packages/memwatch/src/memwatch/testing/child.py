"""The app a gunicorn worker serves for :class:`memwatch.testing.ConformanceSuite`.

``gunicorn memwatch.testing.child:app`` loads the test module named by
``MEMWATCH_TESTING_SUITE`` (``path::ClassName``) and builds the app with the
memwatch options of ``MEMWATCH_TESTING_OPTIONS``, as the suite set them.
"""

from __future__ import annotations

from memwatch.testing.suite import _suite_in_child

__all__ = ["app"]

_suite, _options = _suite_in_child()
app = _suite.make_app(**_options)
