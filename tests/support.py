"""Helpers shared by test modules (plain module, imported as ``tests.support`` or ``support``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

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


class ChildPids(logging.Handler):
    """Collects the pids that forked children wrote back themselves (``child_pid`` on the
    debug records of ``mlflow_policy.parallel``): the proof that a second process ran."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.pids: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        pid = getattr(record, "child_pid", None)
        if isinstance(pid, int):
            self.pids.append(pid)

    @classmethod
    @contextmanager
    def watching(cls) -> Iterator[ChildPids]:
        logger = logging.getLogger("mlflow_policy.parallel")
        handler, level = cls(), logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)


def report_per_jobs(argv: list[str], exit_code: int, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """``mlflow-policy ARGV -o FILE`` run with MLFLOW_POLICY_JOBS=1 and =2: the written
    report per setting (the caller forces the two-process path with its threshold).
    With 2, a child must really have produced a share: one that did not (no fork, or a
    failed child whose share was redone here) would make the comparison prove nothing."""
    from mlflow_policy.cli import main

    reports = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv("MLFLOW_POLICY_JOBS", jobs)
        target = tmp_path / f"report-{jobs}"
        with ChildPids.watching() as children:
            assert main([*argv, "-o", str(target)]) == exit_code
        if jobs == "1":
            assert children.pids == []
        else:
            assert children.pids, "no second process produced a share"
            assert os.getpid() not in children.pids
        reports[jobs] = target.read_bytes()
    return reports


def load_tool(name: str) -> ModuleType:
    """A script of tools/ imported as a module (once per test session): the tests call the
    same functions the script's command line does."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
