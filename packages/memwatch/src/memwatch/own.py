"""What is memwatch's own: one definition for every report that leaves memwatch out.

A census, a retention path or a grown container must show the application, not
the tool watching it. By dotted name (a type's ``module.qualname``, a root's
``module.global``):

- **memwatch's** names are the core's (``memwatch.``) and its adapters'
  (``memwatch_flask.`` ...), except the adapter test kit's apps
  (``memwatch.testing.``), which stand in for an application in tests and so
  are counted like one;
- **its dependencies'** are cattrs' and attrs': what they hold for memwatch
  (generated hooks, their caches) is memwatch's work, though an application's
  own attrs classes are its own (they are named by their own modules).

A census leaves out memwatch's types only; retention paths and grown
containers also drop chains rooted in, or passing through, the dependencies.
"""

from __future__ import annotations

__all__ = ["APP_STAND_INS", "is_memwatch_name", "is_own_name"]

_MEMWATCH = ("memwatch.", "memwatch_")
_DEPENDENCIES = ("cattrs.", "cattr.", "attrs.", "attr.")

APP_STAND_INS = "memwatch.testing."
"""Names under this prefix are the test kit's apps: counted as the application."""


def is_memwatch_name(name: str) -> bool:
    """Whether a dotted ``name`` is memwatch's or an adapter's (not the test kit's apps)."""
    return name.startswith(_MEMWATCH) and not name.startswith(APP_STAND_INS)


def is_own_name(name: str) -> bool:
    """Whether a dotted ``name`` is memwatch's, an adapter's, or cattrs' or attrs' (see above)."""
    return is_memwatch_name(name) or name.startswith(_DEPENDENCIES)
