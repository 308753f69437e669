"""Run a function in a forked child and get what it returned: for the fork-safety tests."""

from __future__ import annotations

import json
import os
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def _save_coverage_in_child() -> None:
    """Save what coverage measured in this forked child: ``os._exit`` skips its atexit save.

    Coverage gives a forked child its own data file, so ``coverage combine``
    adds the fork hooks' lines to the parent's. Without coverage, nothing to do.
    """
    try:
        import coverage  # noqa: PLC0415 - only when the tests run under coverage
    except ImportError:
        return
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.stop()
        cov.save()


def run_in_fork(report: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``report`` in a forked child and return what it returned there (as JSON)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # 3.12+ warns about forking a process with threads; the child only reports and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.close(read_end)
            os.write(write_end, json.dumps(report()).encode())
            code = 0
        finally:
            try:
                _save_coverage_in_child()
            finally:
                os._exit(code)  # never back into pytest, whatever happened
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = json.loads(pipe.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    answer["pid"] = pid
    return answer
