"""``aggregate``: each host against a total over the hosts it shares something with.

Some limits hold for a group, not a host: the connections all replicas of one backend open
must fit the database's ``max_connections``. Conftest writes ``sum([x | ...])``, Kyverno a
JMESPath ``sum()``; here the rule names each host's number (``sum``: a fact path or a
template), the partition (``by``, as in ``consistent``), and conditions each host of the
partition must meet, whose templates read the partition's ``aggregate.sum`` and
``aggregate.count``.

A total is only as good as its terms: when one host's number is unknown (a fact this mode
cannot know, a value rendered from a secret) every host of its partition is skipped with
the reason, and a host whose number is not a number gets a finding of its own (the total
is unknown then, so the others are skipped). Linear: one pass to add up, one to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import HostFacts, VaultedValue
from mlflow_policy.facts.lookup import lookup, unavailable_reason
from mlflow_policy.rules.base import (
    MAX_NAMED,
    RuleContext,
    RuleOutcome,
    finding,
    host_name,
    quote,
    value_key,
)

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule

CONTEXT = "aggregate"  # the name the assert templates read: aggregate.sum, aggregate.count


class _Unknown(Exception):
    """A host's number cannot be known in this run (skip the partition)."""


class _Bad(Exception):
    """A host's number is not a number (a finding on that host)."""

    def __init__(self, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.value = value


def _term(rule: LoadedRule, host: HostFacts) -> int | float:
    """The host's number."""
    from mlflow_policy.policy import operators as ops
    from mlflow_policy.policy.templating import TemplateProblem, is_template, render
    from mlflow_policy.secrets import reveals_secret

    spec = rule.rule.aggregate
    assert spec is not None
    raw = spec.sum
    if is_template(raw):
        if ops.mentions_secret(raw):
            raise _Unknown(f"not checked: vaulted (sum {raw!r} reads a secret)")
        try:
            value = render(raw, {**host.facts, **rule.template_context})
        except TemplateProblem as problem:
            if problem.missing is not None:
                reason = unavailable_reason(host, problem.missing)
                if reason is not None:
                    raise _Unknown(f"{problem.missing} is unavailable ({reason})") from None
            raise _Bad(f"cannot compute sum {raw!r}: {problem.message}") from None
        if reveals_secret(value, host):
            raise _Unknown(f"not checked: vaulted (sum {raw!r} is rendered from a secret)")
    else:
        got = lookup(host, raw)
        if got.unavailable is not None:
            raise _Unknown(f"{raw} is unavailable ({got.unavailable})")
        if not got.present:
            raise _Bad(f"sum {raw} is absent")
        value = got.value
        if isinstance(value, VaultedValue):
            raise _Unknown(f"not checked: vaulted ({raw} is vaulted)")
    number = ops.number(value)
    if number is None:
        raise _Bad(f"sum {raw!r} is {quote(value)} here, not a number", value)
    return int(number) if float(number).is_integer() else number


def evaluate(rule: LoadedRule, hosts: Sequence[HostFacts], ctx: RuleContext) -> RuleOutcome:
    from mlflow_policy.policy.conditions import check

    spec = rule.rule.aggregate
    assert spec is not None
    out = RuleOutcome()
    first_path = next(iter(spec.assert_))
    # partition key -> [(host, its number)], and the partitions whose total is unknown
    partitions: dict[tuple[Any, ...], list[tuple[HostFacts, int | float]]] = {}
    unknown: dict[tuple[Any, ...], str] = {}
    for host in hosts:
        part: tuple[Any, ...] = ()
        if spec.by:
            got_by = lookup(host, spec.by)
            if got_by.unavailable is not None:
                out.skip(host, f"{spec.by} is unavailable ({got_by.unavailable})")
                continue
            if not got_by.present:
                continue  # in no partition, as in consistent
            part = value_key(got_by.value)
        members = partitions.setdefault(part, [])
        try:
            members.append((host, _term(rule, host)))
        except _Unknown as why:
            unknown.setdefault(part, f"{host_name(host)}: {why}")
            out.skip(host, str(why))
        except _Bad as why:
            unknown.setdefault(part, f"{host_name(host)}'s term is not a number")
            out.findings.append(finding(
                rule, host, first_path, actual=why.value, expected="a number to add up",
                message=str(why)))
    for part, members in partitions.items():
        if part in unknown:
            for host, _ in members:
                out.skip(host, f"the sum over its partition is unknown ({unknown[part]})")
            continue
        total = sum(n for _, n in members)
        summary = {"sum": total, "count": len(members)}
        extra = {**rule.template_context, CONTEXT: summary}
        for host, _ in members:
            for path, cond in spec.assert_.items():
                res = check(cond, host, path, extra=extra, memo=ctx.memo)
                if res.skipped is not None:
                    out.skip(host, f"{path}: {res.skipped}")
                elif not res.ok:
                    out.findings.append(finding(
                        rule, host, path, actual=res.actual, expected=res.expected,
                        message=f"{res.message} ({_terms(spec.by, host, members)})"))
    return out


def _terms(by: str | None, host: HostFacts,
           members: list[tuple[HostFacts, int | float]]) -> str:
    """``sum 360 over 3 hosts with server.backend_store_uri = '...': track-1 120, ...``"""
    where = f" with {by} = {quote(lookup(host, by).value)}" if by else ""
    shown = ", ".join(f"{host_name(h, host)} {n}" for h, n in members[:MAX_NAMED])
    more = f" and {len(members) - MAX_NAMED} more" if len(members) > MAX_NAMED else ""
    total = sum(n for _, n in members)
    return (f"aggregate.sum {total} over {len(members)} host{'s' if len(members) != 1 else ''}"
            f"{where}: {shown}{more}")
