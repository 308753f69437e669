"""schemathesis against memwatch's FastAPI OpenAPI document, over real HTTP.

schemathesis generates requests from ``/openapi.json`` (valid and invalid
ones) and checks every answer: no 5xx, a status and a body the document
declares, the declared content type. Examples are bounded by the Hypothesis
profile (``HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("memwatch_fastapi")

from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the skips

from memwatch.auth import allow_all  # noqa: E402
from memwatch.watcher import Watcher  # noqa: E402


@pytest.fixture
def fastapi_schema(serve):
    """The OpenAPI document of the FastAPI app with memwatch, served by uvicorn."""
    with Watcher(sample_interval=0.5, auto_capture=False) as watcher:
        served = serve(auth=allow_all(), watcher=watcher)
        yield schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")


@pytest.mark.parametrize("adapter", ["fastapi"])
def test_openapi_document_holds(adapter, fastapi_schema):  # noqa: ARG001 - chooses serve's adapter
    """Every generated request gets an answer the OpenAPI document declares, and never a 5xx."""
    # Driven by hand rather than by schemathesis' pytest plugin, whose subtests break on pytest 9.
    operations = [result.ok() for result in fastapi_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/ah/memoryProfile/status", "/ah/memory/gc"}
    calls = {"n": 0}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(suppress_health_check=list(HealthCheck), deadline=None)
        def check(case):
            case.call_and_validate()
            calls["n"] += 1

        check()
    assert calls["n"] >= len(operations)
