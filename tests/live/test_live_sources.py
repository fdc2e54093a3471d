"""The live fact sources without a fleet: a results directory read against a declared
inventory (drift, db.revision against the declared version's head, unreachable and
missing hosts, masked secrets unknown), and the CLI's live options."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.cli import main

SECRET = "tok-Secret-5e1d"
INVENTORY = f"""\
all:
  hosts:
    srv:
      mlflow_role: server
      mlflow_version: "3.17.2"
      mlflow_env: {{MLFLOW_TRACKING_TOKEN: "{SECRET}"}}
    cli:
      mlflow_role: client
      mlflow_version: "3.17.2"
    gone:
      mlflow_version: "3.17.2"
    nodoc:
      mlflow_version: "3.17.2"
"""


def _doc(host: str, result: dict[str, Any]) -> str:
    return json.dumps({"mlflow_policy_result": 1, "host": host, "result": result})


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text(INVENTORY)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: p}\n"
        "spec:\n  rules:\n    - id: pinned\n      assert: {mlflow.version: {required: true}}\n")
    res = tmp_path / "results"
    res.mkdir()
    (res / "srv.json").write_text(_doc("srv", {"mlflow_policy": {
        "facts": {"mlflow.version": "3.17.2", "db.revision": "6f8d9c3b2a1e",
                  "env": {"MLFLOW_TRACKING_TOKEN": "***"}},
        "sources": {"mlflow.version": "importlib.metadata"}}}))
    (res / "cli.json").write_text(_doc("cli", {"mlflow_policy": {
        "facts": {"mlflow.version": "3.15.2"},
        "unavailable": {"db.revision": "no running mlflow server"}}}))
    (res / "gone.json").write_text(_doc("gone", {
        "unreachable": True, "msg": "Failed to connect: Connection refused"}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _findings(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, set[Any]]:
    code = main(argv)
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    doc = json.loads(out.out)
    return code, {(f["rule"], f["host"], f["fact"]) for f in doc["findings"]}


def test_results_directory_with_declared_facts(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, found = _findings(capsys, ["check", "--facts", "results", "-i", "inv",
                                     "--format", "json"])
    assert code == 1
    assert found == {
        ("mlflow-policy/drift", "cli", "mlflow.version"),
        # 3.17.2's head is dc11669786a5: a database left behind by an upgrade
        ("mlflow-policy/drift", "srv", "db.revision"),
        ("mlflow-policy/unreachable", "gone", None),
        ("mlflow-policy/unreachable", "nodoc", None),  # no document: not gathered either
    }  # the masked token is unknown, not drift


def test_unreachable_is_an_error_with_ansibles_reason(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--facts", "results", "-i", "inv", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    [gone] = [f for f in doc["findings"] if f["host"] == "gone"]
    assert gone["severity"] == "error"
    assert "unreachable: Failed to connect: Connection refused" in gone["message"]


def test_results_directory_alone_has_no_drift(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, found = _findings(capsys, ["check", "--facts", "results", "--format", "json"])
    assert code == 1
    assert {f for f in found if f[0].startswith("mlflow-policy/")} == {
        ("mlflow-policy/unreachable", "gone", None)}


def test_unreachable_can_be_skipped_like_a_rule(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, found = _findings(capsys, ["check", "--facts", "results", "-i", "inv", "--format",
                                     "json", "--skip-rule", "mlflow-policy/unreachable"])
    assert code == 0
    assert not any(f[0] == "mlflow-policy/unreachable" for f in found)


@pytest.mark.parametrize("argv", [
    ["check", "--forks", "3"],
    ["check", "--limit", "web"],
    ["facts", "--timeout", "5"],
    ["check", "--live", "--forks", "0"],
    ["check", "--live", "--facts", "results"],
    ["check", "--live", "--diff-base", "main"],
])
def test_live_options_misused_are_usage_errors(
        repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_live_commands_are_offered() -> None:
    from tests.test_live_wording import _options

    assert {"--live", "--forks", "--timeout", "--limit"} <= _options()


def test_revision_drift_names_the_declared_version(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--facts", "results", "-i", "inv", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    [drift] = [f for f in doc["findings"] if f["fact"] == "db.revision"]
    assert drift["message"] == (
        "db.revision is '6f8d9c3b2a1e' on the host, but the declared mlflow.version 3.17.2 "
        "expects 'dc11669786a5' (its alembic head): the database was not migrated")
    assert drift["location"]["line"] == 5  # where mlflow_version is declared


def test_facts_text_shows_what_a_live_run_could_not_read(repo: Path) -> None:
    from mlflow_policy.commands.facts import render_text
    from mlflow_policy.config import RunConfig
    from mlflow_policy.sources import StaticInventories
    from mlflow_policy.sources.live import ResultsDirectory

    fleet = ResultsDirectory(Path("results"), repo,
                             StaticInventories([repo / "inv"], RunConfig(), repo)).load()
    text = render_text([h for h in fleet.hosts if h.host in ("cli", "gone")], False)
    assert re.search(r"\n  db\.revision +\(unavailable\) +no running mlflow server\n", text)
    assert re.search(r"\n  observed +\(unavailable\) +unreachable: Failed to connect: "
                     r"Connection refused\n", text), text
    assert SECRET not in text
