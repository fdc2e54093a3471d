"""``assert``: each host on its own, one finding per failing (host, fact path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlflow_policy.core import HostFacts
from mlflow_policy.rules.base import RuleContext, RuleOutcome, finding

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule


def evaluate(rule: LoadedRule, hosts: Sequence[HostFacts], ctx: RuleContext) -> RuleOutcome:
    from mlflow_policy.policy.conditions import check

    conditions = rule.rule.assert_ or {}
    out = RuleOutcome()
    for host in hosts:
        for path, cond in conditions.items():
            res = check(cond, host, path, memo=ctx.memo)
            if res.skipped is not None:
                # Unavailable in this mode: neither a violation nor a pass. The host's other
                # facts are still checked; the (rule, host) pair counts as skipped once.
                out.skip(host, f"{path}: {res.skipped}")
            elif not res.ok:
                out.findings.append(finding(
                    rule, host, path, actual=res.actual, expected=res.expected,
                    message=res.message))
    return out
