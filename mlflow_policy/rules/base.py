"""What every rule kind shares: its calling convention, value keys and finding helpers.

A rule kind is a function ``(rule, hosts, ctx) -> RuleOutcome``: ``hosts`` are the hosts the
rule selected (sorted by (inventory, host)), ``ctx.all_hosts`` every host of the run (peer
targets and promotion's ``from`` hosts are chosen among all of them, across inventories).
Kinds must stay linear in the number of hosts: partitions are dicts keyed by
:func:`value_key`, never pairwise comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import HostFacts, VaultedValue
from mlflow_policy.facts.lookup import Lookup, lookup, provenance_for
from mlflow_policy.findings import Finding, Related
from mlflow_policy.secrets import mask_text

if TYPE_CHECKING:
    from mlflow_policy.policy.conditions import ConditionMemo
    from mlflow_policy.policy.loader import LoadedRule

# How many other hosts / values a message names before "and N more": keeps every finding
# O(1) in size, so a kind stays linear even when a partition has thousands of hosts.
MAX_NAMED = 10


def _new_memo() -> ConditionMemo:
    from mlflow_policy.policy.conditions import ConditionMemo

    return ConditionMemo()


@dataclass(frozen=True)
class RuleContext:
    """What the rules of one run share: every host, and the run's memo of condition
    verdicts (made per run, so a long-lived program keeps nothing between runs)."""

    all_hosts: Sequence[HostFacts]
    memo: ConditionMemo = field(default_factory=_new_memo)


@dataclass
class RuleOutcome:
    findings: list[Finding] = field(default_factory=list)
    # host key -> why the rule could not decide there (the first reason met)
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)

    def skip(self, host: HostFacts, reason: str) -> None:
        self.skipped.setdefault(host.key, reason)


RuleKind = Callable[["LoadedRule", Sequence[HostFacts], RuleContext], RuleOutcome]


# Rank of each value type in the total order used for ties; absent sorts last so that a
# tie between a value and "not set" names the value.
_RANK = {"null": 0, "bool": 1, "num": 2, "str": 3, "list": 4, "map": 5, "vault": 6,
         "other": 7, "absent": 8}


def value_key(value: Any, present: bool = True) -> tuple[Any, ...]:
    """A hashable, totally ordered key for a fact value. Equal keys mean equal values with
    YAML's types kept apart ("1" != 1, true != 1); within one type the natural order
    (strings lexicographically) decides, across types the fixed rank above."""
    if not present:
        return (_RANK["absent"],)
    if value is None:
        return (_RANK["null"],)
    if isinstance(value, bool):
        return (_RANK["bool"], value)
    if isinstance(value, (int, float)):
        return (_RANK["num"], value)
    if isinstance(value, str):
        return (_RANK["str"], str(value))
    if isinstance(value, VaultedValue):
        return (_RANK["vault"], value.ciphertext)
    if isinstance(value, Mapping):
        return (_RANK["map"], tuple(sorted((str(k), value_key(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (_RANK["list"], tuple(value_key(v) for v in value))
    return (_RANK["other"], repr(value))


def partitioned(hosts: Sequence[HostFacts], by: str | None, fact: str, out: RuleOutcome
                ) -> Iterator[tuple[tuple[Any, ...], HostFacts, Lookup]]:
    """(partition key, host, the fact's lookup) for every host a partitioned rule checks.

    Hosts whose ``by`` fact or ``fact`` is unavailable are counted as skipped; hosts whose
    ``by`` fact is absent belong to no partition and are left out.
    """
    for host in hosts:
        part: tuple[Any, ...] = ()
        if by:
            got_by = lookup(host, by)
            if got_by.unavailable is not None:
                out.skip(host, f"{by} is unavailable ({got_by.unavailable})")
                continue
            if not got_by.present:
                continue
            part = value_key(got_by.value)
        got = lookup(host, fact)
        if got.unavailable is not None:
            out.skip(host, f"{fact} is unavailable ({got.unavailable})")
            continue
        yield part, host, got


def quote(value: Any, present: bool = True) -> str:
    """A value as messages quote it. Vaulted values print as ``***`` via their repr-free
    str; reporters mask any other secret in the finished text."""
    if not present:
        return "absent"
    if isinstance(value, VaultedValue):
        # The redacted text (postgresql://mlflow:***@db/mlflow) never holds the secret.
        return "***" if value.redacted is None else repr(mask_text(value.redacted))
    return repr(str(value)) if isinstance(value, str) else repr(value)


def host_name(host: HostFacts, relative_to: HostFacts | None = None) -> str:
    """``host``, or ``inventory/host`` when it lives in another inventory than the host the
    message is about (two inventories may both have a ``tracking-1``)."""
    if relative_to is not None and host.inventory == relative_to.inventory:
        return host.host
    return f"{host.inventory}/{host.host}"


def name_list(names: Iterable[str], total: int) -> str:
    shown = list(names)
    text = ", ".join(shown)
    if total > len(shown):
        text += f" and {total - len(shown)} more"
    return text


def finding(
    rule: LoadedRule, host: HostFacts, fact: str, *, actual: Any, expected: str, message: str,
    severity: str | None = None, related: Sequence[Related] = (),
    located_on: tuple[HostFacts, str] | None = None,
) -> Finding:
    """A finding about ``fact`` on ``host``, pointing at the inventory line that set it
    (``located_on``: the (host, path) actually read, when it is another host's fact, as
    for ``peer.<path>`` in peer rules)."""
    where_host, where_path = located_on or (host, fact)
    return Finding(
        rule=rule.full_id, severity=severity or rule.severity, message=message,
        host=host.host, inventory=host.inventory, fact=fact, actual=actual, expected=expected,
        location=provenance_for(where_host, where_path), related=tuple(related),
    )
