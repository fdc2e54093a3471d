"""Issue 11 item 8, wired: the config's `rules:` table turns rules off or re-grades them
in check, test, rules and explain, and reports list what it did. Real files, real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflow_policy.cli import main

POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {name: p}
spec:
  rules:
    - id: https
      assert:
        env.MLFLOW_TRACKING_URI: {required: true, prefix: "https://"}
    - id: pinned
      assert:
        mlflow.version: {pinned: true}
"""

TEST = """\
apiVersion: mlflow-policy/v1
kind: PolicyTest
metadata: {name: t}
spec:
  policies: [../p.yaml]
  inventory: ../../inventories/prod/
  exhaustive: true
  expect:
    - {rule: p/pinned, host: c-1, fact: mlflow.version}
"""

CONFIG = """\
policies: [policies/]
rules:
  p/https: {enabled: false, reason: internal network}
  p/pin*: {severity: info}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "policies" / "tests").mkdir(parents=True)
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    (tmp_path / "policies" / "tests" / "t.yaml").write_text(TEST)
    inv = tmp_path / "inventories" / "prod"
    inv.mkdir(parents=True)
    (inv / "hosts.yml").write_text(
        "all:\n  hosts:\n    c-1:\n      mlflow_version: '>=3'\n"
        "      mlflow_env: {MLFLOW_TRACKING_URI: 'http://x'}\n")
    (tmp_path / ".mlflow-policy.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_applies_and_lists_the_rules_table(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    got = [(f["rule"], f["severity"]) for f in report["findings"]]
    assert got == [("p/pinned", "info")]
    assert code == 0  # fail_on error: an info finding passes
    configured = {c["rule"]: c for c in report["summary"]["configured"]}
    assert configured["p/https"]["enabled"] is False
    assert configured["p/https"]["reason"] == "internal network"
    assert (configured["p/pinned"]["was"], configured["p/pinned"]["severity"]) == (
        "error", "info")
    main(["check", "-v"])
    text = capsys.readouterr().out
    assert "configured: p/https: disabled (config .mlflow-policy.yaml:3): internal network" \
        in text
    assert "configured: p/pinned: severity error -> info" in text


def test_rules_and_test_apply_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "p/https  " not in out
    assert "p/pinned  info" in out
    assert "configured: p/https: disabled" in out
    assert main(["explain", "p/https"]) == 0
    assert capsys.readouterr().out.startswith("configured: p/https: disabled")
    assert main(["explain", "p/pinned"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("configured: p/pinned: severity error -> info")
    assert "severity: info" in out
    # the PolicyTest expects no p/https finding (exhaustive): it passes only when disabled
    assert main(["test"]) == 0, capsys.readouterr().out


def test_a_bad_entry_is_a_located_input_error(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".mlflow-policy.yaml").write_text(
        "policies: [policies/]\nrules:\n  p/https: {enabeld: false}\n  p/nope: {enabled: false}\n")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert ".mlflow-policy.yaml:3" in err
    assert "did you mean 'enabled'" in err
