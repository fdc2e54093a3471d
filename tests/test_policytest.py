"""``mlflow-policy test``: each row builds a small configuration repository (one policy, one
or several inventories or a facts snapshot, one PolicyTest) and states the verdict, the
missing and unexpected findings, and the coverage the run must report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.cli import main

POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {name: p}
spec:
  rules:
    - id: https
      assert: {env.MLFLOW_TRACKING_URI: {required: true, matches: '^https://'}}
    - id: pinned
      severity: warning
      assert: {mlflow.version: {pinned: true}}
    - id: staged
      match: {inventories: [prod]}
      promotion: {fact: mlflow.version, from: {inventories: [staging]}}
    - id: schema
      assert: {db.schema_current: {equals: true}}
"""
WAIVER = """\
---
apiVersion: mlflow-policy/v1
kind: Waiver
metadata: {name: legacy}
spec:
  rules: [p/https]
  match: {hosts: [old-*]}
  justification: decommissioned next quarter
  owner: ml-platform@example.com
  expires: 2999-01-01
"""
ONE = {  # one inventory, "inv": good-1 passes everything, bad-1 fails https and pinned
    "inv/hosts": "good-1\nbad-1\nold-1\n",
    "inv/host_vars/good-1": 'mlflow_version: "3.17.2"\nmlflow_env: {MLFLOW_TRACKING_URI: '
                            "https://m.example.com}\n",
    "inv/host_vars/bad-1": 'mlflow_version: ">=3"\nmlflow_env: {MLFLOW_TRACKING_URI: '
                           "http://m.example.com}\n",
    "inv/host_vars/old-1": 'mlflow_version: "3.17.2"\nmlflow_env: {MLFLOW_TRACKING_URI: '
                           "http://m.example.com}\n",
}
STAGES = {  # a root of two inventories (and a README Ansible would ignore)
    "stages/README.md": "# two stages\n",
    "stages/staging/hosts": 's-1 mlflow_version="3.17.2"\n',
    "stages/prod/hosts": 'p-1 mlflow_version="3.17.2"\np-2 mlflow_version="3.18.0"\n',
}


def _snapshot(mode: str) -> dict[str, Any]:
    def host(name: str, current: bool) -> dict[str, Any]:
        # live rules read what the host runs: the observed document (declared-only facts
        # such as server.url come from the declared one)
        running = {"mlflow": {"version": "3.17.2"},
                   "env": {"MLFLOW_TRACKING_URI": "https://m.example.com",
                           "MLFLOW_TRACKNG_URI": "typo"}}
        return {"host": name, "inventory": "lab", "facts": running,
                "observed": {**running, "db": {"schema_current": current}},
                "unavailable": {}}
    return {"schema_version": 1, "mode": mode, "hosts": [host("a", True), host("b", False)]}


CASES: list[dict[str, Any]] = [
    {"id": "expected-findings-exhaustive-pass", "files": ONE, "inventory": "inv/",
     "waiver": True, "exhaustive": True,
     "expect": [{"rule": "p/https", "host": "bad-1", "fact": "env.MLFLOW_TRACKING_URI"},
                {"rule": "p/pinned", "host": "bad-1", "severity": "warning"},
                {"rule": "p/https", "host": "old-1", "waived": True}],
     "passed": True, "missing": [], "unexpected": []},
    {"id": "a-missing-expectation-fails", "files": ONE, "inventory": "inv/",
     "expect": [{"rule": "p/https", "host": "good-1"}],
     "passed": False, "missing": [{"rule": "p/https", "host": "good-1"}], "unexpected": []},
    {"id": "exhaustive-reports-what-nobody-expected", "files": ONE, "inventory": "inv/",
     "exhaustive": True, "expect": [{"rule": "p/https", "host": "bad-1"}],
     "passed": False, "missing": [],
     "unexpected": [("p/https", "old-1"), ("p/pinned", "bad-1")]},
    {"id": "not-exhaustive-ignores-the-rest", "files": ONE, "inventory": "inv/",
     "expect": [{"rule": "p/https", "host": "bad-1"}],
     "passed": True, "missing": [], "unexpected": []},
    {"id": "rule-globs-and-waivers", "files": ONE, "inventory": "inv/", "waiver": True,
     "exhaustive": True, "expect": [{"rule": "p/*", "host": "bad-1"}],
     "passed": True, "missing": [], "unexpected": []},  # old-1 is waived: not unexpected
    {"id": "a-root-of-several-inventories", "files": STAGES, "inventory": "stages/",
     "exhaustive": True,
     "expect": [{"rule": "p/staged", "host": "p-2", "inventory": "prod"},
                {"rule": "p/https", "host": "*"}],
     "passed": False, "missing": [{"rule": "p/https", "host": "*"}],  # host is not a glob
     "unexpected": [("p/https", "p-1"), ("p/https", "p-2"), ("p/https", "s-1")]},
    {"id": "live-snapshot", "snapshot": "live", "inventory": "lab.json", "exhaustive": True,
     "expect": [{"rule": "p/schema", "host": "b"},
                {"rule": "mlflow-policy/unknown-mlflow-env", "fact": "env.MLFLOW_TRACKNG_URI"}],
     "passed": True, "missing": [], "unexpected": [],
     "covered": {"p/schema": (True, True), "p/https": (False, True)}},
    {"id": "static-snapshot-skips-live-rules", "snapshot": "static", "inventory": "lab.json",
     "expect": [{"rule": "p/schema"}],
     "passed": False, "missing": [{"rule": "p/schema"}], "unexpected": [],
     "covered": {"p/schema": (False, False)}},  # skipped is not seen passing
]


