"""Per-host variable precedence, as ``VariableManager.get_vars`` (2.19, default
``VARIABLE_PRECEDENCE`` and ``hash_behaviour: replace``) computes it for
``ansible-inventory --list``:

    all inline < groups inline (sorted) < all group_vars (inventory dir, then playbook
    dir) < groups' group_vars (inventory dir, sorted), then (playbook dir) < host inline
    < host_vars (inventory dir) < host_vars (playbook dir)

Groups sort by ``(depth, ansible_group_priority, name)``. Everything up to the host's own
vars depends only on the host's set of groups, so it is merged once per distinct group
set and shared by every host with that set: resolving 10,000 hosts costs one dict copy
per host, not one merge of every layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_policy.core import Location
from mlflow_policy.inventory.context import ResolverState
from mlflow_policy.inventory.data import Entry, InventoryData
from mlflow_policy.inventory.types import ResolvedHost
from mlflow_policy.inventory.varsfiles import VarsDir, VarsLayer

# ansible.constants.INTERNAL_STATIC_VARS: what ansible-inventory removes from hostvars.
INTERNAL_VARS = frozenset({
    "ansible_async_path", "ansible_collection_name", "ansible_config_file",
    "ansible_dependent_role_names", "ansible_diff_mode", "ansible_facts", "ansible_forks",
    "ansible_inventory_sources", "ansible_limit", "ansible_play_batch", "ansible_play_hosts",
    "ansible_play_hosts_all", "ansible_play_role_names", "ansible_playbook_python",
    "ansible_role_name", "ansible_role_names", "ansible_run_tags", "ansible_skip_tags",
    "ansible_verbosity", "ansible_version", "inventory_dir", "inventory_file",
    "inventory_hostname", "inventory_hostname_short", "groups", "group_names", "hostvars",
    "playbook_dir", "play_hosts", "role_name", "role_names", "role_path", "role_uuid",
})

_EMPTY: frozenset[str] = frozenset()
_VAULTED: dict[frozenset[str], frozenset[str]] = {}


def _paths(key: str, entry: Entry) -> tuple[dict[str, Location], set[str]]:
    prov = {key: entry.loc}
    for sub, loc in entry.nested.items():
        prov[f"{key}.{sub}"] = loc
    vaulted = {f"{key}.{p}" if p else key for p in entry.vaulted}
    return prov, vaulted


@dataclass
class _Base:
    entries: dict[str, Entry]
    raw: dict[str, Any]
    prov: dict[str, Location]
    vaulted: frozenset[str]
    templated: tuple[str, ...]  # the keys whose entry holds a template, in entry order


@dataclass
class HostLayers:
    """One host's winning entries plus what ResolvedHost needs (before templating)."""

    name: str
    groups: tuple[str, ...]
    entries: dict[str, Entry]
    raw: dict[str, Any]
    prov: dict[str, Location]
    vaulted: frozenset[str]
    templated: tuple[str, ...]  # the keys whose entry holds a template, in entry order


