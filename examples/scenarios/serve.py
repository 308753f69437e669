"""Serve one scenario app with memwatch mounted (default settings), on 127.0.0.1.

    python examples/scenarios/serve.py response_cache --port 8001

memwatch answers loopback clients only. The server exits by itself after
``--max-seconds``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from memwatch.auth import loopback_only
from memwatch_flask import Memwatch

if TYPE_CHECKING:
    from types import ModuleType

HERE = Path(__file__).resolve().parent
SCENARIOS = (
    "response_cache",
    "lru_quotes",
    "logger_per_request",
    "listeners",
    "pending_jobs",
    "kept_exc_info",
    "numpy_arrays",
    "lxml_trees",
    "metrics_registry",
)


def load(name: str) -> ModuleType:
    """Import a scenario from its file under its own name (so types read ``name.Class``)."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no scenario {name!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    """Serve the scenario until ``--max-seconds`` have passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args()
    app = load(args.scenario).create_app()
    Memwatch(app, auth=loopback_only())
    threading.Timer(args.max_seconds, os._exit, args=(0,)).start()
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
