"""Run every documented route and error against a real, in-process MemwatchAPI.

Used by ``http_reference.check`` at build time: the documented success status
and body schema of each route, and each documented error status, must be what
the code actually answers. Returns messages; an empty list means all agree.
"""

from __future__ import annotations

import os
from typing import Any

from jsonschema import Draft202012Validator

from memwatch.auth import allow_all, bearer_token, read_only
from memwatch.dashboard import FILES
from memwatch.http import MemwatchAPI, Request, Response
from memwatch.schemas import load_schema
from memwatch.watcher import Watcher

# The order routes are run in: a profile must exist before it is read, ended or deleted.
ORDER = (
    ("GET", "/memoryProfile/status", ""),
    ("POST", "/memoryProfile", ""),
    ("POST", "/memoryProfile/{id}/end", ""),
    ("GET", "/memoryProfile/{id}", ""),
    ("GET", "/memory", ""),
    ("GET", "/memory", "details=true"),
    ("POST", "/memory/gc", ""),
    ("DELETE", "/memoryProfile/{id}", ""),
    ("GET", "/workers", ""),
    ("GET", "/metrics", ""),
    ("GET", "/memory/samples", ""),
    ("GET", "/", ""),
    *(("GET", file.path, "") for file in FILES),
)


def _validate(body: Any, schema_name: str) -> list[str]:
    validator = Draft202012Validator(
        load_schema(schema_name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [error.message for error in validator.iter_errors(body)]


def _common(response: Response, what: str) -> list[str]:
    problems = []
    if response.get_header("Memwatch-Pid") != str(os.getpid()):
        problems.append(f"{what}: no Memwatch-Pid header naming this process")
    if response.get_header("Cache-Control") != "no-store":
        problems.append(f"{what}: no 'Cache-Control: no-store'")
    return problems


def exercise(
    routes: dict[tuple[str, str], dict[str, Any]], errors: set[int], prefix: str
) -> list[str]:
    """Run the documented routes in a sensible order and provoke the documented errors."""
    messages: list[str] = []
    watcher = Watcher(background=False, auto_capture=False)
    watcher.start()
    try:
        api = MemwatchAPI(auth=allow_all(), watcher=watcher, prefix=prefix)
        profile_id = ""
        ran: set[tuple[str, str]] = set()
        for method, template, query in ORDER:
            key = (method, prefix + template)
            doc = routes.get(key)
            if doc is None:
                continue
            ran.add(key)
            path = prefix + template.replace("{id}", profile_id)
            response = api.handle(Request(method, path, query=query))
            what = f"{method} {path}{'?' + query if query else ''}"
            messages += _common(response, what)
            if response.status != doc["status"]:
                messages.append(f"{what} answered {response.status}, documented {doc['status']}")
                continue
            if not doc["bodies"]:
                continue  # a text body (the metrics' exposition, the dashboard's files)
            body = response.json()
            if template == "/memoryProfile":
                profile_id = body["id"]
            failures = {name: _validate(body, name) for name in doc["bodies"]}
            if doc["bodies"] and all(failures.values()):
                messages.append(f"{what}: body matches none of {doc['bodies']}: {failures}")
        for method, path in sorted(set(routes) - ran):
            messages.append(f"no live check knows how to run {method} {path}")
        messages += _errors(api, watcher, errors, prefix)
    finally:
        watcher.stop()
    return messages


def _errors(api: MemwatchAPI, watcher: Watcher, errors: set[int], prefix: str) -> list[str]:
    locked = MemwatchAPI(auth=bearer_token("docs-secret"), watcher=watcher, prefix=prefix)
    readonly = MemwatchAPI(auth=read_only(allow_all()), watcher=watcher, prefix=prefix)
    broken = MemwatchAPI(auth=lambda _request: None, watcher=watcher, prefix=prefix)

    def conflict() -> Response:
        first = api.handle(Request("POST", f"{prefix}/memoryProfile"))
        second = api.handle(Request("POST", f"{prefix}/memoryProfile"))
        api.handle(Request("DELETE", f"{prefix}/memoryProfile/{first.json()['id']}"))
        return second

    provoke = {
        400: lambda: api.handle(Request("GET", f"{prefix}/memory", query="details=maybe")),
        401: lambda: locked.handle(Request("GET", f"{prefix}/memoryProfile/status")),
        403: lambda: readonly.handle(Request("POST", f"{prefix}/memory/gc")),
        404: lambda: api.handle(Request("GET", f"{prefix}/memoryProfile/no-such-id")),
        405: lambda: api.handle(Request("PUT", f"{prefix}/memoryProfile/status")),
        409: conflict,
        500: lambda: broken.handle(Request("GET", f"{prefix}/memoryProfile/status")),
    }
    messages = []
    for status in sorted(errors):
        if status in (429, 501, 503):
            # 429 needs two censuses racing, 503 a second worker that does not answer, 501
            # a build without prometheus_client: the conformance suite and test_http cover them.
            continue
        make = provoke.get(status)
        if make is None:
            messages.append(f"no live check knows how to provoke error {status}")
            continue
        response = make()
        what = f"error {status}"
        messages += _common(response, what)
        if response.status != status:
            messages.append(f"{what}: provoked, but the API answered {response.status}")
        elif response.content_type != "application/problem+json":
            messages.append(f"{what}: Content-Type is {response.content_type}")
        else:
            messages += [f"{what}: {m}" for m in _validate(response.json(), "problem")]
    return messages
