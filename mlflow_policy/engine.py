"""``evaluate``: policies x hosts -> Result. Never reads a file, never prints.

For each rule (after ``--rule``/``--skip-rule``), the hosts it evaluates are those that
satisfy the policy's ``match``, the rule's ``match`` and not its ``exclude``; the rule kind
from :data:`RULE_EVALUATORS` does the rest. Loader diagnostics become findings here, so they
filter and waive like any rule. A rule that raises becomes an ``internal-error`` finding
and the run goes on: a bug never passes silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from mlflow_policy import parallel
from mlflow_policy.core import Diagnostic, HostFacts
from mlflow_policy.findings import (
    ENGINE_BUILTINS,
    INTERNAL_ERROR,
    Finding,
    Result,
)
from mlflow_policy.rules import RULE_EVALUATORS, RuleContext
from mlflow_policy.waivers import apply_waivers, scope_checker

if TYPE_CHECKING:
    from mlflow_policy.policy.conditions import ConditionMemo
    from mlflow_policy.policy.loader import LoadedPolicy, LoadedRule, LoadedWaiver
    from mlflow_policy.policy.models import Selector


@dataclass(frozen=True)
class RuleFilter:
    """``--rule`` globs (empty: every rule) minus ``--skip-rule`` globs, on full ids."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __call__(self, rule_id: str) -> bool:
        if rule_id == INTERNAL_ERROR:
            return True
        if self.include and not any(fnmatchcase(rule_id, g) for g in self.include):
            return False
        return not any(fnmatchcase(rule_id, g) for g in self.exclude)


# A run's selections, keyed by (id of the pool filtered, the selector part's text, whether
# it is an exclude): rules mostly share a few selectors (`roles: [tracking_server]`, with or
# without one `where`), so each distinct one is decided once per host, not once per rule.
# Each entry holds its pool, so the id is not reused while the cache lives.
Selections = dict[tuple[int, str], tuple[Sequence[HostFacts], list[HostFacts]]]


def _filtered(pool: Sequence[HostFacts], sel: Selector, memo: ConditionMemo | None,
              cache: Selections | None) -> list[HostFacts]:
    """The hosts of ``pool`` that ``sel`` picks, in order: by its name parts (hosts,
    groups, roles, inventories) first, then by its ``where`` over what those leave."""
    from mlflow_policy.policy.selectors import selects

    if cache is None:
        return [h for h in pool if selects(sel, h, memo)]
    if sel.where and (sel.hosts or sel.groups or sel.roles or sel.inventories):
        named = _filtered(pool, sel.model_copy(update={"where": None}), memo, cache)
        return _filtered(named, type(sel).model_construct(where=sel.where), memo, cache)
    key = (id(pool), sel.model_dump_json(exclude_none=True))
    hit = cache.get(key)
    if hit is None or hit[0] is not pool:
        hit = cache[key] = (pool, [h for h in pool if selects(sel, h, memo)])
    return hit[1]


def select_hosts(rule: LoadedRule, hosts: Sequence[HostFacts],
                 policy_hosts: dict[int, tuple[object, list[HostFacts]]] | None = None,
                 memo: ConditionMemo | None = None,
                 selections: Selections | None = None) -> list[HostFacts]:
    """The hosts ``rule`` evaluates. ``policy_hosts`` caches the policy-level selection,
    which every rule of a policy shares (keyed by the selector's identity, kept alive);
    ``memo`` is the run's, for ``where`` conditions; ``selections`` the run's selections
    (see :data:`Selections`). All belong to the caller's run."""
    pool: Sequence[HostFacts] = hosts
    pm = rule.policy_match
    if pm is not None:
        cached = policy_hosts.get(id(pm)) if policy_hosts is not None else None
        if cached is None or cached[0] is not pm:
            cached = (pm, _filtered(hosts, pm, memo, selections))
            if policy_hosts is not None:
                policy_hosts[id(pm)] = cached
        pool = cached[1]
    match, exclude = rule.rule.match, rule.rule.exclude
    matched = _filtered(pool, match, memo, selections) if match is not None else pool
    if exclude is None:
        return list(matched)
    out = {id(h) for h in _filtered(matched, exclude, memo, selections)}
    return [h for h in matched if id(h) not in out]


# (selected hosts x rule cost) below which a second process costs more than it saves
PARALLEL_MIN_WEIGHT = 40_000.0


def _cost(rule: LoadedRule) -> float:
    """A rough per-host cost of a rule, to split the work evenly between processes."""
    spec = rule.rule
    conditions = spec.assert_ or (spec.peer.assert_ if spec.peer is not None else None) or (
        spec.aggregate.assert_ if spec.aggregate is not None else None)
    return 1.0 + (len(conditions) if conditions else 0) + (2.0 if spec.peer is not None else 0)


