from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI runs a fixed, bounded set of examples so that the suite's time and verdict repeat.
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") or os.environ.get(
    "MLFLOW_POLICY_REQUIRE_ALL") else "dev")