def _repo(tmp_path: Path, case: dict[str, Any]) -> Path:
    for rel, text in case.get("files", {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    if "snapshot" in case:
        (tmp_path / "lab.json").write_text(json.dumps(_snapshot(case["snapshot"])))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY + (WAIVER if case.get("waiver") else ""))
    doc = {"apiVersion": "mlflow-policy/v1", "kind": "PolicyTest",
           "metadata": {"name": case["id"]},
           "spec": {"policies": ["../policies/p.yaml"], "inventory": f"../{case['inventory']}",
                    "expect": case["expect"], "exhaustive": case.get("exhaustive", False)}}
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.yaml").write_text(json.dumps(doc))
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_repo(tmp_path, case))
    code = main(["test", "tests", "--format", "json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    [test] = doc["tests"]
    assert (code, test["passed"]) == ((0, True) if case["passed"] else (1, False)), err
    assert test["missing"] == case["missing"]
    assert sorted((u["rule"], u["host"]) for u in test["unexpected"]) == case["unexpected"]
    covered = {c["rule"]: (c["failing"], c["passing"]) for c in doc["coverage"]["rules"]}
    assert set(covered) == {"p/https", "p/pinned", "p/staged", "p/schema"}
    for rule, sides in case.get("covered", {}).items():
        assert covered[rule] == sides


def test_text_report_names_failures_and_coverage_gaps(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_repo(tmp_path, CASES[2]))
    assert main(["test", "tests"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FAIL exhaustive-reports-what-nobody-expected (tests/t.yaml:1;")
    assert any(line.strip().startswith("unexpected: p/pinned on inv/bad-1 mlflow.version: ")
               and "at inv/host_vars/bad-1:1" in line for line in lines)
    assert "rule coverage: 1/4 rules exercised failing and passing (25.0%)" in lines
    assert any(line.strip().startswith("p/staged") and "failing or passing" in line
               for line in lines)
    assert lines[-1] == "1 test: 0 passed, 1 failed"


def test_coverage_fail_under(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_repo(tmp_path, CASES[3]))  # passes; covers p/https only
    assert main(["test", "tests"]) == 0
    assert main(["test", "tests", "--coverage-fail-under", "25"]) == 0
    capsys.readouterr()
    assert main(["test", "tests", "--coverage-fail-under", "26"]) == 1
    assert "is below --coverage-fail-under 26" in capsys.readouterr().out


def test_input_problems_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_repo(tmp_path, CASES[3]))
    assert main(["test", "policies"]) == 2  # policies only: no PolicyTest
    assert "no PolicyTest documents found" in capsys.readouterr().err
    assert main(["test", "nowhere"]) == 2
    (tmp_path / "inv" / "host_vars" / "bad-1").write_text("mlflow_env: {a: 1, a: 2}\n")
    assert main(["test", "tests"]) == 2
    assert "inv/host_vars/bad-1:1" in capsys.readouterr().err
