"""``assert``: each host on its own, one finding per failing (host, fact path).

A key whose last segment is a glob (``vars.*password*``) stands for every key of that
mapping the host has that matches it, each checked on its own (one finding each, located
where that hostvar is set). A host with no matching key is checked once with the glob
path absent: ``required`` fails, ``forbidden`` and every other operator hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from mlflow_policy.core import HostFacts
from mlflow_policy.facts.lookup import lookup
from mlflow_policy.rules.base import RuleContext, RuleOutcome, finding

if TYPE_CHECKING:
    from mlflow_policy.policy.conditions import CheckResult, ConditionMemo
    from mlflow_policy.policy.loader import LoadedRule
    from mlflow_policy.policy.models import Condition

_GLOB = frozenset("*?[")


def evaluate(rule: LoadedRule, hosts: Sequence[HostFacts], ctx: RuleContext) -> RuleOutcome:
    from mlflow_policy.policy.conditions import check

    conditions = rule.rule.assert_ or {}
    extra = rule.template_context or None
    globbed = {path for path in conditions if _GLOB.intersection(path)}
    out = RuleOutcome()
    for host in hosts:
        for path, cond in conditions.items():
            results = _each_match(cond, host, path, extra, ctx.memo) if path in globbed else \
                ((path, check(cond, host, path, extra=extra, memo=ctx.memo)),)
            for fact, res in results:
                if res.skipped is not None:
                    # Unavailable in this mode: neither a violation nor a pass. The host's
                    # other facts are still checked; the (rule, host) pair counts as
                    # skipped once.
                    out.skip(host, f"{fact}: {res.skipped}")
                elif not res.ok:
                    out.findings.append(finding(
                        rule, host, fact, actual=res.actual, expected=res.expected,
                        message=res.message))
    return out


def _each_match(cond: Condition, host: HostFacts, path: str,
                extra: Mapping[str, object] | None, memo: ConditionMemo | None,
                ) -> Iterator[tuple[str, CheckResult]]:
    """(fact path, result) for every key of the mapping that matches the glob."""
    from mlflow_policy.policy.conditions import check, check_value

    head, _, pattern = path.rpartition(".")
    found = lookup(host, head)
    if found.unavailable is not None:
        yield path, check(cond, host, head, extra=extra, memo=memo)  # skipped, with the reason
        return
    mapping = found.value if found.present and isinstance(found.value, Mapping) else {}
    names = sorted(str(k) for k in mapping if fnmatchcase(str(k), pattern))
    if not names:
        yield path, check_value(cond, False, None, path, host, extra=extra, memo=memo)
        return
    for name in names:
        fact = f"{head}.{name}"
        yield fact, check(cond, host, fact, extra=extra, memo=memo)
