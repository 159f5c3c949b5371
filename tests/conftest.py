"""Shared test setup: one BLAS thread, hypothesis profiles, and a fixed seed for the package's
generator."""

import os

# NOTE: the tests multiply small matrices, where BLAS threads only add overhead, and on a shared
# machine a multi-threaded OpenBLAS under contention runs up to 50x slower. Must precede numpy
# (pytest imports this file before any test module imports numpy).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import tinygrad_lite as tg  # noqa: E402

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
