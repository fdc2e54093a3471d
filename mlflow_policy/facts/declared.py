"""Declared facts: what the inventories say each host runs (static mode).

The resolver gives Ansible-exact hostvars with provenance; this module maps them onto the
fact document of facts.md through the (configurable) fact mapping, carrying provenance and
vaulted-ness over to fact paths so findings point at the inventory line to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.config import RunConfig
from mlflow_policy.core import Diagnostic, HostFacts
from mlflow_policy.dotted import MISSING, dig, put
from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.facts.computed import add_computed
from mlflow_policy.facts.envcheck import env_diagnostics
from mlflow_policy.facts.lookup import ReasonTable
from mlflow_policy.facts.table import OBSERVED_ONLY, STATIC_UNAVAILABLE_REASON
from mlflow_policy.facts.views import FactPaths, ProvenanceView, VaultedView

if TYPE_CHECKING:
    from mlflow_policy.inventory import ResolvedHost, ResolvedInventory, VaultSecrets

# Facts only a live run can observe (the fact table); static mode skips rules needing them.
STATIC_UNAVAILABLE: Mapping[str, str] = ReasonTable({
    path: STATIC_UNAVAILABLE_REASON for path in OBSERVED_ONLY
})


@dataclass(frozen=True)
class Fleet:
    """Every host of every inventory of a run, with the loaders' own findings: what a fact
    source (:mod:`mlflow_policy.sources`) returns."""

    inventories: tuple[str, ...]
    hosts: tuple[HostFacts, ...]
    diagnostics: tuple[Diagnostic, ...]
    mode: str = "static"

    def load(self) -> Fleet:
        """A fleet already in memory is its own fact source."""
        return self


def host_facts(
    inventory: str, host: ResolvedHost, mapping: Mapping[str, str] | FactPaths,
    roles: Sequence[tuple[str, Sequence[str]]],
) -> HostFacts:
    paths = mapping if isinstance(mapping, FactPaths) else FactPaths(mapping)
    groups = list(host.groups)
    doc: dict[str, Any] = {"host": host.name, "inventory": inventory, "groups": groups,
                           "vars": host.vars}
    for fact, var in paths.split_pairs:
        value = dig(host.vars, var)
        if value is not MISSING:
            put(doc, fact, value)
    if "role" not in doc:
        member = set(groups)
        for role, role_groups in roles:
            if member.intersection(role_groups):
                doc["role"] = role
                break
    return HostFacts(
        host=host.name, inventory=inventory, facts=doc,
        provenance=ProvenanceView(host.provenance, paths),
        unavailable=add_computed(doc, STATIC_UNAVAILABLE),
        vaulted_paths=VaultedView(host.vaulted, paths),
    )


def resolve_all(
    paths: Sequence[Path], config: RunConfig, *, root: Path | None = None,
    vault_secrets: VaultSecrets | None = None,
) -> list[ResolvedInventory]:
    """Resolve each inventory on its own (as ``ansible-inventory -i`` would), reporting the
    input errors of all of them together."""
    from mlflow_policy.inventory import resolve_inventory

    resolved: list[ResolvedInventory] = []
    errors: list[InputError] = []
    for path in paths:
        if not path.exists():
            errors.append(InputError(f"inventory not found: {path}"))
            continue
        try:
            resolved.append(resolve_inventory(
                path, playbook_dir=config.playbook_dir, vault_secrets=vault_secrets, root=root))
        except InputErrors as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    seen: dict[str, Path] = {}
    for inv in resolved:
        if inv.name in seen:
            errors.append(InputError(
                f"two inventories are both named '{inv.name}' ({seen[inv.name]} and {inv.path});"
                " inventory names must be unique in one run"))
        seen[inv.name] = inv.path
    if errors:
        raise InputErrors(errors)
    return resolved


def load_fleet(
    paths: Sequence[Path], config: RunConfig, *, root: Path | None = None,
    vault_secrets: VaultSecrets | None = None,
) -> Fleet:
    inventories = resolve_all(paths, config, root=root, vault_secrets=vault_secrets)
    hosts: list[HostFacts] = []
    diagnostics: list[Diagnostic] = []
    for inv in inventories:
        fact_paths = FactPaths(config.mapping_for(inv.name))
        hosts.extend(host_facts(inv.name, h, fact_paths, config.roles)
                     for h in inv.hosts.values())
        diagnostics.extend(inv.diagnostics)
    hosts.sort(key=lambda h: h.key)
    diagnostics.extend(env_diagnostics(hosts))
    return Fleet(
        inventories=tuple(sorted(i.name for i in inventories)),
        hosts=tuple(hosts),
        diagnostics=tuple(sorted(diagnostics, key=lambda d: d.sort_key)),
    )
