"""How memwatch-django mounts: its app config, both include() forms, the example under runserver."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from memwatch.testing.contract import assert_problem, assert_valid

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "django_app.py"

# A project in a child process: INSTALLED_APPS and the URLconf vary per test.
PROJECT = """
import sys, django
from django.conf import settings
from django.urls import include, path
from memwatch.auth import allow_all

settings.configure(ALLOWED_HOSTS=["*"], SECRET_KEY="x", ROOT_URLCONF=__name__,
                   INSTALLED_APPS={apps}, MIDDLEWARE=["django.middleware.common.CommonMiddleware"])
django.setup()
import memwatch.watcher
default = memwatch.watcher._default.watcher
print("watching at setup:", default is not None and default.running)
from memwatch_django import memwatch_urls
from django.http import HttpResponse
urlpatterns = [path("{include}", include(memwatch_urls(auth=allow_all()))),
               path("ahead", lambda request: HttpResponse("the app's"))]
from django.test import Client
client = Client()
for path in sys.argv[1:]:
    response = client.get(path, HTTP_HOST="localhost")
    print(path, response.status_code, response.get("Content-Type"), response.get("Location"))
"""


def _project(apps: list[str], include: str, *paths: str) -> list[str]:
    code = PROJECT.format(apps=apps, include=include)
    result = subprocess.run(
        [sys.executable, "-c", code, *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_app_config_starts_the_watcher_at_setup():
    """With memwatch_django installed, the default watcher runs once django.setup() returns."""
    assert _project(["memwatch_django"], "ah/")[0] == "watching at setup: True"
    assert _project([], "ah/")[0] == "watching at setup: False"


def test_include_with_a_slash_serves_the_api_and_leaves_the_bare_prefix_to_django():
    """Under path("ah/", ...) the API answers, and /ah is Django's redirect to /ah/."""
    lines = _project([], "ah/", "/ah/memoryProfile/status", "/ah", "/ahead")
    assert lines[1] == "/ah/memoryProfile/status 200 application/json None"
    assert lines[2] == "/ah 301 text/html; charset=utf-8 /ah/"
    assert lines[3] == "/ahead 200 text/html; charset=utf-8 None"


def test_include_without_a_slash_owns_the_bare_prefix_and_not_its_lookalikes():
    """Under path("ah", ...) /ah is memwatch's 404 problem and /ahead Django's own 404."""
    lines = _project([], "ah", "/ah", "/ahead", "/ah/memoryProfile/status")
    assert lines[1] == "/ah 404 application/problem+json None"
    assert lines[2].startswith("/ahead 404 text/html")
    assert lines[3] == "/ah/memoryProfile/status 200 application/json None"


@pytest.mark.slow
def test_the_example_under_runserver_finds_the_query_log_growth():
    """examples/django_app.py under runserver answers the status and a profile over its traffic."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MEMWATCH_TOKEN": "example-token"}
    command = [sys.executable, str(EXAMPLE), "runserver", f"127.0.0.1:{port}", "--noreload"]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    auth = {"Authorization": "Bearer example-token"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    status = client.get("/ah/memoryProfile/status", headers=auth)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "runserver did not start"
                    time.sleep(0.2)
            assert assert_valid("status", status.content)["watcher"]["running"] is True
            unauthorized = client.post("/ah/memoryProfile")
            assert_problem(401, unauthorized.headers, unauthorized.content, pid=server.pid)
            for _ in range(50):
                client.get("/order")
            profile = client.post("/ah/memoryProfile", headers=auth).json()
            for _ in range(2000):
                assert client.get("/order").status_code == 200
            time.sleep(1)  # the audit thread drains its queue
            ended = client.post(f"/ah/memoryProfile/{profile['id']}/end", headers=auth)
            details = assert_valid("profile", ended.content)["lastDiff"]["change"]["details"]
            # The log's deque grew by a pointer per query: 2,000 queries, about 16 KB of it.
            grown = {d["what"]: d["size_bytes"] for d in details[:3]}
            assert grown.get("collections.deque", 0) >= 2000 * 8 * 0.9, details[:3]
    finally:
        server.terminate()
        server.wait(15)
