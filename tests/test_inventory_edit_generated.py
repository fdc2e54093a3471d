"""``--write`` on generated inventories, with Ansible as the oracle.

Hypothesis draws whole inventories with the differential resolver test's strategy (YAML or
INI; nested groups, diamonds, priorities; inline vars, group_vars/host_vars as files,
directories and shadowed files; ranges, ports; a playbook dir), then changes for a few
hosts (existing or new variables, nested keys of a mapping, values YAML 1.1 and INI read in
several ways). After ``plan_edits(...).write()``, ``ansible-inventory --list`` must show
exactly the old hostvars plus every change that was written, and nothing else: no other
host and no other variable moves. A change that was not written must come with a note.
Planning again on the result changes nothing.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from mlflow_policy.inventory import resolve_inventory
from mlflow_policy.remediate.change import HostvarChange
from mlflow_policy.remediate.inventory_edit import plan_edits
from tests.gen_inventory import Inventory, write_inventory
from tests.oracle import ansible_inventory_list, hostvars_from_list, normalise, require_ansible
from tests.test_inventory_generated import KEYS, VAR_NAMES, inventories

pytestmark = [pytest.mark.ansible, pytest.mark.slow]

# two ansible-inventory runs and two plans per example (~1 s each on an idle machine)
EXAMPLES = int(os.environ.get("MLFLOW_POLICY_EDIT_EXAMPLES", "10"))
VALUES: list[Any] = ["3.18.0", "yes", "0644", "it's # \"x\"", "a b", "", 7, True, "{}",
                     [1, "on"], {"k": "v"}]
Change = tuple[int, tuple[str, ...], Any]


@st.composite
def changes(draw: st.DrawFn) -> list[Change]:
    """(host index, hostvar path, value); host indexes are taken modulo the host count."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        var = draw(st.sampled_from([*VAR_NAMES, "probe", "brand_new"]))
        path: tuple[str, ...] = (var,)
        if var == "mlflow_env" or draw(st.integers(0, 4)) == 0:
            path = (var, draw(st.sampled_from(KEYS)))
        out.append((draw(st.integers(0, 20)), path, draw(st.sampled_from(VALUES))))
    return out


def _ansible(source: Path, playbook: Path, cwd: Path) -> dict[str, dict[str, Any]]:
    return hostvars_from_list(ansible_inventory_list(
        ["-i", str(source), "--playbook-dir", str(playbook)], cwd))


def _at(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return KeyError
        doc = doc[key]
    return doc


@pytest.fixture(scope="module")
def ansible_present() -> None:
    require_ansible()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(inv=inventories(), asked=changes(), whole_groups=st.booleans())
def test_written_changes_and_nothing_else(ansible_present: None, inv: Inventory,
                                          asked: list[Change], whole_groups: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="mlflow-policy-editinv-") as tmp:
        root = Path(tmp)
        written = write_inventory(inv, root)
        playbook = written.playbook_dir if written.has_playbook_vars else None
        resolved = resolve_inventory(written.source, playbook_dir=playbook, root=root)
        hosts = sorted(resolved.hosts)
        if not hosts:
            return
        source = Path(os.path.abspath(written.source))
        wanted: dict[tuple[str, tuple[str, ...]], Any] = {}
        for index, path, value in asked:
            targets = [hosts[index % len(hosts)]]
            if whole_groups:  # the same change for every host of one of its groups
                groups = sorted(g for g in resolved.hosts[targets[0]].groups if g != "all")
                if groups:
                    info = resolved.groups[groups[index % len(groups)]]
                    targets = sorted({h for h in resolved.hosts
                                      if info.name in resolved.hosts[h].groups})
            for host in targets:
                wanted.setdefault((host, path), value)
        # one value per (host, top-level var) prefix chain: a var and a key under it
        # asked for the same host would contradict each other
        kept = {k: v for k, v in wanted.items()
                if not any(o[0] == k[0] and o[1] != k[1] and k[1][:len(o[1])] == o[1]
                           for o in wanted)}
        items = [HostvarChange(source, h, p, v, ("test/rule",)) for (h, p), v in kept.items()]
        note("\n".join(f"{c.host}: {'.'.join(c.hostvar)} = {c.value!r}" for c in items))
        note(written.listing())

        before = _ansible(written.source, written.playbook_dir, root)
        plan = plan_edits(items, [resolved])
        note(plan.diff())
        note("\n".join(plan.notes))
        plan.write()
        after = _ansible(written.source, written.playbook_dir, root)

        expected = copy.deepcopy(before)
        missed = []
        for change in items:
            if _at(after[change.host], change.hostvar) != normalise(change.value):
                missed.append(change)
                continue
            node = expected[change.host]
            for key in change.hostvar[:-1]:
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node = node[key]
            node[change.hostvar[-1]] = normalise(change.value)
        event(f"changes written: {len(items) - len(missed)} of {len(items)}")
        assert after == expected, "a host or variable changed that no change asked for"
        assert not missed or plan.notes, f"not written and no note says why: {missed}"

        again = plan_edits(items, [resolve_inventory(written.source, playbook_dir=playbook,
                                                     root=root)])
        assert again.files == {}, again.diff()
