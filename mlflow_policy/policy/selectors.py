"""Whether a selector (``match`` / ``exclude`` / ``from`` / peer ``target.match``) picks a host.

All keys given must hold (AND); within one list any entry may hold (OR). ``hosts`` are
fnmatch globs on the inventory hostname (case-sensitive, so the result does not depend on
the OS); ``groups``, ``roles`` and ``inventories`` are exact names. ``groups`` reads the fact
``groups``, which already holds indirect membership (child groups).

``where`` conditions follow the absence rule of conditions (an absent fact satisfies every
operator but ``required``). A ``where`` fact that is unavailable in this mode does not
select the host: the selector cannot be decided, and selecting it anyway would turn every
rule it scopes into a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import HostFacts
from mlflow_policy.policy.models import Selector

if TYPE_CHECKING:
    from mlflow_policy.policy.conditions import ConditionMemo


def _names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, Iterable):
        return {str(v) for v in value if isinstance(v, str)}
    return set()


def _listed(value: Any, names: list[str]) -> bool:
    """Whether the fact ``value`` (a name or a list of names) names one of ``names``."""
    if isinstance(value, str):  # the common case (a host's role): no set built per host
        return value in names
    return bool(_names(value) & set(names))


def selects(sel: Selector | None, facts: HostFacts, memo: ConditionMemo | None = None) -> bool:
    """Whether ``sel`` picks the host (``None`` picks every host). ``memo``: the run's,
    for its ``where`` conditions (see ConditionMemo)."""
    if sel is None:
        return True
    if sel.hosts is not None and not any(fnmatchcase(facts.host, g) for g in sel.hosts):
        return False
    if sel.inventories is not None and facts.inventory not in sel.inventories:
        return False
    if sel.groups is not None and not _listed(facts.facts.get("groups"), sel.groups):
        return False
    if sel.roles is not None and not _listed(facts.facts.get("role"), sel.roles):
        return False
    if sel.where:
        from mlflow_policy.policy.conditions import check

        for path, cond in sel.where.items():
            if not check(cond, facts, path, memo=memo).ok:  # a skip (unavailable) is not ok
                return False
    return True