class Resolver:
    def __init__(self, inv: InventoryData, ctx: ResolverState, inv_dir: Path,
                 playbook_dir: Path | None) -> None:
        self.inv = inv
        self.ctx = ctx
        bases = [inv_dir]
        # The same directory as both inventory dir and playbook dir gives the same result
        # once or twice (replace is idempotent); read it once.
        if playbook_dir is not None and playbook_dir.resolve() != inv_dir.resolve():
            bases.append(playbook_dir)
        self.group_dirs = [VarsDir(b.resolve(), "group_vars", ctx) for b in bases]
        self.host_dirs = [VarsDir(b.resolve(), "host_vars", ctx) for b in bases]
        self._group_layers: dict[tuple[int, str], VarsLayer] = {}
        self._bases: dict[tuple[str, ...], _Base] = {}
        self._sort_key = {g.name: (g.depth, g.priority, g.name) for g in inv.groups.values()}
        self._ordered: dict[tuple[str, ...], tuple[str, ...]] = {}

    def _group_file_layer(self, i: int, group: str) -> VarsLayer:
        key = (i, group)
        layer = self._group_layers.get(key)
        if layer is None:
            layer = self._group_layers[key] = self.group_dirs[i].layer_for(group)
        return layer

    def _base(self, groups: tuple[str, ...]) -> _Base:
        base = self._bases.get(groups)
        if base is not None:
            return base
        merged: dict[str, Entry] = dict(self.inv.groups["all"].vars)
        for g in groups:
            merged.update(self.inv.groups[g].vars)
        for i in range(len(self.group_dirs)):
            merged.update(self._group_file_layer(i, "all"))
        for i in range(len(self.group_dirs)):
            for g in groups:
                merged.update(self._group_file_layer(i, g))
        entries = {k: e for k, e in merged.items() if k not in INTERNAL_VARS}
        raw: dict[str, Any] = {}
        prov: dict[str, Location] = {}
        vaulted: set[str] = set()
        for k, e in entries.items():
            raw[k] = e.value
            p, v = _paths(k, e)
            prov.update(p)
            vaulted |= v
        base = self._bases[groups] = _Base(
            entries, raw, prov, frozenset(vaulted) or _EMPTY,
            tuple(k for k, e in entries.items() if e.has_template))
        return base

    def host(self, name: str) -> HostLayers:
        host = self.inv.hosts[name]
        member = self.inv.membership(host)
        ordered = self._ordered.get(member.group_names)
        if ordered is None:
            ordered = self._ordered[member.group_names] = tuple(
                sorted(member.group_names, key=self._sort_key.__getitem__))
        base = self._base(ordered)
        overrides: dict[str, Entry] = {}
        overrides.update(host.vars)
        for vdir in self.host_dirs:
            for path in vdir.files_for(name):
                overrides.update(self.ctx.vars_file(path))
        groups = member.groups
        for k in INTERNAL_VARS.intersection(overrides):
            del overrides[k]
        if not overrides:
            return HostLayers(name, groups, base.entries, base.raw, base.prov, base.vaulted,
                              base.templated)
        entries = dict(base.entries)
        raw = dict(base.raw)
        prov = dict(base.prov)
        vaulted: set[str] | None = None
        for k, e in overrides.items():
            old = entries.get(k)
            if old is not None and (old.nested or old.vaulted):
                for sub in old.nested:
                    prov.pop(f"{k}.{sub}", None)
                if old.vaulted:
                    vaulted = set(base.vaulted) if vaulted is None else vaulted
                    vaulted.difference_update(f"{k}.{p}" if p else k for p in old.vaulted)
            entries[k] = e
            raw[k] = e.value
            prov[k] = e.loc
            if e.nested:
                for sub, loc in e.nested.items():
                    prov[f"{k}.{sub}"] = loc
            if e.vaulted:
                vaulted = set(base.vaulted) if vaulted is None else vaulted
                vaulted.update(f"{k}.{p}" if p else k for p in e.vaulted)
        # an override keeps its key's place in the entries (dict order), as templated must
        templated = base.templated
        if any(e.has_template for e in overrides.values()) or any(
                k in overrides for k in templated):
            templated = tuple(k for k, e in entries.items() if e.has_template)
        return HostLayers(name, groups, entries, raw, prov,
                          base.vaulted if vaulted is None else frozenset(vaulted) or _EMPTY,
                          templated)


def resolved_host(
    layers: HostLayers, rendered: tuple[dict[str, Any], frozenset[str]] | None
) -> ResolvedHost:
    vars_, vaulted = layers.raw, layers.vaulted
    if rendered is not None:
        vars_ = rendered[0]
        if rendered[1]:
            union = vaulted | rendered[1]
            # hosts whose templates read the same secrets share one set, so that caches
            # keyed by its identity (masking, "is this path vaulted") serve all of them
            vaulted = _VAULTED.setdefault(union, union)
            if len(_VAULTED) > 4096:
                _VAULTED.clear()
    return ResolvedHost(
        name=layers.name,
        groups=layers.groups,
        vars=vars_,
        raw_vars=layers.raw,
        provenance=layers.prov,
        vaulted=vaulted,
    )
