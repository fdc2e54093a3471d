"""``unique``: at most ``max`` hosts (per ``by`` partition) share a present value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import HostFacts
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
    spec = rule.rule.unique
    assert spec is not None
    out = RuleOutcome()
    groups: dict[tuple[Any, ...], list[tuple[HostFacts, Any]]] = {}
    for part, host, got in partitioned(hosts, spec.by, spec.fact, out):
        if not got.present:
            continue
        groups.setdefault((part, value_key(got.value)), []).append((host, got.value))
    for members in groups.values():
        if len(members) <= spec.max:
            continue
        # The first MAX_NAMED + 1 hosts are enough to name MAX_NAMED others for anyone.
        head = members[: MAX_NAMED + 1]
        for host, value in members:
            others = [host_name(h, host) for h, _ in head if h is not host][:MAX_NAMED]
            allowed = "no other host" if spec.max == 1 else f"at most {spec.max} hosts"
            out.findings.append(finding(
                rule, host, spec.fact, actual=value,
                expected=f"{allowed} with this value",
                message=(f"{spec.fact} is {quote(value)}, also used by "
                         f"{name_list(others, len(members) - 1)} "
                         f"({len(members)} hosts, at most {spec.max} allowed)"),
            ))
    return out
