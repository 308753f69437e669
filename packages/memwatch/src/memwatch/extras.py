"""The one way an optional integration says it cannot work here: its extra is not installed."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    """An integration's third-party dependency is missing; the message names the extra to install.

    Attributes:
        extra: The extra that installs it, e.g. ``"prometheus"`` for ``memwatch[prometheus]``.
    """

    def __init__(self, module: str, extra: str) -> None:
        """Name the missing module and the extra that brings it."""
        super().__init__(
            f"{module} is not installed; install it with: pip install 'memwatch[{extra}]'",
            name=module,
        )
        self.extra = extra


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming ``extra``.

    Raises:
        MissingExtraError: ``module`` cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra) from None
