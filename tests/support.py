"""Helpers shared by test modules (plain module, imported as ``tests.support`` or ``support``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
REQUIRE_ALL = os.environ.get("MLFLOW_POLICY_REQUIRE_ALL") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (MLFLOW_POLICY_REQUIRE_ALL=1) a missing service is a failure."""
    if REQUIRE_ALL:
        pytest.fail(f"required by CI but unavailable: {reason}")
    pytest.skip(reason)
