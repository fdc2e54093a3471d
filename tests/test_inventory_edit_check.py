"""After ``--write``, a static ``check`` no longer reports the rules the changes were for:
the baseline pack on a copy of both example inventories, with a fix (the values each rule's
``remediation.set`` or hint asks for) for version drift, allowed hosts, the periodic-jobs
runner, async logging and the OTLP protocol. No finding appears that was not there before,
and each fix lands where the docs say (a shared group entry stays shared, a one-host
override goes to host_vars)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.cli import main
from mlflow_policy.inventory import resolve_inventory
from mlflow_policy.remediate.change import HostvarChange
from mlflow_policy.remediate.inventory_edit import plan_edits
from tests.support import REPO

PROD_HOSTS = ("mlflow-tracking-1", "mlflow-tracking-2", "mlflow-tracking-risk-1",
              "notebook-nlp-01", "trainer-nlp-01", "trainer-nlp-02", "trainer-risk-01",
              "trainer-vision-01", "trainer-vision-02", "trainer-vision-03")
CLIENTS = PROD_HOSTS[3:]
ENV = "mlflow_env"
# (rule, host, hostvar, value): what the remediation asks for
FIXES: list[tuple[str, str, tuple[str, ...], Any]] = [
    *(("prod-runs-staged-versions", h, ("mlflow_version",), "3.17.2") for h in PROD_HOSTS),
    *(("server-allowed-hosts", h, (ENV, "MLFLOW_SERVER_ALLOWED_HOSTS"),
       "mlflow.prod.acme.internal") for h in PROD_HOSTS[:2]),
    ("server-allowed-hosts", "mlflow-tracking-risk-1", (ENV, "MLFLOW_SERVER_ALLOWED_HOSTS"),
     "mlflow-risk.prod.acme.internal"),
    ("single-periodic-jobs-runner", "mlflow-tracking-2",
     (ENV, "MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS"), "false"),
    *(("otel-endpoint", h, (ENV, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), "http/protobuf")
      for h in PROD_HOSTS[:2]),
    *(("client-async-logging", h, (ENV, "MLFLOW_ENABLE_ASYNC_LOGGING"), "true")
      for h in CLIENTS),
]
REMEDIATED = {"version-pinned", "one-version-per-inventory", "one-version-per-backend",
              "prod-runs-staged-versions", "server-allowed-hosts",
              "single-periodic-jobs-runner", "otel-endpoint", "client-async-logging"}


def _findings(capsys: pytest.CaptureFixture[str]) -> set[tuple[str, str]]:
    code = main(["check", "-p", "policies", "-i", "inventories/prod", "-i",
                 "inventories/staging", "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return {(f["rule"].split("/", 1)[1], f["host"]) for f in json.loads(out)["findings"]}


def test_check_is_clean_for_the_remediated_rules_after_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(REPO / "inventories", tmp_path / "inventories")
    (tmp_path / "policies").mkdir()
    shutil.copy(REPO / "policies" / "mlflow-baseline.yaml", tmp_path / "policies")
    monkeypatch.chdir(tmp_path)
    before = _findings(capsys)
    assert {rule for rule, _host in before} >= REMEDIATED

    prod = Path(os.path.abspath("inventories/prod"))
    inv = resolve_inventory(prod, root=tmp_path)
    changes = [HostvarChange(prod, host, path, value, (f"mlflow-baseline/{rule}",))
               for rule, host, path, value in FIXES]
    plan = plan_edits(changes, [inv])
    diff = plan.diff()
    # one edit of the shared version in group_vars/all.yml, not ten host_vars files
    assert '-mlflow_version: "3.18.0"\n+mlflow_version: "3.17.2"' in diff
    assert "+++ b/host_vars/mlflow-tracking-risk-1.yml" in diff
    assert "--- /dev/null\n+++ b/host_vars/mlflow-tracking-risk-1.yml" in diff
    assert any("mlflow-tracking-2: mlflow_env.MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS"
               in note for note in plan.notes)
    plan.write()

    after = _findings(capsys)
    assert {(r, h) for r, h in after if r in REMEDIATED} == set()
    assert after <= before, sorted(after - before)
