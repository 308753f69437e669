"""The conformance suite: memwatch's HTTP contract, checked over real HTTP against any adapter.

Subclass :class:`ConformanceSuite` in a test module, say how to build an app
with memwatch mounted and which server runs it; pytest collects the subclass
(its name starts with ``Test``) and runs every check against it::

    from memwatch.testing import ConformanceSuite, healthy, leak

    class TestBottle(ConformanceSuite):
        server = "waitress"

        def make_app(self, **memwatch):
            app = bottle.Bottle()
            app.route("/leak")(leak)
            app.route("/healthy")(healthy)
            return MemwatchMiddleware(app, **memwatch)

``make_app`` receives memwatch's own keyword arguments (``auth``, ``watcher``,
and ``prefix`` when a check wants another one) and passes them through. Every
body is validated against the JSON Schema memwatch ships for it
(:mod:`memwatch.testing.contract`). The checks live in the mixins of
:mod:`memwatch.testing.checks` and :mod:`memwatch.testing.checks_process`.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
from typing import TYPE_CHECKING, Any

import httpx

from memwatch.auth import allow_all, bearer_token, read_only
from memwatch.testing.apps import LEAKED
from memwatch.testing.checks import ContractChecks
from memwatch.testing.checks_dashboard import DashboardChecks
from memwatch.testing.checks_process import ProcessChecks
from memwatch.testing.servers import SERVERS, Running, Served, gunicorn
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from memwatch.auth import Authorizer

__all__ = ["AUTH_HEADERS", "TOKEN", "ConformanceSuite", "memwatch_options"]

TOKEN = "conformance-token"
"""The bearer token memwatch is mounted behind by default (``serve(auth="token")``)."""

AUTH_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
"""The headers that carry :data:`~memwatch.testing.suite.TOKEN`."""

_AUTH: Mapping[str, Callable[[], Authorizer]] = {
    "token": lambda: bearer_token(TOKEN),
    "read_only": lambda: read_only(bearer_token(TOKEN)),
    "allow_all": allow_all,
}
_QUIET_WATCHER = {"sample_interval": 0.5, "auto_capture": False}
_SUITE_VARIABLE = "MEMWATCH_TESTING_SUITE"
_OPTIONS_VARIABLE = "MEMWATCH_TESTING_OPTIONS"


def memwatch_options(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``make_app`` from a spec that JSON can carry to a subprocess.

    Args:
        spec: ``{"auth": "token" | "read_only" | "allow_all" | an authorizer,
            "watcher": {Watcher options}, "prefix": "/..."}``; ``prefix`` is optional.
    """
    auth = spec["auth"]
    options: dict[str, Any] = {
        "auth": _AUTH[auth]() if isinstance(auth, str) else auth,
        "watcher": Watcher(**spec["watcher"]),
    }
    if "prefix" in spec:
        options["prefix"] = spec["prefix"]
    return options


