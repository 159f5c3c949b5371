"""Shared test setup: hypothesis profiles and a fixed seed for the package generator."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_lite as tg

# NOTE: "ci" is the default: no deadline (shared, noisy machines) and a fixed example budget, so the
# suite's run time is bounded and the same on every run. "dev" explores more; "quick" for iteration.
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", deadline=None, max_examples=5, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same package seed, so random draws are reproducible."""
    tg.manual_seed(0)
    np.random.seed(0)
    yield
