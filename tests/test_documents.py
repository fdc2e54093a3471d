"""Declared and observed fact documents: the document each mode evaluates, and drift.

Each row of DRIFT_CASES is one declared/observed pair and exactly the drift items (path,
status) the diff over ``drift:`` entries must give.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.core import FactDocument, Location, VaultedValue
from mlflow_policy.facts.document import for_mode
from mlflow_policy.facts.drift import VAULTED_REASON, diff
from mlflow_policy.facts.lookup import lookup, vaulted_at

DECLARED = FactDocument(
    values={"host": "t-1", "inventory": "prod", "groups": ["servers"], "role": "tracking_server",
            "vars": {"mlflow_version": "3.17.2"},
            "mlflow": {"version": "3.17.2", "python": "/opt/mlflow/bin/python",
                       "env_file": "/etc/default/mlflow"},
            "server": {"url": "https://m.example.com", "port": 5000,
                       "backend_store_uri": "postgresql://db/mlflow"},
            "env": {"MLFLOW_TRACKING_URI": "https://m.example.com",
                    "MLFLOW_FLASK_SERVER_SECRET_KEY": VaultedValue("$ANSIBLE_VAULT;1.1;x")}},
    provenance={"mlflow.version": Location("inventories/prod/group_vars/all.yml", 2, 17)},
    vaulted=frozenset({"env.MLFLOW_FLASK_SERVER_SECRET_KEY"}),
)


def _observed(**changes: Any) -> FactDocument:
    values: dict[str, Any] = {
        "mlflow": {"version": "3.17.2"},
        "server": {"port": "5000", "backend_store_uri": "postgresql://db/mlflow",
                   "running": True},
        "env": {"MLFLOW_TRACKING_URI": "https://m.example.com",
                "MLFLOW_FLASK_SERVER_SECRET_KEY": "in-clear-on-the-host"},
    }
    unavailable = changes.pop("unavailable", {})
    host_unavailable = changes.pop("host_unavailable", None)
    for path, value in changes.items():
        node = values
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return FactDocument(values=values, sources={"env": "live: /proc/4242/environ"},
                        unavailable=unavailable, host_unavailable=host_unavailable)


DRIFT_CASES: list[tuple[str, FactDocument, list[str], list[tuple[str, str]]]] = [
    ("same-values-no-drift (port 5000 declared, '5000' observed)", _observed(),
     ["mlflow.version", "env", "server"],
     [("env.MLFLOW_FLASK_SERVER_SECRET_KEY", "unknown")]),
    ("a-version-drifts", _observed(mlflow__version="3.18.0"), ["mlflow.version"],
     [("mlflow.version", "drift")]),
    ("an-env-key-only-observed-drifts", _observed(env__MLFLOW_X="1"), ["env"],
     [("env.MLFLOW_FLASK_SERVER_SECRET_KEY", "unknown"), ("env.MLFLOW_X", "drift")]),
    ("a-declared-key-not-observed-drifts", _observed(env__MLFLOW_TRACKING_URI=None),
     ["env.MLFLOW_TRACKING_URI"], [("env.MLFLOW_TRACKING_URI", "drift")]),
    ("declared-only-facts-never-drift (server.url)", _observed(), ["server"], []),
    ("an-unavailable-fact-is-unknown",
     _observed(unavailable={"server.backend_store_uri": "no running server"}),
     ["server.backend_store_uri"], [("server.backend_store_uri", "unknown")]),
    ("an-unreachable-host-is-unknown-everywhere",
     _observed(host_unavailable="unreachable: ssh timeout"), ["mlflow.version", "env"],
     [("env", "unknown"), ("mlflow.version", "unknown")]),
    # db.revision: declared as the alembic head of the declared mlflow.version (3.17.2)
    ("a-database-at-the-declared-head-does-not-drift", _observed(db={"revision": "dc11669786a5"}),
     ["db.revision"], []),
    ("a-database-left-behind-drifts", _observed(db={"revision": "6f8d9c3b2a1e"}),
     ["db.revision"], [("db.revision", "drift")]),
    ("a-host-without-a-backend-store-has-no-revision-to-compare", _observed(),
     ["db.revision"], []),
    ("an-unread-revision-is-unknown",
     _observed(unavailable={"db.revision": "no running server"}), ["db"],
     [("db.revision", "unknown")]),
    ("entries-outside-drift-are-not-compared", _observed(mlflow__version="3.18.0"), ["env"],
     [("env.MLFLOW_FLASK_SERVER_SECRET_KEY", "unknown")]),
]


@pytest.mark.parametrize(("name", "observed", "entries", "expected"), DRIFT_CASES,
                         ids=[c[0] for c in DRIFT_CASES])
def test_drift(name: str, observed: FactDocument, entries: list[str],
               expected: list[tuple[str, str]]) -> None:
    got = diff(DECLARED, observed, entries)
    assert [(i.path, i.status) for i in got] == expected


def test_a_vaulted_value_is_unknown_never_drift() -> None:
    item = next(i for i in diff(DECLARED, _observed(), ["env"])
                if i.path == "env.MLFLOW_FLASK_SERVER_SECRET_KEY")
    assert (item.status, item.reason) == ("unknown", VAULTED_REASON)


def test_drift_points_at_the_declared_line() -> None:
    item = diff(DECLARED, _observed(mlflow__version="3.18.0"), ["mlflow.version"])[0]
    assert (item.declared, item.observed) == ("3.17.2", "3.18.0")
    assert item.location == Location("inventories/prod/group_vars/all.yml", 2, 17)


def test_revision_drift_names_the_head_and_the_version_line() -> None:
    item = diff(DECLARED, _observed(db={"revision": "6f8d9c3b2a1e"}), ["db.revision"])[0]
    assert (item.declared, item.observed) == ("dc11669786a5", "6f8d9c3b2a1e")
    assert item.location == Location("inventories/prod/group_vars/all.yml", 2, 17)


def test_static_mode_reads_the_declared_document() -> None:
    host = for_mode("t-1", "prod", DECLARED, None, "static")
    assert host.facts is DECLARED.values
    assert host.declared is DECLARED
    assert host.observed is None


def test_live_mode_reads_observed_facts_and_keeps_declared_only_ones() -> None:
    """The old shallow merge replaced the whole declared ``server`` mapping by the observed
    one, so ``server.url`` (declared only) vanished in live mode."""
    host = for_mode("t-1", "prod", DECLARED, _observed(mlflow__version="3.18.0"), "live")
    assert lookup(host, "mlflow.version").value == "3.18.0"  # observed wins
    assert lookup(host, "server.port").value == "5000"
    assert lookup(host, "server.running").value is True  # observed only
    for path, value in [("server.url", "https://m.example.com"),
                        ("mlflow.python", "/opt/mlflow/bin/python"),
                        ("mlflow.env_file", "/etc/default/mlflow"),
                        ("groups", ["servers"]), ("vars.mlflow_version", "3.17.2")]:
        assert lookup(host, path).value == value, path
    # an observed secret read in clear stays masked where the inventory vaults it
    assert vaulted_at(host, "env.MLFLOW_FLASK_SERVER_SECRET_KEY")
    assert host.provenance.get("mlflow.version") == Location(
        "inventories/prod/group_vars/all.yml", 2, 17)


def test_an_unreachable_host_has_every_observed_fact_unavailable() -> None:
    host = for_mode("t-1", "prod", DECLARED, _observed(host_unavailable="unreachable"), "live")
    assert lookup(host, "db.revision").unavailable == "unreachable"
    assert lookup(host, "env.MLFLOW_TRACKING_URI").unavailable == "unreachable"
    assert lookup(host, "server.url").value == "https://m.example.com"
    assert lookup(host, "server.url").unavailable is None


def test_origins_name_the_inventory_line_or_the_live_source() -> None:
    assert DECLARED.origin("mlflow.version") == Location(
        "inventories/prod/group_vars/all.yml", 2, 17)
    assert _observed().origin("env.MLFLOW_TRACKING_URI") == "live: /proc/4242/environ"
    assert _observed().origin("mlflow.version") is None


def test_a_live_fleet_runs_the_same_pipeline_and_reports_drift(tmp_path: Path) -> None:
    """What the live source will do: declared hosts from the resolver, observed documents
    from the gatherer, then run_check (rules read observed facts, drift is reported)."""
    from datetime import date

    from mlflow_policy.config import RunConfig
    from mlflow_policy.pipeline import run_check
    from mlflow_policy.policy.loader import load_paths
    from mlflow_policy.sources import StaticInventories, with_observed

    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts").write_text(
        "t-1 mlflow_version=3.17.2 mlflow_server_url=https://m.example.com\nt-2\n")
    (tmp_path / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n  rules:\n"
        "    - {id: url, assert: {server.url: {required: true}}}\n"
        "    - {id: running, assert: {server.running: {equals: true}}}\n")
    declared = StaticInventories([tmp_path / "inv"], RunConfig(), tmp_path).load()
    live = with_observed(declared, {("inv", "t-1"): FactDocument(
        values={"mlflow": {"version": "3.18.0"}, "server": {"running": True}})})
    result = run_check(live, load_paths((tmp_path / "p.yaml",), tmp_path).policies,
                       today=date(2026, 1, 1))
    got = sorted((f.rule, f.host, f.fact) for f in result.findings)
    assert got == [("mlflow-policy/drift", "t-1", "mlflow.version"),
                   ("p/url", "t-2", "server.url")]
    assert result.outcome("p/running", "inv", "t-2").status == "skip"
    assert result.outcome("p/url", "inv", "t-1").status == "pass"  # declared only, still seen
    assert result.mode == "live"
