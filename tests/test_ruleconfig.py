"""The config's `rules:` table (issue 11, item 8), designed as its own module for the lead
to wire into config.py: parsing with located errors, and applying it to the real baseline
pack evaluated on the repository's prod inventory."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from mlflow_policy.config import RunConfig
from mlflow_policy.engine import evaluate
from mlflow_policy.errors import InputErrors
from mlflow_policy.facts.declared import load_fleet
from mlflow_policy.policy.loader import PolicySet, load_paths
from mlflow_policy.policy.ruleconfig import (
    RuleSetting,
    apply_rule_settings,
    apply_to_findings,
    builtin_configured,
    parse_rule_settings,
)
from mlflow_policy.yamlio import load_file
from tests.support import REPO

TODAY = dt.date(2026, 12, 1)
CONFIG = """\
rules:
  mlflow-baseline/client-async-logging: {enabled: false, reason: we log synchronously}
  mlflow-baseline/otel-endpoint: {severity: info}
  mlflow-baseline/client-not-newer-than-server: {severity: info}
  mlflow-baseline/db-*: {enabled: false}
  mlflow-policy/unknown-mlflow-env: {severity: info, reason: legacy hosts}
  team-policy-not-loaded-here/anything: {enabled: false}
"""


def _settings(tmp_path: Path, text: str) -> tuple[RuleSetting, ...]:
    path = tmp_path / ".mlflow-policy.yaml"
    path.write_text(text)
    return parse_rule_settings(load_file(path, ".mlflow-policy.yaml")["rules"],
                               ".mlflow-policy.yaml")


@pytest.fixture(scope="module")
def baseline() -> PolicySet:
    return load_paths([REPO / "policies" / "mlflow-baseline.yaml"], REPO)


def _counts(policies: PolicySet,
            settings: tuple[RuleSetting, ...] = ()) -> Counter[tuple[str, str]]:
    fleet = load_fleet([REPO / "inventories" / "prod"], RunConfig(), root=REPO)
    diagnostics = apply_to_findings(fleet.diagnostics, settings)
    result = evaluate(policies.policies, fleet.hosts, diagnostics, today=TODAY)
    return Counter((f.rule, f.severity) for f in result.findings)


def test_rules_are_disabled_and_regraded_and_listed_as_configured(
        tmp_path: Path, baseline: PolicySet) -> None:
    settings = _settings(tmp_path, CONFIG)
    before = _counts(baseline)
    applied = apply_rule_settings(baseline, settings)
    after = _counts(applied.policies, applied.builtins)

    assert before[("mlflow-baseline/client-async-logging", "warning")] > 0
    assert not [k for k in after if k[0] == "mlflow-baseline/client-async-logging"]
    assert after[("mlflow-baseline/otel-endpoint", "info")] == \
        before[("mlflow-baseline/otel-endpoint", "warning")] > 0
    # a peer rule re-graded: its unresolved findings (a warning in the pack) follow too
    peer = "mlflow-baseline/client-not-newer-than-server"
    assert after[(peer, "info")] == before[(peer, "warning")] + before[(peer, "error")] > 0
    # built-ins are re-graded on the loaders' diagnostics, before waivers see them
    env = "mlflow-policy/unknown-mlflow-env"
    assert after[(env, "info")] == before[(env, "warning")] > 0
    untouched = "mlflow-baseline/tracking-uri-https"
    assert after[(untouched, "error")] == before[(untouched, "error")] > 0
    rule_ids = {r.full_id for r in applied.policies.rules}
    assert "mlflow-baseline/db-schema-current" not in rule_ids
    assert "mlflow-baseline/tracking-uri-https" in rule_ids

    listed = {c.rule: c.describe() for c in applied.configured}
    assert listed["mlflow-baseline/client-async-logging"] == (
        "mlflow-baseline/client-async-logging: disabled (config .mlflow-policy.yaml:2): "
        "we log synchronously")
    assert listed["mlflow-baseline/otel-endpoint"] == (
        "mlflow-baseline/otel-endpoint: severity warning -> info (config "
        ".mlflow-policy.yaml:3)")
    assert "mlflow-baseline/db-schema-current" in listed  # globs are listed per rule
    (builtin,) = builtin_configured(applied.builtins)
    assert builtin.to_json()["rule"] == env
    assert builtin.reason == "legacy hosts"


def test_a_typo_in_a_loaded_policys_rule_id_is_an_error(tmp_path: Path,
                                                         baseline: PolicySet) -> None:
    settings = _settings(tmp_path, "rules:\n  mlflow-baseline/client-async-loging: "
                                   "{enabled: false}\n")
    with pytest.raises(InputErrors) as info:
        apply_rule_settings(baseline, settings)
    assert [e.render() for e in info.value.errors] == [
        ".mlflow-policy.yaml:2:40: rules: 'mlflow-baseline/client-async-loging' matches no "
        "rule of policy 'mlflow-baseline' (did you mean "
        "'mlflow-baseline/client-async-logging'?)"]


def test_invalid_entries_are_located(tmp_path: Path) -> None:
    text = (
        "rules:\n"
        "  mlflow-baseline/a: {enabeld: false}\n"
        "  mlflow-baseline/b: {severity: fatal}\n"
        "  mlflow-baseline/c: {enabled: 'no'}\n"
        "  mlflow-baseline/d: {reason: ''}\n"
        "  just-a-name: {enabled: false}\n"
        "  mlflow-policy/internal-error: {enabled: false}\n"
        "  mlflow-baseline/e: off\n"
    )
    with pytest.raises(InputErrors) as info:
        _settings(tmp_path, text)
    assert [e.render() for e in info.value.errors] == [
        ".mlflow-policy.yaml:2:32: rules.mlflow-baseline/a: unknown key 'enabeld' "
        "(did you mean 'enabled'?)",
        ".mlflow-policy.yaml:3:33: rules.mlflow-baseline/b.severity: expected one of error, "
        "warning, info, got 'fatal'",
        ".mlflow-policy.yaml:4:32: rules.mlflow-baseline/c.enabled: expected true or false, "
        "got 'no'",
        ".mlflow-policy.yaml:5:31: rules.mlflow-baseline/d.reason: expected a non-empty string",
        ".mlflow-policy.yaml:6:16: rules: 'just-a-name' is not a full rule id (policy/rule) "
        "or a glob over them",
        ".mlflow-policy.yaml:7:33: rules: mlflow-policy/internal-error cannot be configured "
        "(it is a bug in mlflow-policy)",
        ".mlflow-policy.yaml:8:22: rules.mlflow-baseline/e: expected a mapping with enabled, "
        "severity or reason",
    ]