class ConformanceSuite(ContractChecks, DashboardChecks, ProcessChecks):
    """Every conformance check; subclass it, implement :meth:`make_app`, choose a server.

    Attributes:
        server: The runner, one of :data:`memwatch.testing.servers.SERVERS`:
            ``"werkzeug"``, ``"waitress"``, ``"uvicorn"``, ``"tornado"`` serve
            in this process; ``"gunicorn"`` forks a master and one worker that
            import the subclass's module to build the app there.
        gunicorn_worker_class: gunicorn's ``--worker-class`` (for an ASGI app,
            ``"uvicorn.workers.UvicornWorker"``).
        event_loop: True when the app's memwatch requests run on the server's
            event loop thread: censuses and collections must then run off it.
        expect_continue_by_server: True when the server itself answers
            ``Expect: 100-continue`` before the app runs, which skips the check
            that memwatch never asks for a body; ``None`` (the default) knows it
            of the runners: werkzeug, waitress and gunicorn's own workers do.
    """

    server: str = "werkzeug"
    gunicorn_worker_class: str = "sync"
    event_loop: bool = False
    expect_continue_by_server: bool | None = None

    def make_app(self, **memwatch: Any) -> Any:
        """Build the app to serve: memwatch mounted with ``memwatch``, plus /leak and /healthy."""
        raise NotImplementedError

    # -- pytest's xunit hooks, so that the kit needs no fixtures (nor pytest at import) --

    def setup_method(self, _method: object) -> None:
        """Open what a check's servers and clients are closed by."""
        self._stack = contextlib.ExitStack()

    def teardown_method(self, _method: object) -> None:
        """Stop every server and watcher the check started; forget what /leak kept."""
        self._stack.close()
        LEAKED.clear()

    @property
    def server_answers_continue(self) -> bool:
        """Whether the server sends ``100 Continue`` itself (see ``expect_continue_by_server``)."""
        if self.expect_continue_by_server is not None:
            return self.expect_continue_by_server
        if self.server == "gunicorn":
            return self.gunicorn_worker_class in ("sync", "gthread")
        return self.server in ("werkzeug", "waitress")

    @property
    def in_process(self) -> bool:
        """True when the app runs in this process, so a check may reach into its watcher."""
        return self.server != "gunicorn"

    def require_in_process(self) -> None:
        """Skip the calling check when the app runs in another process."""
        if not self.in_process:
            import pytest  # noqa: PLC0415 - only a check that can be skipped needs pytest

            pytest.skip(f"needs the app in this process; {self.server} serves it in another")

    def serve(
        self,
        auth: str | Authorizer = "token",
        *,
        prefix: str | None = None,
        watcher: Mapping[str, Any] | None = None,
    ) -> Served:
        """Build the app with these memwatch options and serve it until the check ends.

        Args:
            auth: ``"token"`` (:data:`~memwatch.testing.suite.TOKEN`), ``"read_only"``,
                ``"allow_all"``, or an authorizer (in-process servers only).
            prefix: memwatch's prefix; ``None`` leaves the adapter's default.
            watcher: :class:`~memwatch.watcher.Watcher` options; by default a
                quiet watcher of the check's own (no auto-capture).
        """
        spec: dict[str, Any] = {"auth": auth, "watcher": dict(watcher or _QUIET_WATCHER)}
        if prefix is not None:
            spec["prefix"] = prefix
        if self.in_process:
            running, served_watcher = self._serve_here(spec)
        else:
            running, served_watcher = self._serve_in_gunicorn(spec), None
        client = self._stack.enter_context(httpx.Client(base_url=running.base_url, timeout=30))
        pid = running.pid
        if pid is None:
            probe = client.get((prefix or "/ah") + "/memoryProfile/status")
            pid = int(probe.headers["Memwatch-Pid"])
        return Served(client, running.base_url, running.thread, pid, served_watcher)

    def _serve_here(self, spec: dict[str, Any]) -> tuple[Running, Watcher]:
        options = memwatch_options(spec)
        watcher: Watcher = options["watcher"]
        self._stack.callback(watcher.stop)
        running = self._stack.enter_context(SERVERS[self.server](self.make_app(**options)))
        return running, watcher

    def _serve_in_gunicorn(self, spec: dict[str, Any]) -> Running:
        if not isinstance(spec["auth"], str):
            self.require_in_process()
        env = {
            _SUITE_VARIABLE: f"{inspect.getfile(type(self))}::{type(self).__qualname__}",
            _OPTIONS_VARIABLE: json.dumps(spec),
        }
        runner = gunicorn(
            "memwatch.testing.child:app()", env=env, worker_class=self.gunicorn_worker_class
        )
        return self._stack.enter_context(runner)


def _suite_in_child() -> tuple[ConformanceSuite, dict[str, Any]]:
    """The suite and options a gunicorn worker was started for (see :mod:`.child`)."""
    import importlib.util  # noqa: PLC0415 - only the child process loads a test module

    path, _, qualname = os.environ[_SUITE_VARIABLE].partition("::")
    module_spec = importlib.util.spec_from_file_location("memwatch_testing_suite", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load the test module {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    suite: ConformanceSuite = getattr(module, qualname)()
    return suite, memwatch_options(json.loads(os.environ[_OPTIONS_VARIABLE]))
