"""Hand-written inventory fixtures, one per precedence rule or format feature, each
resolved by us and by ``ansible-inventory --list`` and required to agree exactly.

A case is a directory under ``tests/fixtures/inventory/`` with a ``case.yml``:

- ``inventory``: the ``-i`` path, relative to the case directory;
- ``playbook_dir``: optional; otherwise Ansible gets an empty playbook dir, so that it
  reads only inventory-adjacent vars, as we do without ``--playbook-dir``;
- ``expect``: host -> var -> value our raw vars must hold (pins what the case is about,
  so a case cannot pass by both tools ignoring the feature);
- ``expect_rendered`` / ``unresolved`` / ``render``: templating expectations, and whether
  to compare every rendered template with Ansible's own Templar;
- ``vaulted``: host -> dotted paths that must be reported vaulted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy import yamlio
from mlflow_policy.core import VaultedValue
from mlflow_policy.inventory import ResolvedInventory, resolve_inventory
from tests import oracle

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.yml").is_file())


def _case(name: str) -> dict[str, Any]:
    data = yamlio.load_file(FIXTURES / name / "case.yml")
    assert isinstance(data, dict)
    return data


def _resolve(name: str, case: dict[str, Any]) -> ResolvedInventory:
    base = FIXTURES / name
    playbook = case.get("playbook_dir")
    return resolve_inventory(base / case["inventory"],
                             playbook_dir=base / playbook if playbook else None, root=base)


def _oracle(name: str, case: dict[str, Any]) -> dict[str, Any]:
    base = FIXTURES / name
    with tempfile.TemporaryDirectory() as empty:
        playbook = case.get("playbook_dir") or empty
        return oracle.ansible_inventory_list(
            ["-i", case["inventory"], "--playbook-dir", str(playbook)], base)


def test_every_fixture_directory_is_a_case() -> None:
    stray = [p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in CASES]
    assert stray == []
    assert len(CASES) >= 15


@pytest.mark.ansible
@pytest.mark.parametrize("name", CASES)
def test_fixture_agrees_with_ansible_inventory(name: str) -> None:
    case = _case(name)
    ours = _resolve(name, case)
    listed = _oracle(name, case)

    expected = oracle.hostvars_from_list(listed)
    got = oracle.normalise_hostvars({h: r.raw_vars for h, r in ours.hosts.items()})
    assert sorted(got) == sorted(expected)
    for host in expected:
        assert got[host] == expected[host], host

    assert {h: list(r.groups) for h, r in ours.hosts.items()} == oracle.host_groups_from_list(
        listed)
    # --list leaves out groups with neither hosts nor children, and never lists the
    # hosts of 'all'
    structure = {
        g.name: {"hosts": sorted(g.hosts) if g.name != "all" else [],
                 "children": sorted(g.children)}
        for g in ours.groups.values() if g.hosts or g.children
    }
    assert structure == oracle.groups_from_list(listed)


@pytest.mark.parametrize("name", CASES)
def test_fixture_pins_its_feature(name: str) -> None:
    case = _case(name)
    ours = _resolve(name, case)
    for host, want in (case.get("expect") or {}).items():
        raw = ours.hosts[host].raw_vars
        for var, value in want.items():
            if value == "bytes":  # b'..' literals become text
                assert isinstance(raw[var], str), var
            else:
                assert oracle.normalise(raw[var]) == value, (host, var)
    for host, paths in (case.get("vaulted") or {}).items():
        assert set(paths) <= ours.hosts[host].vaulted
        for path in paths:
            assert ours.hosts[host].provenance[path].path.endswith((".yml", ".json"))
    for host, paths in (case.get("not_vaulted") or {}).items():
        assert not set(paths) & ours.hosts[host].vaulted
    for host, want in (case.get("expect_rendered") or {}).items():
        rendered = ours.hosts[host].vars
        for var, value in want.items():
            assert oracle.normalise(rendered[var]) == value, (host, var)
    unresolved = set(case.get("unresolved") or ())
    if unresolved:
        for host in ours.hosts:
            facts = {d.fact for d in ours.diagnostics if d.host == host}
            assert {f"vars.{v}" for v in unresolved} <= facts, host
            for var in unresolved:
                assert ours.hosts[host].vars[var] == ours.hosts[host].raw_vars[var]
    else:
        assert not [d for d in ours.diagnostics if d.rule.endswith("unresolved-template")]


@pytest.mark.ansible
@pytest.mark.slow
@pytest.mark.parametrize("name", [c for c in CASES if _case(c).get("render")])
def test_rendered_templates_agree_with_ansible(name: str) -> None:
    """Every template we render must render to what Ansible's Templar gives; what we
    report unresolved, Ansible must fail on or need a lookup for."""
    case = _case(name)
    ours = _resolve(name, case)
    hosts = sorted(ours.hosts)
    names = sorted({k for h in ours.hosts.values() for k in h.raw_vars
                    if h.vars[k] is not h.raw_vars[k] or
                    any(d.fact == f"vars.{k}" for d in ours.diagnostics)})
    assert names
    with tempfile.TemporaryDirectory() as empty:
        theirs = oracle.ansible_rendered_vars(
            [case["inventory"]], FIXTURES / name, hosts, names,
            playbook_dir=case.get("playbook_dir") or empty)
    unresolved = {(d.host, d.fact) for d in ours.diagnostics}
    for host in hosts:
        for var in names:
            if var not in ours.hosts[host].raw_vars:
                continue
            expected = theirs[host][var]
            vaulted = {p for p in ours.hosts[host].vaulted if p == var or p.startswith(var + ".")}
            if vaulted and not isinstance(ours.hosts[host].raw_vars[var], VaultedValue):
                # rendered from a vaulted value: Ansible cannot either without the secret
                assert isinstance(expected, dict), (host, var)
                assert "__error__" in expected, (host, var)
            elif (host, f"vars.{var}") in unresolved:
                assert (isinstance(expected, dict) and "__error__" in expected) or (
                    "lookup" in str(ours.hosts[host].raw_vars[var])), (host, var, expected)
            else:
                assert oracle.normalise(ours.hosts[host].vars[var]) == expected, (host, var)
