"""The cyclic garbage collector belongs to the program: library code and ``cli.main``
called in-process leave it as they found it (enabled, nothing frozen); only the console
entry point, which owns its process, freezes what a command built before exiting."""

from __future__ import annotations

import gc
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.support import REPO


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


@pytest.mark.parametrize(("argv", "code"), [
    (["check", "--format", "json"], 1),  # the repository's own inventories have findings
    (["facts", "--format", "json"], 0),
    (["facts"], 0),
])
def test_main_in_process_leaves_the_collector_as_found(
    argv: list[str], code: int, in_repo: Path, tmp_path: Path,
) -> None:
    from mlflow_policy.cli import main

    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    assert main([*argv, "-o", str(tmp_path / "report")]) == code
    assert (tmp_path / "report").stat().st_size > 0  # the command really ran
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()


def test_a_command_failing_on_its_input_gives_the_collector_back(
    in_repo: Path, tmp_path: Path,
) -> None:
    from mlflow_policy.cli import main

    assert main(["facts", "-i", str(tmp_path / "missing")]) == 2
    assert gc.isenabled()


def test_library_loading_and_evaluating_freeze_nothing(in_repo: Path) -> None:
    from mlflow_policy.config import load_config
    from mlflow_policy.engine import evaluate
    from mlflow_policy.facts.declared import load_fleet
    from mlflow_policy.policy.loader import load_paths

    frozen = gc.get_freeze_count()
    config = load_config(None, in_repo)
    fleet = load_fleet(config.default_inventories(in_repo), config, root=in_repo)
    loaded = load_paths(config.policies, in_repo)
    result = evaluate(loaded.policies, fleet.hosts, fleet.diagnostics, today=date(2026, 1, 1))
    assert result.findings
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()


def test_the_console_entry_point_runs_a_command(in_repo: Path) -> None:
    """``python -m mlflow_policy`` goes through ``main_entry`` (the one place that freezes)
    and exits with the command's code."""
    done = subprocess.run([sys.executable, "-m", "mlflow_policy", "check", "--format", "json"],
                          cwd=in_repo, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("{")
