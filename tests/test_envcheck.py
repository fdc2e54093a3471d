"""``mlflow-policy/unknown-mlflow-env``: one row per situation an operator runs into.

Each row: the host's declared ``mlflow.version``, one env key, and what the warning must say
(None: no warning). Versions and variables are real catalogue data (first/last releases
from MLflow's wheels), so a catalogue refresh that changes them shows up here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflow_policy.cli import main
from mlflow_policy.core import HostFacts, Location
from mlflow_policy.facts.envcheck import UNKNOWN_MLFLOW_ENV, check_host

CASES = [
    # a typo: no release reads it; the closest known name is suggested
    ("3.17.2", "MLFLOW_TRACKING_URL", ["reads no environment variable named MLFLOW_TRACKING_URL",
                                       "did you mean MLFLOW_TRACKING_URI?"]),
    ("3.17.2", "MLFLOW_ENABLE_ASYNC_LOGING", ["did you mean MLFLOW_ENABLE_ASYNC_LOGGING?"]),
    # case matters to MLflow (os.environ is case-sensitive on Linux)
    ("3.17.2", "MLFLOW_Tracking_Uri", ["did you mean MLFLOW_TRACKING_URI?"]),
    # introduced in a newer release than the host runs
    ("2.19.0", "MLFLOW_FLASK_SERVER_SECRET_KEY",
     ["read from MLflow 2.20.2 on", "declares mlflow.version 2.19.0, which ignores it"]),
    ("3.15.0", "MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS", ["read from MLflow 3.16.0 on"]),
    # removed: read up to 2.22.5, not by 3.x
    ("3.17.2", "MLFLOW_GCS_DEFAULT_TIMEOUT",
     ["MLflow 2.22.5 was the last release to read MLFLOW_GCS_DEFAULT_TIMEOUT"]),
    ("2.22.5", "MLFLOW_GCS_DEFAULT_TIMEOUT", None),
    # unknown or unpinned version: only names no release reads are reported
    (">=2.10", "MLFLOW_FLASK_SERVER_SECRET_KEY", None),
    (">=2.10", "MLFLOW_TRACKNG_URI", ["did you mean MLFLOW_TRACKING_URI?"]),
    (None, "MLFLOW_GCS_DEFAULT_TIMEOUT", None),
    (None, "MLFLOW_TOTALLY_MADE_UP", ["reads no environment variable named"]),
    ("latest", "MLFLOW_S3_ENDPOINT_URLS", ["did you mean MLFLOW_S3_ENDPOINT_URL?"]),
    # known and read: nothing to say; non-MLFLOW_ names are not MLflow's to judge
    ("3.17.2", "MLFLOW_TRACKING_URI", None),
    ("3.17.2", "AWS_DEFAULT_REGION", None),
    ("3.17.2", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None),
]


def _host(version: str | None, key: str) -> HostFacts:
    facts: dict[str, object] = {"host": "h1", "inventory": "inv", "env": {key: "x"}}
    if version is not None:
        facts["mlflow"] = {"version": version}
    return HostFacts(host="h1", inventory="inv", facts=facts,
                     provenance={f"env.{key}": Location("inv/group_vars/all.yml", 4, 3)})


@pytest.mark.parametrize(("version", "key", "says"), CASES,
                         ids=[f"{v}-{k}" for v, k, _ in CASES])
def test_unknown_mlflow_env(version: str | None, key: str, says: list[str] | None) -> None:
    found = check_host(_host(version, key))
    if says is None:
        assert found == []
        return
    assert len(found) == 1
    d = found[0]
    assert (d.rule, d.severity, d.host, d.inventory, d.fact) == (
        UNKNOWN_MLFLOW_ENV, "warning", "h1", "inv", f"env.{key}")
    assert d.location == Location("inv/group_vars/all.yml", 4, 3)
    for text in says:
        assert text in d.message


def test_env_that_is_not_a_mapping_is_left_alone() -> None:
    host = HostFacts(host="h", inventory="i", facts={"env": "MLFLOW_X=1"})
    assert check_host(host) == []


def test_check_reports_it_at_the_inventory_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    train-1:\n")
    (inv / "group_vars" / "all.yml").write_text(
        'mlflow_version: "3.17.2"\nmlflow_env:\n  MLFLOW_TRACKING_URI: https://m.example\n'
        '  MLFLOW_TRACKING_URL: https://m.example\n')
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n  rules:\n"
        "    - id: r\n      assert: {mlflow.version: {required: true}}\n")
    monkeypatch.chdir(tmp_path)
    code = main(["check", "-p", "policies", "-i", "inventory", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0  # a warning does not fail the default --fail-on error
    [f] = [f for f in doc["findings"] if f["rule"] == UNKNOWN_MLFLOW_ENV]
    assert f["fact"] == "env.MLFLOW_TRACKING_URL"
    assert f["location"] == {"path": "inventory/group_vars/all.yml", "line": 4, "column": 24}
    assert "did you mean MLFLOW_TRACKING_URI?" in f["message"]
    code = main(["check", "-p", "policies", "-i", "inventory", "--fail-on", "warning",
                 "--skip-rule", UNKNOWN_MLFLOW_ENV])
    assert code == 0  # filtered like any rule
