"""A Flask app with memwatch mounted, as a module gunicorn can load: ``gunicorn_app:app``."""

from __future__ import annotations

import flask

from memwatch.auth import allow_all
from memwatch_flask import Memwatch

app = flask.Flask(__name__)
Memwatch(app, auth=allow_all())