def _from_diagnostic(d: Diagnostic) -> Finding:
    return Finding(rule=d.rule, severity=d.severity, message=d.message, host=d.host,
                   inventory=d.inventory, fact=d.fact, location=d.location)


def _internal_error(rule: LoadedRule, exc: Exception) -> Finding:
    import traceback

    return Finding(
        rule=INTERNAL_ERROR, severity="error", location=rule.location, fact=None,
        message=(f"rule {rule.full_id} raised {type(exc).__name__}: {exc} (a bug in "
                 "mlflow-policy; the rule was not evaluated)"),
        detail="".join(traceback.format_exception(exc)),
    )


def _pseudo_host(f: Finding) -> HostFacts:
    """What waiver selectors see for a finding: its host's facts, or for a host-less
    finding (a vaulted file) a minimal document with just its inventory."""
    facts: dict[str, object] = {"host": f.host or "", "inventory": f.inventory or ""}
    return HostFacts(host=f.host or "", inventory=f.inventory or "", facts=facts)


def evaluate(
    policies: Iterable[LoadedPolicy],
    hosts: Sequence[HostFacts],
    diagnostics: Sequence[Diagnostic] = (),
    waivers: Sequence[LoadedWaiver] = (),
    *,
    today: date,
    rule_filter: Sequence[str] = (),
    skip_filter: Sequence[str] = (),
    inventories: Sequence[str] | None = None,
    mode: str = "static",
    builtins: Sequence[Finding] = (),
    builtin_ids: Sequence[str] = (),
) -> Result:
    """``builtins``: findings of the run's other built-in checks (schema migrations in
    pull-request mode, drift in live mode), whose ids ``builtin_ids`` names even when there
    is none: like the loaders' diagnostics, they are filtered and waived here, as rules."""
    keep = RuleFilter(tuple(rule_filter), tuple(skip_filter))
    hosts = tuple(sorted(hosts, key=lambda h: h.key))
    ctx = RuleContext(all_hosts=hosts)
    findings: list[Finding] = []
    rules: list[LoadedRule] = []
    unmatched: list[str] = []
    evaluated: list[tuple[str, str, str]] = []
    skips: dict[tuple[str, str, str], str] = {}
    errors: dict[str, str] = {}
    policy_hosts: dict[int, tuple[object, list[HostFacts]]] = {}
    selections: Selections = {}
    tasks: list[tuple[LoadedRule, list[HostFacts]]] = []
    for policy in sorted(policies, key=lambda p: p.name):
        for rule in policy.rules:
            if not keep(rule.full_id):
                continue
            rules.append(rule)
            selected = select_hosts(rule, hosts, policy_hosts, ctx.memo, selections)
            if not selected:
                unmatched.append(rule.full_id)
                continue
            evaluated.extend((rule.full_id, h.inventory, h.host) for h in selected)
            tasks.append((rule, selected))

    def run(task: tuple[LoadedRule, list[HostFacts]]
            ) -> tuple[list[Finding], dict[tuple[str, str], str], bool]:
        rule, selected = task
        try:
            outcome = RULE_EVALUATORS[rule.rule.kind](rule, selected, ctx)
        except Exception as exc:  # a bug in a rule kind: report it, go on, exit 3
            return [_internal_error(rule, exc)], {}, True
        return outcome.findings, outcome.skipped, False

    # Rules are independent: on a large fleet, about half of them run in a second process.
    for (rule, _), (found, skipped, raised) in zip(tasks, parallel.run_split(
            tasks, run, [float(len(sel)) * _cost(rule) for rule, sel in tasks],
            min_weight=PARALLEL_MIN_WEIGHT), strict=True):
        findings.extend(found)
        if raised:
            errors[rule.full_id] = found[0].message
        rid = rule.full_id
        for (inv, host), reason in skipped.items():
            skips[(rid, inv, host)] = reason
    findings.extend(_from_diagnostic(d) for d in diagnostics if keep(d.rule))
    findings.extend(f for f in builtins if keep(f.rule))

    by_key = {h.key: h for h in hosts}

    def host_of(f: Finding) -> HostFacts:
        found = by_key.get((f.inventory or "", f.host or ""))
        return found if found is not None else _pseudo_host(f)

    scope = scope_checker([r.full_id for r in rules] + [
        b for b in (*ENGINE_BUILTINS, *builtin_ids) if keep(b)])
    findings = apply_waivers(findings, waivers, today=today, host_of=host_of,
                             in_scope=scope, keep=keep)
    return Result(
        findings=tuple(sorted(findings)), hosts=hosts, rules=tuple(rules),
        unmatched_rules=tuple(sorted(unmatched)),
        inventories=tuple(sorted(inventories if inventories is not None
                                 else {h.inventory for h in hosts})),
        mode=mode, evaluated=tuple(evaluated), waivers=tuple(waivers),
        skips=skips, errors=errors,
    )
