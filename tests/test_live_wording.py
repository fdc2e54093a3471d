"""Messages about live mode are true before it exists and after: none names a ``--live``
option unless a command defines one; a static run's skip reason says what is needed."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.support import REPO


def _options() -> set[str]:
    from mlflow_policy.cli import COMMANDS, build_parser

    parser, commands = build_parser()
    found = set(parser._option_string_actions)
    for name, (module, _) in COMMANDS.items():
        importlib.import_module(module).add_arguments(commands[name])
        found |= set(commands[name]._option_string_actions)
    return found


def test_no_message_names_a_live_option_no_command_has() -> None:
    naming = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in sorted((REPO / "mlflow_policy").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and "--live" in node.value
    ]
    assert naming == [] or "--live" in _options()


def test_static_skip_reason_says_a_live_run_is_needed() -> None:
    from mlflow_policy.facts.declared import STATIC_UNAVAILABLE
    from mlflow_policy.facts.lookup import covered
    from mlflow_policy.facts.table import FACTS

    observed_only = [f.path for f in FACTS if f.modes == "observed"]
    assert observed_only
    assert all(covered(STATIC_UNAVAILABLE.keys(), p) for p in observed_only)
    # a fact an inventory declares (db.max_connections) is never covered
    assert not covered(STATIC_UNAVAILABLE.keys(), "db.max_connections")
    assert set(STATIC_UNAVAILABLE.values()) == {"observed only: needs a live run"}


def test_explain_of_a_live_rule_says_a_live_run_observes_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    from mlflow_policy.cli import main

    monkeypatch.chdir(REPO)
    assert main(["explain", "mlflow-baseline/db-schema-current"]) == 0
    out = capsys.readouterr().out
    assert "live only: db.schema_current: observed on the host by a live run;" in " ".join(
        out.split())
