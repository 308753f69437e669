"""A single-file Django project with DEBUG=True's query log leak, and memwatch mounted to find it.

Run it under any of Django's servers (tracemalloc on, so diffs also name the line)::

    export MEMWATCH_TOKEN=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    python -X tracemalloc=1 examples/django_app.py runserver 127.0.0.1:8000 --noreload
    gunicorn --chdir examples django_app:application --bind 127.0.0.1:8000
    uvicorn --app-dir examples django_app:asgi_application --port 8000

then drive ``/order`` (each order queues an audit record) and read
``/ah/memoryProfile/status`` with ``Authorization: Bearer $MEMWATCH_TOKEN``.

The leak is Django's, not this code's: with ``DEBUG = True`` every query is
appended to its connection's ``queries_log``. Django clears that log when a
request starts, so views do not leak; a thread outside the request cycle (this
audit writer, a scheduler, a queue consumer, a management command) keeps up to
9,000 queries per connection, SQL text included, for as long as the thread
lives. memwatch reports the heap's growth (``lastLeak``), and a profile taken
around 3,000 orders names what grew: by type, ``collections.deque`` among the
first entries (the log itself; its entries are dicts of strings, which the
collector does not track), and by line, with tracemalloc on, Django's
``db/backends/sqlite3/operations.py:193`` building the logged SQL (5.85 mb in
2,900 blocks here) and ``db/backends/utils.py`` appending it to the log.
``DEBUG = False`` makes it go away.
"""

from __future__ import annotations

import os
import queue
import sys
import threading

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from memwatch.auth import bearer_token

if not os.environ.get("MEMWATCH_TOKEN"):
    sys.exit("MEMWATCH_TOKEN is not set: export MEMWATCH_TOKEN=<a long random secret> first.")

settings.configure(
    DEBUG=True,  # the leak: every query is logged on its connection
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="an example, not a secret",  # noqa: S106 - the example has no sessions to sign
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["memwatch_django"],  # starts memwatch's watcher with Django
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
application = get_wsgi_application()  # django.setup() runs here
asgi_application = get_asgi_application()

from memwatch_django import memwatch_urls  # noqa: E402 - Django's apps must be set up first

AUDIT: queue.Queue[str] = queue.Queue()
RECORD = "x" * 2048  # what each audit record carries into its SQL


def audit_writer() -> None:
    """Write queued audit records, outside any request: Django never clears this thread's log."""
    while True:
        record = AUDIT.get()
        with connection.cursor() as cursor:
            cursor.execute("SELECT length(%s)", [record])


def order(_request: HttpRequest) -> HttpResponse:
    """Take an order; its audit record is written by the audit thread."""
    AUDIT.put(RECORD)
    return HttpResponse("ordered\n")


urlpatterns = [
    path("order", order),
    path("ah/", include(memwatch_urls(auth=bearer_token(os.environ["MEMWATCH_TOKEN"])))),
]

threading.Thread(target=audit_writer, name="audit-writer", daemon=True).start()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
