"""``promotion``: the hosts that follow run only values the ``from`` hosts already run.

``from`` selects among every host of the run, across inventories (staging leads prod).
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
    name_list,
    quote,
    value_key,
)

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule


def evaluate(rule: LoadedRule, hosts: Sequence[HostFacts], ctx: RuleContext) -> RuleOutcome:
    from mlflow_policy.policy.selectors import selects

    spec = rule.rule.promotion
    assert spec is not None
    out = RuleOutcome()
    leading: dict[tuple[Any, ...], tuple[HostFacts, Any]] = {}
    for lead in ctx.all_hosts:
        if not selects(spec.from_, lead, ctx.memo):
            continue
        got = lookup(lead, spec.fact)
        if got.present:
            leading.setdefault(value_key(got.value), (lead, got.value))
    keys = sorted(leading)
    shown = [quote(leading[k][1]) for k in keys[:MAX_NAMED]]
    allowed = f"one of {name_list(shown, len(keys))}" if keys else "a value some `from` host has"
    related = [Related(h.inventory, h.host, v) for h, v in (leading[k] for k in keys[:MAX_NAMED])]
    for host in hosts:
        got = lookup(host, spec.fact)
        if got.unavailable is not None:
            out.skip(host, f"{spec.fact} is unavailable ({got.unavailable})")
            continue
        if not got.present or value_key(got.value) in leading:
            continue
        have = (f"the `from` hosts have {name_list(shown, len(keys))}" if keys
                else "no `from` host has this fact set")
        out.findings.append(finding(
            rule, host, spec.fact, actual=got.value, expected=allowed, related=related,
            message=f"{spec.fact} is {quote(got.value)}, not yet promoted: {have}",
        ))
    return out
