"""The ``memwatch`` command: a memwatch API read from outside the process.

``memwatch status URL``, ``watch``, ``profile``, ``list``, ``show``,
``delete`` and ``gc``; ``memwatch --help`` lists them. The entry point is
:func:`memwatch.cli.main.main`; the printing lives in :mod:`memwatch.cli.render`
(the demo uses it too), the HTTP client in :mod:`memwatch.cli.client`.
"""
