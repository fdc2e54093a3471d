"""The inventory being built: groups, hosts and their inline vars, with Ansible's
``InventoryData`` / ``Group`` / ``Host`` rules (2.19) but none of its per-object cost.

Every value is kept as an :class:`Entry` that carries where it was written and what the
resolver will need later (nested provenance, vaulted paths, whether it holds a template),
computed once when the value is read rather than once per host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from mlflow_policy.core import Location, Unsafe, VaultedValue

_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def is_template(value: Any) -> bool:
    """A string holding Jinja2 (an ``!unsafe`` one is literal text, as in Ansible)."""
    return isinstance(value, str) and not isinstance(value, Unsafe) and any(
        m in value for m in _TEMPLATE_MARKERS)


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


class Entry:
    """One var's value as written in one place."""

    __slots__ = ("has_template", "loc", "nested", "secret", "value", "vaulted")

    def __init__(self, value: Any, loc: Location, *, all_vaulted: bool = False) -> None:
        self.value = value
        self.loc = loc
        # plaintext that came out of a decrypted vault file (a VaultedValue is opaque instead)
        self.secret = all_vaulted
        # dotted sub-paths ("key.sub") -> where each mapping value was written
        self.nested: dict[str, Location] = {}
        # dotted sub-paths ("" = the value itself) that are vaulted
        vaulted: set[str] = set()
        self._walk(value, "", vaulted, all_vaulted)
        self.vaulted = frozenset(vaulted)
        self.has_template = _has_template(value)

    def _walk(self, value: Any, prefix: str, vaulted: set[str], all_vaulted: bool,
              in_list: bool = False) -> None:
        if all_vaulted or isinstance(value, VaultedValue):
            vaulted.add(prefix)
        if isinstance(value, Mapping):
            locs = None if in_list else getattr(value, "locs", None)
            for key, sub in value.items():
                path = f"{prefix}.{key}" if prefix else str(key)
                if locs is not None and key in locs:
                    self.nested[path] = locs[key]
                self._walk(sub, path, vaulted, all_vaulted, in_list)
        elif isinstance(value, list):
            # Fact paths never index a list (lookup, masking and provenance stop at it), so
            # a vaulted item marks the list's own path: the whole list is then opaque to
            # templates and masked in reports, never printed half-decrypted.
            for sub in value:
                self._walk(sub, prefix, vaulted, all_vaulted, True)


class Group:
    __slots__ = ("children", "depth", "host_set", "hosts", "name", "parents", "priority",
                 "priority_loc", "vars")

    def __init__(self, name: str) -> None:
        self.name = name
        self.depth = 0
        self.priority = 1
        self.priority_loc: Location | None = None
        self.vars: dict[str, Entry] = {}
        self.hosts: list[str] = []
        self.host_set: set[str] = set()
        self.children: list[str] = []
        self.parents: list[str] = []


class Host:
    __slots__ = ("groups", "name", "source", "vars")

    def __init__(self, name: str, source: str | None) -> None:
        self.name = name
        self.vars: dict[str, Entry] = {}
        self.groups: list[str] = []  # direct groups, in the order they were added
        self.source = source  # the inventory file it was first found in (inventory_file)


class Membership(NamedTuple):
    closure: frozenset[str]  # every group, directly or through children, with 'all'
    group_names: tuple[str, ...]  # sorted, without 'all' (the magic var group_names)
    groups: tuple[str, ...]  # sorted, without 'all' and 'ungrouped' (what reports show)


class InventoryError(ValueError):
    """A rule of Ansible's inventory model broken by the source (message as Ansible's)."""


# Hosts of one inventory: a bound on the work and memory any input can ask for (see
# docs/threat-model.md); the largest fleet benchmarks/bench_facts.py measures.
MAX_HOSTS = 50_000


