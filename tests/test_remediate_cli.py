"""``remediate --diff`` / ``--write`` through the command (the editor itself is tested in
test_inventory_edit.py): the diff is shown and nothing is written; after --write the same
run has nothing left to change for the remediated rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlflow_policy.cli import main

CASE = Path(__file__).parent / "fixtures" / "remediate" / "static-basic"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(CASE / "inventories", tmp_path / "inventories")
    shutil.copytree(CASE / "policies", tmp_path / "policies")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


ARGS = ["remediate", "-i", "inventories/lab", "-p", "policies", "--out", "out"]


def test_diff_shows_the_edit_and_writes_nothing(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(repo / "inventories")
    assert main([*ARGS, "--diff"]) == 1
    out = capsys.readouterr().out
    assert '-  MLFLOW_TRACKING_URI: "http://mlflow.lab.internal"' in out
    assert '+  MLFLOW_TRACKING_URI: "https://mlflow.lab.internal"' in out
    assert "+++ b/inventories/lab/host_vars/cli-1.yml" in out
    assert _snapshot(repo / "inventories") == before


def test_write_edits_the_inventory_and_a_second_run_has_nothing_to_write(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--write"]) == 1
    out = capsys.readouterr().out
    assert "written: inventories/lab/group_vars/clients.yml" in out
    assert "https://mlflow.lab.internal" in (
        repo / "inventories" / "lab" / "group_vars" / "clients.yml").read_text()
    assert main([*ARGS, "--format", "json"]) == 1  # what needs a human is still there
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["changes"] == 0
    assert doc["hosts"] == []
    assert {n["kind"] for n in doc["needs_human"]} == {"conflict", "no-set", "secret"}


def test_write_needs_inventories_with_facts(repo: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "facts.json").write_text('{"schema_version": 1, "mode": "static", "hosts": []}')
    code = main(["remediate", "-p", "policies", "--facts", "facts.json", "--write",
                 "--out", "out"])
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err
