"""``resolve_inventory``: sources -> inventory model -> per-host precedence -> templates."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlflow_policy.core import Diagnostic
from mlflow_policy.dotted import nearest
from mlflow_policy.errors import InputError, raise_all
from mlflow_policy.inventory.context import ResolverState
from mlflow_policy.inventory.data import InventoryData, InventoryError
from mlflow_policy.inventory.hostpatterns import is_ip_address
from mlflow_policy.inventory.resolve import HostLayers, Resolver, resolved_host
from mlflow_policy.inventory.sources import read_source, source_files
from mlflow_policy.inventory.types import GroupInfo, ResolvedHost, ResolvedInventory
from mlflow_policy.inventory.vault import VaultSecrets


def inventory_name(path: Path) -> str:
    absolute = Path(os.path.abspath(path))
    return absolute.name if absolute.is_dir() else absolute.stem


def load_inventory(path: Path, ctx: ResolverState) -> InventoryData:
    inv = InventoryData()
    for source in source_files(path, ctx):
        try:
            read_source(source, inv, ctx)
        except InputError as exc:
            ctx.errors.append(exc)
    raise_all(ctx.errors)
    try:
        inv.reconcile()
    except InventoryError as exc:
        raise InputError(str(exc), ctx.display(path)) from None
    return inv


def _groups_dict(inv: InventoryData) -> dict[str, list[str]]:
    """The ``groups`` magic var: every group's hosts, its own first, then its children's."""
    out: dict[str, list[str]] = {}
    for name in inv.groups:
        seen: set[str] = set()
        hosts: list[str] = []
        order = [name]
        visited = {name}
        i = 0
        while i < len(order):
            for child in inv.groups[order[i]].children:
                if child not in visited:
                    visited.add(child)
                    order.append(child)
            i += 1
        for g in order:
            for h in inv.groups[g].hosts:
                if h not in seen:
                    seen.add(h)
                    hosts.append(h)
        out[name] = hosts
    return out


class _HostVars(Mapping[str, Any]):
    def __init__(self, renderer: _Renderer) -> None:
        self.renderer: _Renderer | None = renderer

    def _live(self) -> _Renderer:
        if self.renderer is None:
            raise RuntimeError("hostvars read after resolving ended")
        return self.renderer

    def __getitem__(self, key: str) -> Any:
        renderer = self._live()
        if key not in renderer.layers:
            raise KeyError(key)
        return renderer.scope(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._live().layers)

    def __len__(self) -> int:
        return len(self._live().layers)


class _Renderer:
    def __init__(self, inv: InventoryData, layers: dict[str, HostLayers], ctx: ResolverState,
                 playbook_dir: Path) -> None:
        self.inv = inv
        self.layers = layers
        self.ctx = ctx
        self.playbook_dir = str(playbook_dir)
        self._groups: dict[str, list[str]] | None = None
        self._scopes: dict[str, Any] = {}
        self._dirs: dict[str, str] = {}
        self._frames: list[Any] = []  # shared by every host's scope (see HostScope)
        self._memo: Any = None  # likewise (see memo.py); made with the first scope
        self.hostvars = _HostVars(self)
        self.skipped_vaults = any(d.rule == "mlflow-policy/vaulted-file"
                                  for d in ctx.diagnostics)

    def close(self) -> None:
        """Break the renderer <-> hostvars <-> scopes cycle, so that reference counting
        frees every scope as soon as resolving ends (the caller may have paused the cyclic
        collector for the whole load: ~100 MB at 10,000 hosts would otherwise linger)."""
        self._scopes.clear()
        self.hostvars.renderer = None

    def magic(self, name: str) -> dict[str, Any]:
        if self._groups is None:
            self._groups = _groups_dict(self.inv)
        host = self.inv.hosts[name]
        source = host.source
        return {
            "inventory_hostname": name,
            "inventory_hostname_short": (
                name if "." not in name or is_ip_address(name) else name.split(".", 1)[0]),
            "group_names": list(self.inv.membership(host).group_names),
            "groups": self._groups,
            "hostvars": self.hostvars,
            "inventory_file": source,
            "inventory_dir": self._dirname(source),
            "playbook_dir": self.playbook_dir,
        }

    def _dirname(self, source: str | None) -> str | None:
        if not source:
            return None
        found = self._dirs.get(source)
        if found is None:
            found = self._dirs[source] = os.path.dirname(source)
        return found

    def scope(self, name: str) -> Any:
        scope = self._scopes.get(name)
        if scope is None:
            from mlflow_policy.inventory.memo import Memo
            from mlflow_policy.inventory.template import HostScope

            if self._memo is None:
                self._memo = Memo()
            scope = self._scopes[name] = HostScope(self.layers[name].entries, self.magic(name),
                                                   self._frames, self._memo,
                                                   skipped_vault=self.skipped_vaults)
        return scope

    def render(self, name: str) -> tuple[dict[str, Any], frozenset[str]] | None:
        """The host's rendered vars, and the dotted paths rendered from vaulted data."""
        layers = self.layers[name]
        keys = layers.templated
        if not keys:
            return None
        scope = self.scope(name)
        rendered = dict(layers.raw)
        for key in keys:
            rendered[key] = scope.render(key)
            for path, reason in scope.failed.get(key, ()):
                hint = ""
                if "'ansible_facts'" in reason or "'ansible_local'" in reason:
                    hint = "; facts exist only when Ansible runs on the host (a live run)"
                elif "is undefined" in reason and self.skipped_vaults:
                    hint = ("; it may be set in a vault-encrypted file that was skipped for "
                            "want of a vault secret")
                self.ctx.diagnostics.append(Diagnostic(
                    rule="mlflow-policy/unresolved-template",
                    message=(f"vars.{path} holds a template that cannot be rendered "
                             f"statically ({reason}{hint}); it is kept as written"),
                    inventory=self.ctx.name, host=name, fact=f"vars.{path}",
                    location=nearest(layers.prov, path),
                ))
        return rendered, frozenset(scope.vaulted_paths)


