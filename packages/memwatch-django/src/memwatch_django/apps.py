"""The Django app that starts memwatch's watcher when Django starts.

With ``"memwatch_django"`` in ``INSTALLED_APPS``, ``ready()`` starts the
process-wide :func:`memwatch.watcher.default_watcher` at ``django.setup()``:
under gunicorn, uvicorn or ``runserver``, detection and auto-capture run from
startup, not from the first request that loads the URLconf. In a forked worker
the watcher restarts on its own. A watcher passed to
:func:`memwatch_django.memwatch_urls` is started there; start it yourself to
watch from startup.
"""

from __future__ import annotations

from django.apps import AppConfig

from memwatch.watcher import default_watcher

__all__ = ["MemwatchConfig"]


class MemwatchConfig(AppConfig):
    """memwatch's app: it has no models; ``ready`` starts the default watcher."""

    name = "memwatch_django"
    verbose_name = "memwatch"

    def ready(self) -> None:
        """Start the process-wide watcher."""
        default_watcher()
