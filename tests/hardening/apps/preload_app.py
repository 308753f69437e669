"""A Flask app for ``gunicorn --preload``: the master watches, collects and profiles before forking.

What the master did is written to ``$HARDENING_MASTER_FILE`` so the test can
check that no worker reports it as its own.
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import flask

from memwatch.auth import allow_all
from memwatch.watcher import default_watcher
from memwatch_flask import Memwatch

MASTER_COLLECTIONS = 3000

app = flask.Flask(__name__)
Memwatch(app, auth=allow_all())

_watcher = default_watcher()
for _ in range(MASTER_COLLECTIONS):
    gc.collect(0)
_profile = _watcher.start_profile()
_status = _watcher.status()
Path(os.environ["HARDENING_MASTER_FILE"]).write_text(
    json.dumps(
        {"pid": os.getpid(), "collections": _status.watcher.collections, "profile": _profile.id}
    ),
    encoding="utf-8",
)