def resolve(path: Path, *, name: str | None, playbook_dir: Path | None,
            vault_secrets: VaultSecrets | None, root: Path | None) -> ResolvedInventory:
    path = Path(path)
    if not path.exists():
        raise InputError(f"inventory not found: {path}")
    ctx = ResolverState(name or inventory_name(path), root or Path.cwd(), vault_secrets)
    # the inventory (a file's directory: its group_vars/ and host_vars/ are beside it) and
    # the playbook dir were named by the user or checked against the root by the config
    ctx.confine = ctx.confine.with_roots(path if path.is_dir() else path.parent, playbook_dir)
    inv = load_inventory(path, ctx)
    inv_dir = Path(os.path.abspath(path if path.is_dir() else path.parent))
    resolver = Resolver(inv, ctx, inv_dir, playbook_dir)
    # A host can end up in no group at all: when 'ungrouped' is made a child of another
    # group, reconciliation takes its hosts out of it. Ansible then no longer lists them.
    layers = {h: resolver.host(h) for h, host in inv.hosts.items() if host.groups}
    raise_all(ctx.errors)
    renderer = _Renderer(inv, layers, ctx,
                         Path(os.path.abspath(playbook_dir)) if playbook_dir else inv_dir)
    try:
        hosts: dict[str, ResolvedHost] = {
            h: resolved_host(lay, renderer.render(h)) for h, lay in layers.items()}
    finally:
        renderer.close()
    groups = {
        g.name: GroupInfo(g.name, tuple(g.hosts), tuple(g.children), g.depth, g.priority)
        for g in inv.groups.values()
    }
    from mlflow_policy.inventory.origin import Origins

    return ResolvedInventory(ctx.name, path, hosts, groups, ctx.diagnostics,
                             Origins(resolver, hosts))
