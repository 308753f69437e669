"""Shared fixtures and the Hypothesis profiles (HYPOTHESIS_PROFILE=fast|ci|thorough)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("fast", max_examples=20, deadline=None)
# CI is derandomized: a property that passed on main passes on every re-run, so
# a rare counterexample is found by the thorough profile, not by a random CI run.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
