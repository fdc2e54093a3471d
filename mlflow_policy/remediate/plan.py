"""The desired state: from a run's failing findings to what each host should hold.

- a failing finding whose rule has ``remediation.set`` gives (fact path -> value), each
  value rendered like a condition's (policy/templating.py) against the host's facts, with
  the rule's ``data`` and, for a peer rule, ``peer``;
- ``mlflow-policy/drift`` (live) gives the declared value for the observed fact: the
  inventory is already right, the host is brought back to it;
- two rules setting different values for one fact on one host are a conflict: reported,
  neither written;
- what cannot be written safely or automatically (a failing rule without ``set``, a
  vaulted or secret value, a value derived from a secret, a database behind its MLflow)
  "needs a human", with the reason and never the secret.

Fact paths become hostvar paths through the run's fact mapping (``facts:`` of the config
over the fact table's defaults): ``env.NAME`` -> ``<env hostvar>.NAME``, ``vars.x.y`` ->
``x.y``. Nothing here prints or writes; the output is a :class:`Plan`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import HostFacts, Unsafe, VaultedValue
from mlflow_policy.dotted import strings
from mlflow_policy.findings import DRIFT, Finding, Result
from mlflow_policy.remediate.change import HostvarChange
from mlflow_policy.remediate.values import UnsafeValue, check
from mlflow_policy.secrets import is_secret_path, mask, mask_text, mentions_secret, reveals_secret

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule

# needs-a-human kinds, in the order REPORT.md lists them
NO_SET = "no-set"
CONFLICT = "conflict"
SECRET = "secret"
UNSAFE = "unsafe"
NOT_RENDERED = "not-rendered"
NOT_WRITABLE = "not-writable"
DB_UPGRADE = "db-upgrade"
NOT_MANAGED = "not-managed"
KINDS = (DB_UPGRADE, CONFLICT, SECRET, UNSAFE, NOT_RENDERED, NOT_WRITABLE, NOT_MANAGED, NO_SET)


@dataclass(frozen=True)
class NeedsHuman:
    """Something the remediation will not do by itself. ``message`` is masked text."""

    kind: str
    message: str
    rule: str | None = None
    inventory: str | None = None
    host: str | None = None
    fact: str | None = None
    hint: str | None = None
    command: str | None = None  # the one command to run (db upgrade), secrets masked

    @property
    def sort_key(self) -> tuple[int, str, str, str, str, str]:
        return (KINDS.index(self.kind), self.inventory or "", self.host or "", self.rule or "",
                self.fact or "", self.message)


@dataclass(frozen=True)
class Desired:
    """One fact one host should hold, and why."""

    fact: str
    value: Any
    rules: tuple[str, ...]
    hostvar: tuple[str, ...] | None  # None: nothing to change in the inventory (drift)
    shown: str  # the value for reports, masked


@dataclass
class HostPlan:
    """What one host should hold: the facts the playbook brings it to (``desired``)."""

    facts: HostFacts
    desired: dict[str, Desired] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.facts.key

    def declared(self, path: str) -> tuple[bool, Any]:
        from mlflow_policy.facts.document import find

        return find(self.facts.declared.values, path)

    def observed(self, path: str) -> tuple[bool, Any]:
        from mlflow_policy.facts.document import find

        if self.facts.observed is None:
            return False, None
        return find(self.facts.observed.values, path)


@dataclass(frozen=True)
class Plan:
    hosts: tuple[HostPlan, ...]  # affected hosts, in (inventory, host) order
    changes: tuple[HostvarChange, ...]
    needs_human: tuple[NeedsHuman, ...]
    mode: str
    remediated: tuple[Finding, ...]  # the findings the plan fixes
    all_hosts: tuple[HostFacts, ...] = ()  # every host of the run (group membership)
    inventory_paths: Mapping[str, Path] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.hosts and not self.needs_human


def plain(value: Any) -> Any:
    """Plain YAML data (the loaders' located mappings, lists and strings are subclasses),
    so that editors and dumpers see exactly dict, list and str."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str) and not isinstance(value, Unsafe):
        return str(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return value


def _shown(value: Any, fact: str, host: HostFacts) -> str:
    return mask_text(repr(mask(value, fact, host)))


def _peer_index(rule: LoadedRule, hosts: Sequence[HostFacts]) -> dict[str, list[HostFacts]]:
    """A peer rule's targets by normalised address (as rules/peer.py indexes them)."""
    from mlflow_policy.facts.lookup import lookup
    from mlflow_policy.policy.selectors import selects
    from mlflow_policy.rules.peer import normalise_url

    spec = rule.rule.peer
    index: dict[str, list[HostFacts]] = {}
    if spec is None:
        return index
    for target in hosts:
        if not selects(spec.target.match, target):
            continue
        seen: set[str] = set()
        for key in spec.target.keys:
            got = lookup(target, key)
            if not got.present:
                continue
            for value in got.value if isinstance(got.value, list) else [got.value]:
                url = normalise_url(value)
                if url is not None and url not in seen:
                    seen.add(url)
                    index.setdefault(url, []).append(target)
    return index


def _peer(rule: LoadedRule, host: HostFacts, index: Mapping[str, list[HostFacts]]
          ) -> HostFacts | None:
    """The host a peer rule compared ``host`` with: the same choice as rules/peer.py (a
    target in the host's own inventory first, else the first one)."""
    from mlflow_policy.facts.lookup import lookup
    from mlflow_policy.rules.peer import normalise_url

    spec = rule.rule.peer
    if spec is None:
        return None
    via = lookup(host, spec.via)
    want = normalise_url(via.value) if via.present else None
    found = index.get(want or "", [])
    return next((t for t in found if t.inventory == host.inventory), None) or \
        next(iter(found), None)


class _Planner:
    def __init__(self, result: Result, mapping_for: Callable[[str], Mapping[str, str]],
                 inventory_paths: Mapping[str, Path]) -> None:
        from mlflow_policy.facts.views import FactPaths

        self.result = result
        self.paths: dict[str, FactPaths] = {}
        self.mapping_for = mapping_for
        self.inventory_paths = inventory_paths
        self.rules: dict[str, LoadedRule] = {r.full_id: r for r in result.rules}
        self.hosts: dict[tuple[str, str], HostPlan] = {}
        # (inventory, host, fact) -> [(value, rule, hostvar, shown)]
        self.proposals: dict[tuple[str, str, str], list[tuple[Any, str, tuple[str, ...] | None,
                                                              str]]] = {}
        self.drift: dict[tuple[str, str, str], tuple[Any, str]] = {}
        self.needs: list[NeedsHuman] = []
        self.remediated: list[Finding] = []
        self.peer_indexes: dict[str, dict[str, list[HostFacts]]] = {}

    def hostvar(self, host: HostFacts, fact: str) -> tuple[str, ...] | None:
        from mlflow_policy.facts.views import FactPaths

        paths = self.paths.get(host.inventory)
        if paths is None:
            paths = self.paths[host.inventory] = FactPaths(self.mapping_for(host.inventory))
        var = paths.to_var(fact)
        return None if var is None else tuple(var.split("."))

    def human(self, kind: str, f: Finding | None, message: str, **kw: Any) -> None:
        self.needs.append(NeedsHuman(
            kind=kind, message=mask_text(message), rule=f.rule if f else kw.pop("rule", None),
            inventory=f.inventory if f else kw.pop("inventory", None),
            host=f.host if f else kw.pop("host", None),
            fact=kw.pop("fact", f.fact if f else None), **kw))

    # ------------------------------------------------------------------ findings

    def finding(self, f: Finding) -> None:
        host = self.result.facts_for(f.inventory, f.host)
        if f.waived:
            return
        if host is None:
            if f.host is not None or f.rule not in self.rules:
                self.human(NO_SET, f, f.message)
            return
        if f.rule == DRIFT:
            self.drifted(f, host)
            return
        loaded = self.rules.get(f.rule)
        remediation = loaded.rule.remediation if loaded is not None else None
        if loaded is None or remediation is None or not remediation.set:
            hint = remediation.hint if remediation is not None else None
            self.human(NO_SET, f, f.message, hint=mask_text(hint) if hint else None)
            return
        self.set_values(f, host, loaded)

    def set_values(self, f: Finding, host: HostFacts, loaded: LoadedRule) -> None:
        from mlflow_policy.policy.templating import (
            TemplateProblem,
            has_template,
            referenced_names,
            render,
        )

        remediation = loaded.rule.remediation
        assert remediation is not None
        assert remediation.set
        context: dict[str, Any] = dict(host.facts)
        context.update(loaded.template_context)
        peer: HostFacts | None = None
        reads = referenced_names(list(remediation.set.values()))
        if loaded.rule.peer is not None and (reads is None or "peer" in reads):
            index = self.peer_indexes.get(loaded.full_id)
            if index is None:
                index = self.peer_indexes[loaded.full_id] = _peer_index(loaded,
                                                                        self.result.hosts)
            peer = _peer(loaded, host, index)
            if peer is None:
                hint = remediation.hint
                self.human(NOT_RENDERED, f, f"{f.message}; the values to set read the peer, "
                           "which was not found", hint=mask_text(hint) if hint else None)
                return
            context["peer"] = peer.facts
        used = False
        for fact, raw in remediation.set.items():
            if isinstance(raw, str) and mentions_secret(raw):
                self.human(SECRET, f, f"{fact}: the value is rendered from a secret; it is "
                           "never written in clear (vault it by hand)", fact=fact)
                continue
            try:
                value = plain(render(raw, context) if has_template(raw) else raw)
            except TemplateProblem as exc:
                self.human(NOT_RENDERED, f, f"{fact}: {exc.message}", fact=fact)
                continue
            if isinstance(value, VaultedValue) or reveals_secret(value, host) or (
                    peer is not None and reveals_secret(value, peer)):
                self.human(SECRET, f, f"{fact}: the value is derived from a secret or vaulted "
                           "value; it is never written in clear (vault it by hand)", fact=fact)
                continue
            if any(mask_text(text) != text for text in strings(value)):
                self.human(SECRET, f, f"{fact}: the value holds a credential (a password in "
                           "a URI, a token field); it is never written in clear (vault it by "
                           "hand)", fact=fact)
                continue
            if is_secret_path(fact) or (host.vaulted_paths and fact in host.vaulted_paths):
                self.human(SECRET, f, f"{fact} holds a secret (vaulted or secret by name): a "
                           "new value must be vaulted by hand, never written in clear",
                           fact=fact)
                continue
            hostvar = self.hostvar(host, fact)
            if hostvar is None:
                self.human(NOT_WRITABLE, f, f"{fact} maps to no hostvar in this inventory's "
                           "fact mapping", fact=fact)
                continue
            try:
                check(value, host.host, fact, env=fact.startswith("env."))
            except UnsafeValue as exc:
                self.human(UNSAFE, f, f"{exc.fact}: {exc.reason}; not written", fact=fact)
                continue
            self.proposals.setdefault((host.inventory, host.host, fact), []).append(
                (value, f.rule, hostvar, _shown(value, fact, host)))
            used = True
        if used:
            self.remediated.append(f)
            self.hosts.setdefault(host.key, HostPlan(host))

    def drifted(self, f: Finding, host: HostFacts) -> None:
        from mlflow_policy.facts.document import find

        fact = f.fact or ""
        if fact == "db.revision":
            return  # the database: see databases_behind (never migrated by us)
        found, declared = find(host.declared.values, fact)
        if not found:
            if fact.startswith("env."):
                # the env file is rewritten from the inventory: the stray variable goes
                self.drift[(host.inventory, host.host, fact)] = (_ABSENT, f.rule)
                self.remediated.append(f)
                self.hosts.setdefault(host.key, HostPlan(host))
                return
            self.human(NO_SET, f, f"{f.message}; the inventory declares no {fact}, so there is "
                       "nothing to bring the host back to")
            return
        if fact.startswith("env."):
            pass  # rendered by Ansible from the inventory's own (possibly vaulted) value
        elif isinstance(declared, VaultedValue) or is_secret_path(fact):
            self.human(SECRET, f, f"{fact} drifted, but its declared value is a secret that "
                       "is never rendered in clear: fix it on the host by hand", fact=fact)
            return
        self.drift[(host.inventory, host.host, fact)] = (declared, f.rule)
        self.remediated.append(f)
        self.hosts.setdefault(host.key, HostPlan(host))

    # ------------------------------------------------------------------ decide

    def decide(self) -> list[HostvarChange]:
        from mlflow_policy.facts.document import find

        changes: list[HostvarChange] = []
        for (inv, name, fact), proposals in sorted(self.proposals.items()):
            plan = self.hosts[(inv, name)]
            values: list[Any] = []
            for value, *_ in proposals:
                if value not in values:
                    values.append(value)
            rules = tuple(dict.fromkeys(r for _, r, _, _ in proposals))
            if len(values) > 1:
                sides = "; ".join(f"{r} sets {shown}" for _, r, _, shown in proposals)
                self.human(CONFLICT, None, f"{fact}: rules disagree ({sides}); neither value "
                           "is written", rule=", ".join(rules), inventory=inv, host=name,
                           fact=fact)
                continue
            value, _, hostvar, shown = proposals[0]
            plan.desired[fact] = Desired(fact, value, rules, hostvar, shown)
            found, current = find(plan.facts.declared.values, fact)
            if hostvar is not None and not (found and current == value
                                            and type(current) is type(value)):
                changes.append(HostvarChange(
                    inventory=self.inventory_paths.get(inv, Path(inv)), host=name,
                    hostvar=hostvar, value=value, rules=rules))
        for (inv, name, fact), (value, rule) in sorted(self.drift.items(), key=lambda kv: kv[0]):
            plan = self.hosts[(inv, name)]
            if fact in plan.desired:
                continue  # a rule sets a new declared value: the host goes there instead
            if (inv, name, fact) in self.proposals:
                continue  # conflicting rules on the fact: reported above, not guessed
            plan.desired[fact] = Desired(fact, value, (rule,), None,
                                         "absent" if value is _ABSENT else
                                         _shown(value, fact, plan.facts))
        return changes

    def databases_behind(self) -> None:
        """Live: a database whose revision is not the alembic head of the MLflow serving
        it. Never migrated by us: one ``mlflow db upgrade`` per database, run by a human
        while the servers of older versions are stopped."""
        from mlflow_policy.facts.document import find

        by_uri: dict[str, list[HostFacts]] = {}
        drifted = {(f.inventory, f.host) for f in self.result.findings
                   if f.rule == DRIFT and f.fact == "db.revision" and not f.waived}
        for h in self.result.hosts:
            if h.observed is None:
                continue
            values = h.observed.values
            ok, current = find(values, "db.schema_current")
            if not (h.key in drifted or (ok and current is False)):
                continue
            _, uri = find(h.facts, "server.backend_store_uri")
            shown = mask_text(str(uri)) if isinstance(uri, str) else "<backend-store-uri>"
            if isinstance(uri, VaultedValue) or (
                    isinstance(uri, str) and is_secret_path("server.backend_store_uri")):
                shown = "<backend-store-uri>"
            by_uri.setdefault(shown, []).append(h)
        for shown, hosts in sorted(by_uri.items()):
            first = hosts[0]
            from mlflow_policy.facts.document import find as find_

            _, python = find_(first.declared.values, "mlflow.python")
            _, revision = find_(first.observed.values if first.observed else {}, "db.revision")
            mlflow = (f"{shlex.quote(python)} -m mlflow" if isinstance(python, str)
                      else "mlflow")
            names = ", ".join(h.host for h in hosts)
            self.human(
                DB_UPGRADE, None,
                f"the database behind {names} is at revision {revision!s}, older than its "
                "MLflow expects; stop the servers still running an older MLflow, then run "
                "the command once (remediation never migrates a database)",
                inventory=first.inventory, host=first.host, fact="db.revision",
                command=f"{mlflow} db upgrade {shlex.quote(shown)}")


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT: Any = _Absent()
ABSENT = _ABSENT  # a drifted env variable the host has and the inventory does not


def plan(result: Result, mapping_for: Callable[[str], Mapping[str, str]],
         inventory_paths: Mapping[str, Path] | None = None) -> Plan:
    """The desired state for ``result``'s failing findings. ``mapping_for``: the fact
    mapping of an inventory (``RunConfig.mapping_for``); ``inventory_paths``: inventory
    name -> its source path, for the HostvarChanges (absent: the name)."""
    planner = _Planner(result, mapping_for, inventory_paths or {})
    for f in result.findings:
        planner.finding(f)
    changes = planner.decide()
    if result.mode == "live":
        planner.databases_behind()
    hosts = tuple(p for _, p in sorted(planner.hosts.items()) if p.desired)
    return Plan(hosts=hosts, changes=tuple(changes),
                needs_human=tuple(sorted(set(planner.needs), key=lambda n: n.sort_key)),
                mode=result.mode, remediated=tuple(planner.remediated),
                all_hosts=result.hosts, inventory_paths=dict(inventory_paths or {}))
