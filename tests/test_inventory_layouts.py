"""Differential test of ``group_vars/`` and ``host_vars/`` layouts: files with every
extension (used, shadowed, ignored), directories of them (nested, hidden, backups),
inventory-adjacent and playbook-adjacent, drawn by Hypothesis and resolved by us and by
``ansible-inventory --list``. Hostvars must agree, and every winning value's provenance
must point at a file that really sets it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from mlflow_policy.inventory import resolve_inventory
from tests import oracle

EXAMPLES = int(os.environ.get("MLFLOW_POLICY_LAYOUT_EXAMPLES", "12"))
HOSTS = "[g1]\nh1\n[g2:children]\ng1\n[g2]\nh2\n"
GROUP_NAMES = ["all", "g1", "g2", "ungrouped", "not_a_group"]
HOST_NAMES = ["h1", "h2", "not_a_host"]
EXTS = ["", ".yml", ".yaml", ".json", ".txt", ".yml~", ".YML"]
DIR_FILES = ["10", "20.yml", ".hidden.yml", "30.txt", "40.json", "50.yml~", "sub/60.yml",
             "sub.d/70.yml"]

file_body = st.sampled_from(["yaml", "json", "comment", "empty_map"])
dir_layout = st.dictionaries(st.sampled_from(DIR_FILES), file_body, max_size=4)
entry = st.tuples(st.sampled_from(EXTS), st.one_of(file_body, dir_layout))


def vars_dir(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(names), st.lists(entry, max_size=3), max_size=4)


side = st.fixed_dictionaries({"group_vars": vars_dir(GROUP_NAMES),
                              "host_vars": vars_dir(HOST_NAMES)})


def _body(kind: str, tag: str) -> str:
    if kind == "yaml":
        return f"a: {tag}\nd:\n  x: {tag}\n"
    if kind == "json":
        return json.dumps({"b": tag, "d": {"y": tag}})
    return "# nothing\n" if kind == "comment" else "{}\n"


def _write(root: Path, layout: dict[str, Any]) -> None:
    for sub, names in layout.items():
        for name, entries in names.items():
            for ext, body in entries:
                target = root / sub / (name + ext)
                tag = f"{root.name}/{sub}/{name}{ext}".replace("~", "T")
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(body, dict):
                    for rel, kind in body.items():
                        f = target / rel
                        f.parent.mkdir(parents=True, exist_ok=True)
                        f.write_text(_body(kind, f"{tag}/{rel}".replace("~", "T")))
                    target.mkdir(exist_ok=True)
                else:
                    target.write_text(_body(body, tag))


@pytest.mark.ansible
@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(inv=side, play=side, use_play=st.booleans())
def test_vars_layouts_agree_with_ansible(inv: dict[str, Any], play: dict[str, Any],
                                         use_play: bool) -> None:
    oracle.require_ansible()
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as empty:
        base = Path(tmp)
        (base / "inv").mkdir()
        (base / "inv" / "hosts").write_text(HOSTS)
        (base / "play").mkdir()
        _write(base / "inv", inv)
        _write(base / "play", play)
        note("\n".join(sorted(str(p.relative_to(base)) for p in base.rglob("*"))))
        playbook = base / "play" if use_play else None
        ours = resolve_inventory(base / "inv" / "hosts", root=base, playbook_dir=playbook)
        listed = oracle.ansible_inventory_list(
            ["-i", "inv/hosts", "--playbook-dir", str(playbook or empty)], base)
        got = oracle.normalise_hostvars({h: r.raw_vars for h, r in ours.hosts.items()})
        assert got == oracle.hostvars_from_list(listed)
        for host in ours.hosts.values():
            for var, value in host.raw_vars.items():
                loc = host.provenance[var]
                written = yaml.safe_load((base / loc.path).read_text())
                assert written[var] == value, (host.name, var, loc)
