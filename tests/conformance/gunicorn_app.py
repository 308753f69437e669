"""The Flask conformance app as a module gunicorn can load: ``gunicorn_app:app``."""

from __future__ import annotations

import flask

from memwatch.auth import allow_all, bearer_token
from memwatch_flask import Memwatch

app = flask.Flask(__name__)
Memwatch(app, auth=allow_all())

# Behind a token nobody sends: what an unauthenticated client can make a worker do.
token_app = flask.Flask(__name__ + ".token")
Memwatch(token_app, auth=bearer_token("gunicorn-token"))
