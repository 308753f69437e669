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

from hypothesis import HealthCheck, settings  # noqa: E402 - after the skips

from memwatch.auth import allow_all  # noqa: E402
from memwatch.watcher import Watcher  # noqa: E402


@pytest.fixture
def fastapi_schema(request):
    """The OpenAPI document of the FastAPI app with memwatch, served by uvicorn."""
    servers = request.getfixturevalue("servers_module")
    build, run = servers.BUILDERS["fastapi"]
    with (
        Watcher(sample_interval=0.5, auto_capture=False) as watcher,
        run(build(auth=allow_all(), watcher=watcher)) as (base_url, _thread),
    ):
        yield schemathesis.openapi.from_url(f"{base_url}/openapi.json")


@pytest.fixture
def servers_module():
    """The conformance suite's servers (loaded by this directory's conftest)."""
    import sys  # noqa: PLC0415

    return sys.modules["memwatch_conformance_servers"]


schema = schemathesis.pytest.from_fixture("fastapi_schema")


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_openapi_document_holds(case):
    """Every generated request gets an answer the OpenAPI document declares, and never a 5xx."""
    case.call_and_validate()
