"""Per-(rule, inventory, host) outcomes in the Result, and the reporters that use them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlflow_policy import rules as rules_pkg
from mlflow_policy.cli import main
from tests.support import REPO

UNAVAILABLE = REPO / "tests" / "cases" / "unavailable"


def _report(fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["check", "-p", "policies", "-i", "inventory", "--format", fmt]) == 1
    return capsys.readouterr().out


def test_junit_marks_skipped_pairs_skipped_and_json_counts_the_same(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(UNAVAILABLE)
    suites = ET.fromstring(_report("junit", capsys))
    outcome = {}
    for case in suites.iter("testcase"):
        kinds = [child.tag for child in case]
        outcome[(case.get("classname"), case.get("name"))] = (
            kinds[0] if kinds else "passed",
            case.find("skipped").get("message") if kinds == ["skipped"] else None)
    assert outcome == {
        ("live/schema-current", "inventory/a-1"): (
            "skipped", "db.schema_current: observed only: needs a live run"),
        ("live/schema-current", "inventory/a-2"): (
            "skipped", "db.schema_current: observed only: needs a live run"),
        ("live/mixed", "inventory/a-1"): (
            "skipped", "db.revision: observed only: needs a live run"),
        # a failure wins over the skip of the rule's other fact
        ("live/mixed", "inventory/a-2"): ("failure", None),
        ("live/consistent-revision", "inventory/a-1"): (
            "skipped", "db.revision is unavailable (observed only: needs a live run)"),
        ("live/consistent-revision", "inventory/a-2"): (
            "skipped", "db.revision is unavailable (observed only: needs a live run)"),
        ("live/url-set", "inventory/a-1"): ("passed", None),
        ("live/url-set", "inventory/a-2"): ("failure", None),
    }
    assert suites.get("skipped") == "5"
    assert json.loads(_report("json", capsys))["summary"]["skipped"] == 5


def test_policytest_coverage_does_not_evaluate_rules_twice(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Coverage's passing side comes from the Result's outcomes; it used to run every rule
    kind a second time to find which hosts were skipped."""
    calls: list[str] = []
    for kind, evaluate in list(rules_pkg.RULE_EVALUATORS.items()):
        def counting(rule, hosts, ctx, _evaluate=evaluate):  # type: ignore[no-untyped-def]
            calls.append(rule.full_id)
            return _evaluate(rule, hosts, ctx)
        monkeypatch.setitem(rules_pkg.RULE_EVALUATORS, kind, counting)  # type: ignore[arg-type]
    monkeypatch.setenv("MLFLOW_POLICY_JOBS", "1")
    monkeypatch.chdir(REPO)
    assert main(["test", "policies/tests/live.yaml", "--format", "json"]) == 0
    capsys.readouterr()
    assert calls
    assert len(calls) == len(set(calls)), sorted(c for c in set(calls) if calls.count(c) > 1)
