"""MemwatchAPI.problem: the public builder adapters use for errors their framework raises."""

from __future__ import annotations

import os

from memwatch.auth import allow_all
from memwatch.http import MemwatchAPI
from memwatch.testing.contract import assert_problem


def test_problem_is_a_valid_problem_with_memwatchs_headers():
    """problem() gives the same problem+json, headers and title as handle()'s own errors."""
    response = MemwatchAPI(auth=allow_all()).problem(503, "busy elsewhere", [("Retry-After", "2")])
    problem = assert_problem(503, response.headers, response.body, pid=os.getpid())
    assert problem["detail"] == "busy elsewhere"
    assert response.get_header("Retry-After") == "2"
    assert response.status == 503
