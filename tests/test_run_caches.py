"""Caches belong to a run: a run reuses what its hosts share (one verdict per distinct
value), and once it is over, nothing of it is kept by module state (a long-lived program
runs many; ids of dead objects are reused)."""

from __future__ import annotations

import gc
import weakref
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.core import HostFacts
from mlflow_policy.engine import evaluate
from mlflow_policy.policy import conditions
from mlflow_policy.policy.loader import load_paths
from mlflow_policy.rules.base import RuleContext

POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {name: p}
spec:
  match:
    where: {mlflow.version: {required: true}}
  rules:
    - id: pinned
      assert: {mlflow.version: {matches: '^3\\.', not_equals: "2.0"}}
    - id: same-as-server
      peer:
        via: env.MLFLOW_TRACKING_URI
        target: {match: {roles: [server]}, key: server.url}
        assert: {mlflow.version: {equals: "{{ peer.mlflow.version }}"}}
"""


def _fleet(n: int) -> list[HostFacts]:
    server = HostFacts(host="srv", inventory="i", facts={
        "host": "srv", "inventory": "i", "role": "server", "groups": [],
        "server": {"url": "http://srv:5000"}, "mlflow": {"version": "3.1.0"},
        "vars": {"banned": "2.0"}})
    clients = [HostFacts(host=f"c{i:03}", inventory="i", facts={
        "host": f"c{i:03}", "inventory": "i", "role": "client", "groups": [],
        "env": {"MLFLOW_TRACKING_URI": "http://srv:5000"},
        "mlflow": {"version": "3.1.0" if i % 2 else "3.2.0"}, "vars": {"banned": "2.0"}})
        for i in range(n)]
    return [server, *clients]


@pytest.fixture
def policies(tmp_path: Path) -> Any:
    (tmp_path / "p.yaml").write_text(POLICY)
    return load_paths([tmp_path / "p.yaml"], tmp_path).policies


def test_a_run_computes_one_verdict_per_distinct_value(
    policies: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[str] = []
    real = conditions._condition

    def counting(cond: Any, subject: Any) -> Any:
        computed.append(subject.path)
        return real(cond, subject)

    monkeypatch.setattr(conditions, "_condition", counting)
    result = evaluate(policies, _fleet(200), today=date(2026, 1, 1))
    assert len(result.findings) == 100  # the clients on 3.2.0 differ from their server
    # where (2 versions), pinned (2 versions), peer (2 versions against one server):
    # 6 verdicts for 603 checks, and the 3 texts made once per condition
    assert len(computed) == 6, computed


def test_two_runs_share_no_memo() -> None:
    assert RuleContext(all_hosts=()).memo is not RuleContext(all_hosts=()).memo


def test_without_a_memo_nothing_is_cached(policies: Any) -> None:
    """Library callers of check() without the run's memo get the same answers."""
    cond = policies[0].rules[0].rule.assert_["mlflow.version"]
    host = _fleet(1)[1]
    with_memo = conditions.check(cond, host, "mlflow.version", memo=conditions.ConditionMemo())
    without = conditions.check(cond, host, "mlflow.version")
    assert (with_memo.ok, with_memo.expected, with_memo.message) == (
        without.ok, without.expected, without.message)


def test_nothing_of_a_run_outlives_it(tmp_path: Path) -> None:
    """Module-level caches keyed by id() kept every condition (and the peers' facts its
    templates read) alive after the run; the run's memo dies with it."""
    (tmp_path / "p.yaml").write_text(POLICY)
    policies = load_paths([tmp_path / "p.yaml"], tmp_path).policies
    result = evaluate(policies, _fleet(20), today=date(2026, 1, 1))
    assert result.findings
    conds = [weakref.ref(c) for p in policies for r in p.rules
             for c in [*(r.rule.assert_ or {}).values(),
                       *((r.rule.peer.assert_ or {}).values() if r.rule.peer else ())]]
    selectors = [weakref.ref(r.policy_match) for p in policies for r in p.rules
                 if r.policy_match is not None]
    assert len(conds) == 2
    assert selectors
    del policies, result
    gc.collect()
    assert [r() for r in conds] == [None, None]
    assert {r() for r in selectors} == {None}


class _Reasons(dict[str, str]):
    """A dict that can be weakly referenced."""


def test_a_lookup_keeps_no_unavailable_mapping_alive() -> None:
    from mlflow_policy.facts.lookup import lookup

    reasons = _Reasons({"db": "observed only"})
    host = HostFacts(host="h", inventory="i", facts={"env": {}}, unavailable=reasons)
    assert lookup(host, "db.revision").unavailable == "observed only"
    assert lookup(host, "env.X").absent
    gone = weakref.ref(reasons)
    del reasons, host
    gc.collect()
    assert gone() is None


def test_caches_keyed_by_inventory_values_are_bounded() -> None:
    """A cache keyed by what inventories contain must not grow for ever in a long-lived
    program; content-keyed and bounded, it may be shared between runs."""
    from mlflow_policy.facts import envcheck

    for cached in (envcheck._exact_version, envcheck._read, envcheck._candidates,
                   envcheck.suggest):
        assert cached.cache_info().maxsize is not None, cached


def test_no_module_level_cache_is_keyed_by_id() -> None:
    """A module-level dict keyed by id() (``dict[int, ...]``, ``dict[tuple[int, ...``)
    outlives the objects whose ids it holds: such caches belong to a run object."""
    import ast

    from tests.support import REPO

    found = []
    for path in sorted((REPO / "mlflow_policy").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.AnnAssign):
                annotation = ast.unparse(node.annotation).replace(" ", "")
                if annotation.startswith(("dict[int,", "dict[tuple[int,")):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []
