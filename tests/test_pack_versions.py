"""The baseline pack's version bounds are the catalogue's: a rule on a variable applies
only to the releases that read it, so a variable set for another release is reported once
(by mlflow-policy/unknown-mlflow-env), never by the rule too."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mlflow_policy import catalogue
from mlflow_policy.commands.explain import fact_paths
from mlflow_policy.policy.loader import LoadedRule, load_paths
from tests.support import REPO, load_tool

PACK = REPO / "policies" / "mlflow-baseline.yaml"
RULES = load_paths([PACK], REPO).rules
OLDEST = min(catalogue.known_versions(), key=Version)
# A plaintext secret in the repository leaks whether or not the host's release reads it;
# basic-auth-admin-password applies *before* a variable exists (its bound is `before`).
EXEMPT = {"credentials-vaulted", "uri-passwords-vaulted", "basic-auth-admin-password"}


def tool() -> ModuleType:
    return load_tool("pack_versions")


def test_marked_bounds_equal_the_catalogue() -> None:
    text = PACK.read_text(encoding="utf-8")
    new, changes = tool().rewrite(text)
    assert changes == []
    assert new == text
    assert len(tool().marked_names(text)) >= 15


def test_a_stale_bound_is_found_and_rewritten() -> None:
    text = 'where: {mlflow.version: {version: ">=3.4.0"}}  # since MLFLOW_SERVER_ALLOWED_HOSTS\n'
    new, changes = tool().rewrite(text)
    assert changes == ["line 1: MLFLOW_SERVER_ALLOWED_HOSTS: >=3.4.0 -> >=3.5.0"]
    assert '">=3.5.0"' in new
    with pytest.raises(tool().Mismatch, match="needs the operator"):
        tool().rewrite('{version: "<3.5.0"}  # since MLFLOW_SERVER_ALLOWED_HOSTS')
    with pytest.raises(tool().Mismatch, match="not in the catalogue"):
        tool().rewrite('{version: ">=3.5.0"}  # since MLFLOW_NO_SUCH_THING')


def _lower_bound(rule: LoadedRule) -> Version | None:
    match = rule.rule.match
    cond = (match.where or {}).get("mlflow.version") if match else None
    if cond is None or "version" not in cond.operators:
        return None
    lows = [Version(s.version) for s in SpecifierSet(cond.arg("version"))
            if s.operator in (">=", ">")]
    return max(lows) if lows else None


def _newer_variables(rule: LoadedRule) -> dict[str, str]:
    env = catalogue.env_vars()
    names = [p.split(".", 1)[1] for p in fact_paths(rule) if p.startswith("env.")]
    return {n: env[n].first for n in names
            if n in env and Version(env[n].first) > Version(OLDEST)}


# EXEMPT rules are deliberately version-independent: not parametrized (no skip to read)
@pytest.mark.parametrize("rule", [r for r in RULES
                                  if _newer_variables(r) and r.rule.id not in EXEMPT],
                         ids=lambda r: r.rule.id)
def test_rules_on_newer_variables_apply_only_where_mlflow_reads_them(rule: LoadedRule) -> None:
    newest_first = max(Version(v) for v in _newer_variables(rule).values())
    low = _lower_bound(rule)
    assert low is not None, f"{rule.full_id} reads a variable from {newest_first} on"
    assert low >= newest_first


def test_a_variable_too_new_for_the_host_is_reported_once(tmp_path: object) -> None:
    """A 3.4.0 server setting a 3.5 variable: unknown-mlflow-env, and no 3.5 rule."""
    import json
    from pathlib import Path

    from mlflow_policy.cli import main

    assert isinstance(tmp_path, Path)
    out = tmp_path / "out.json"
    code = main(["check", "-p", str(PACK), "-i",
                 str(REPO / "policies" / "tests" / "fixtures" / "security"),
                 "--format", "json", "--fail-on", "never", "-o", str(out)])
    assert code == 0
    legacy = [(f["rule"], f.get("fact")) for f in json.loads(out.read_text())["findings"]
              if f["host"] == "sec-legacy" and f.get("fact") == "env.MLFLOW_SERVER_ALLOWED_HOSTS"]
    assert legacy == [("mlflow-policy/unknown-mlflow-env", "env.MLFLOW_SERVER_ALLOWED_HOSTS")]


def test_wheel_claims_name_rules_of_the_pack() -> None:
    """tools/verify_pack_evidence.py (run against the wheels by hand, it needs PyPI) names
    the rules each checked claim supports: they must exist."""
    spec = importlib.util.spec_from_file_location(
        "verify_pack_evidence", REPO / "tools" / "verify_pack_evidence.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_pack_evidence"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    named = {rid for claim in module.CLAIMS for rid in claim.rules.split()}
    assert named <= {r.rule.id for r in RULES}
    assert len(named) >= 20
