"""``consistent``: the matched hosts of one partition agree on a fact.

Absent counts as a value (half the fleet unset is a disagreement); hosts whose ``by`` fact
is absent belong to no partition and are not checked. The most common value wins; on a
tie no side is right, so every host of every tied side gets a finding that says so (in PR
mode, ``--diff-base`` keeps the side the change touched). Output never depends on input
order: values are ordered by :func:`value_key`'s total order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import HostFacts
from mlflow_policy.facts.computed import SOURCES as COMPUTED_SOURCES
from mlflow_policy.facts.lookup import lookup
from mlflow_policy.findings import Related
from mlflow_policy.rules.base import (
    MAX_NAMED,
    RuleContext,
    RuleOutcome,
    finding,
    host_name,
    name_list,
    partitioned,
    quote,
    value_key,
)

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule


def evaluate(rule: LoadedRule, hosts: Sequence[HostFacts], ctx: RuleContext) -> RuleOutcome:
    spec = rule.rule.consistent
    assert spec is not None
    out = RuleOutcome()
    # partition key -> value key -> [(host, present, value)]
    partitions: dict[tuple[Any, ...], dict[tuple[Any, ...], list[tuple[HostFacts, bool, Any]]]]
    partitions = {}
    for part, host, got in partitioned(hosts, spec.by, spec.fact, out):
        key = value_key(got.value, got.present)
        partitions.setdefault(part, {}).setdefault(key, []).append((host, got.present, got.value))
    for groups in partitions.values():
        if len(groups) < 2:
            continue
        winner = min(groups, key=lambda k: (-len(groups[k]), k))
        holders = groups[winner]
        top = sorted(k for k, m in groups.items() if len(m) == len(holders))
        if len(top) > 1:
            _tie(rule, spec.fact, spec.by, groups, top, out=out)
            continue
        chosen = "the most common value"
        _, w_present, w_value = holders[0]
        expected = quote(w_value, w_present)
        related = [Related(h.inventory, h.host, w_value) for h, _, _ in holders[:1]]
        held = _from(holders[0][0], spec.fact)
        # the holders' names depend on the reader's inventory only (other inventories'
        # hosts are named inventory/host): made once per inventory, not once per host
        names_for: dict[str, str] = {}
        for key, members in groups.items():
            if key == winner:
                continue
            for host, present, value in members:
                names = names_for.get(host.inventory)
                if names is None:
                    names = names_for[host.inventory] = name_list(
                        (host_name(h, host) for h, _, _ in holders[:MAX_NAMED]), len(holders))
                where = f" (hosts with {spec.by} = {quote(_by_value(host, spec.by))})" \
                    if spec.by else ""
                out.findings.append(finding(
                    rule, host, spec.fact, actual=value if present else None,
                    expected=expected, related=related,
                    message=(f"{spec.fact} is {quote(value, present)}{_from(host, spec.fact)}"
                             f", but {chosen}{where} is {expected}{held}, held by {names}"),
                ))
    return out


def _tie(rule: LoadedRule, fact: str, by: str | None,
         groups: dict[tuple[Any, ...], list[tuple[HostFacts, bool, Any]]],
         top: list[tuple[Any, ...]], *, out: RuleOutcome) -> None:
    """No value is held by more hosts than another: name every side, on every host."""
    for key in sorted(groups):
        others = [k for k in top if k != key]
        # every side quoted is related, so reports mask its value where it is a secret
        related = [Related(groups[k][0][0].inventory, groups[k][0][0].host, groups[k][0][2])
                   for k in others]
        expected = " or ".join(quote(groups[k][0][2], groups[k][0][1]) for k in others)
        # the sides' text depends on the reader's inventory only (see evaluate)
        sides_for: dict[str, str] = {}
        for host, present, value in groups[key]:
            sides = sides_for.get(host.inventory)
            if sides is None:
                texts = []
                for k in others:
                    _, o_present, o_value = groups[k][0]
                    names = name_list(
                        (host_name(h, host) for h, _, _ in groups[k][:MAX_NAMED]),
                        len(groups[k]))
                    texts.append(f"{quote(o_value, o_present)}{_from(groups[k][0][0], fact)} "
                                 f"held by {names}")
                sides = sides_for[host.inventory] = "; ".join(texts)
            where = f" (hosts with {by} = {quote(_by_value(host, by))})" if by else ""
            out.findings.append(finding(
                rule, host, fact, actual=value if present else None,
                expected=expected, related=related,
                message=(f"{fact} is {quote(value, present)}{_from(host, fact)}, but the "
                         f"hosts{where} are split with no majority (a tie): {sides}"),
            ))


def _from(host: HostFacts, fact: str) -> str:
    """What a computed fact was computed from on ``host`` (`` (from mlflow.version
    '3.16.1')``): a schema head means little to a reader without its release."""
    source = COMPUTED_SOURCES.get(fact)
    if source is None:
        return ""
    got = lookup(host, source)
    return f" (from {source} {quote(got.value, got.present)})" if got.present else ""


def _by_value(host: HostFacts, path: str) -> Any:
    return lookup(host, path).value
