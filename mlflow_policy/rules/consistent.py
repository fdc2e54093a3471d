"""``consistent``: the matched hosts of one partition agree on a fact.

Absent counts as a value (half the fleet unset is a disagreement); hosts whose ``by`` fact
is absent belong to no partition and are not checked. The most common value wins; ties go
to the smallest value in :func:`value_key`'s total order, so output never depends on input
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import HostFacts
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
        tied = sum(1 for m in groups.values() if len(m) == len(holders)) > 1
        chosen = "on a tie, the smallest value" if tied else "the most common value"
        _, w_present, w_value = holders[0]
        expected = quote(w_value, w_present)
        related = [Related(h.inventory, h.host, w_value) for h, _, _ in holders[:1]]
        for key, members in groups.items():
            if key == winner:
                continue
            for host, present, value in members:
                names = name_list(
                    (host_name(h, host) for h, _, _ in holders[:MAX_NAMED]), len(holders))
                where = f" (hosts with {spec.by} = {quote(_by_value(host, spec.by))})" \
                    if spec.by else ""
                out.findings.append(finding(
                    rule, host, spec.fact, actual=value if present else None,
                    expected=expected, related=related,
                    message=(f"{spec.fact} is {quote(value, present)}, but {chosen}"
                             f"{where} is {expected}, held by {names}"),
                ))
    return out


def _by_value(host: HostFacts, path: str) -> Any:
    return lookup(host, path).value