class InventoryData:
    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.hosts: dict[str, Host] = {}
        self.current_source: str | None = None
        # the current source was a decrypted vault file: all its values count as vaulted
        self.current_source_vaulted = False
        self._ancestors: dict[str, frozenset[str]] = {}
        self._memberships: dict[tuple[str, ...], Membership] = {}
        for name in ("all", "ungrouped"):
            self.add_group(name)
        self.add_child("all", "ungrouped")

    def add_group(self, name: str) -> str:
        if not name:
            raise InventoryError(f"Invalid empty/false group name provided: {name!r}")
        if not isinstance(name, str):
            raise InventoryError(
                f"Invalid group name supplied, expected a string but got {type(name)} for {name}")
        if name not in self.groups:
            self.groups[name] = Group(name)
        return name

    def add_host(self, name: str, group: str | None = None, port: int | None = None,
                 loc: Location | None = None) -> str:
        if not name:
            raise InventoryError(f"Invalid empty host name provided: {name!r}")
        if not isinstance(name, str):
            raise InventoryError(
                f"Invalid host name supplied, expected a string but got {type(name)} for {name}")
        if group is not None and group not in self.groups:
            raise InventoryError(f"Could not find group {group} in inventory")
        host = self.hosts.get(name)
        if host is None:
            if len(self.hosts) >= MAX_HOSTS:
                raise InventoryError(
                    f"more than {MAX_HOSTS} hosts in one inventory, the most mlflow-policy "
                    "resolves (a host range typo such as web[1:10000000]?)")
            host = Host(name, self.current_source)
            self.hosts[name] = host
            # Ansible sets the port only when it creates the host.
            if port and loc is not None:
                host.vars["ansible_port"] = Entry(int(port), loc,
                                                  all_vaulted=self.current_source_vaulted)
        if group is not None:
            self._add_host_to_group(self.groups[group], host)
        return name

    def _add_host_to_group(self, group: Group, host: Host) -> None:
        if host.name not in group.host_set:
            group.hosts.append(host.name)
            group.host_set.add(host.name)
            host.groups.append(group.name)

    def set_variable(self, entity: str, key: Any, entry: Entry) -> None:
        if self.current_source_vaulted and not entry.secret:
            entry = Entry(entry.value, entry.loc, all_vaulted=True)
        # Ansible looks the name up as a group first: a host named like a group sets the
        # group's var.
        if entity in self.groups:
            group = self.groups[entity]
            if key == "ansible_group_priority":
                try:
                    group.priority = int(entry.value)
                except (TypeError, ValueError):
                    raise InventoryError(
                        f"ansible_group_priority must be an integer, got {entry.value!r}"
                    ) from None
                group.priority_loc = entry.loc
                return
            group.vars[key] = entry
        elif entity in self.hosts:
            self.hosts[entity].vars[key] = entry
        else:
            raise InventoryError(f"Could not identify group or host named {entity}")

    def ancestors(self, name: str) -> frozenset[str]:
        cached = self._ancestors.get(name)
        if cached is not None:
            return cached
        seen: set[str] = set()
        todo = list(self.groups[name].parents)
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(self.groups[g].parents)
        result = self._ancestors[name] = frozenset(seen)
        return result

    def add_child(self, parent: str, child: str) -> None:
        if parent not in self.groups:
            raise InventoryError(f"{parent} is not a known group")
        pgroup = self.groups[parent]
        if child in self.groups:
            if child == parent:
                raise InventoryError("can't add group to itself")
            cgroup = self.groups[child]
            if child in pgroup.children:
                return
            if child in self.ancestors(parent):
                raise InventoryError(
                    f"Adding group '{child}' as child to '{parent}' creates a recursive "
                    "dependency loop.")
            pgroup.children.append(child)
            self._ancestors.clear()
            if parent not in cgroup.parents:
                cgroup.parents.append(parent)
        elif child in self.hosts:
            self._add_host_to_group(pgroup, self.hosts[child])
        else:
            raise InventoryError(f"{child} is not a known host nor group")

    def reconcile(self) -> None:
        """``InventoryData.reconcile_inventory``: parentless groups under ``all``, hosts
        with no group into ``ungrouped``, hosts with one out of it; then group depths."""
        for name, group in self.groups.items():
            if name != "all" and not group.parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            closure = self.host_groups(host)
            if "ungrouped" in closure:
                # (it may be in 'ungrouped' only through a child group: nothing to remove)
                if closure - {"all", "ungrouped"} and host.name in ungrouped.host_set:
                    ungrouped.hosts.remove(host.name)
                    ungrouped.host_set.discard(host.name)
                    host.groups.remove("ungrouped")
            elif not closure - {"all"}:
                self._add_host_to_group(ungrouped, host)
        self._compute_depths()

    def host_groups(self, host: Host) -> set[str]:
        """Every group the host is in, directly or through children (with ``all``)."""
        closure: set[str] = set()
        for g in host.groups:
            if g not in closure:
                closure.add(g)
                closure |= self.ancestors(g)
        return closure

    def membership(self, host: Host) -> Membership:
        """``host_groups`` and the sorted views of it the resolver needs, computed once per
        distinct list of direct groups (a rack of 40 hosts shares one). Only valid once the
        inventory is reconciled: the cache is not cleared by later edits."""
        key = tuple(host.groups)
        found = self._memberships.get(key)
        if found is None:
            closure = frozenset(self.host_groups(host))
            found = self._memberships[key] = Membership(
                closure,
                tuple(sorted(closure - {"all"})),
                tuple(sorted(closure - {"all", "ungrouped"})),
            )
        return found

    def _compute_depths(self) -> None:
        # Ansible raises a child's depth to parent depth + 1 whenever an edge is added;
        # the fixed point is the longest path from 'all'.
        depth: dict[str, int] = {"all": 0}
        for name in self.groups:
            self.groups[name].depth = self._depth(name, (), depth)

    def _depth(self, name: str, stack: tuple[str, ...], depth: dict[str, int]) -> int:
        # A method, not a recursive closure: a closure refers to itself, and that cycle
        # would keep the whole inventory alive until a cyclic collection, which a run
        # pauses while it loads.
        if name in depth:
            return depth[name]
        if name in stack:
            raise InventoryError(f"The group named '{name}' has a recursive dependency loop.")
        d = max((self._depth(p, (*stack, name), depth) + 1
                 for p in self.groups[name].parents), default=0)
        depth[name] = d
        return d
