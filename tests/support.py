"""Helpers shared by test modules (plain module, imported as ``tests.support`` or ``support``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# reference data vendored into the repository, with its sources and licences (README there)
REFERENCE = REPO / "tests" / "reference"
REQUIRE_ALL = os.environ.get("MLFLOW_POLICY_REQUIRE_ALL") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (MLFLOW_POLICY_REQUIRE_ALL=1) a missing service is a failure."""
    if REQUIRE_ALL:
        pytest.fail(f"required by CI but unavailable: {reason}")
    pytest.skip(reason)


def report_per_jobs(argv: list[str], exit_code: int, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """``mlflow-policy ARGV -o FILE`` run with MLFLOW_POLICY_JOBS=1 and =2: the written
    report per setting (the caller forces the two-process path with its threshold)."""
    from mlflow_policy.cli import main

    reports = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv("MLFLOW_POLICY_JOBS", jobs)
        target = tmp_path / f"report-{jobs}"
        assert main([*argv, "-o", str(target)]) == exit_code
        reports[jobs] = target.read_bytes()
    return reports
