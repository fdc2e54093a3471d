"""Reading one dotted fact path out of a host's fact document, with the three outcomes
rules must tell apart: present, absent (the host does not set it) and unavailable (the
current mode cannot know it)."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from mlflow_policy.core import HostFacts
from mlflow_policy.dotted import MISSING, nearest


class Lookup(NamedTuple):
    """A named tuple: rules make one per (rule, host, fact), millions on a large fleet."""

    present: bool
    value: Any = None
    unavailable: str | None = None  # the reason, when the mode cannot know the fact

    @property
    def absent(self) -> bool:
        return not self.present and self.unavailable is None


ABSENT = Lookup(present=False)


class ReasonTable(dict[str, str]):
    """Unavailable paths and their reasons, shared by many hosts (every host of a static
    run has the same table), answering "the reason of ``path`` or of its nearest
    ancestor" from a memo the table itself holds, keyed by the path's text: rules ask the
    same few paths of every host. Never changed once made (the memo would go stale)."""

    __slots__ = ("_nearest",)

    def __init__(self, items: Mapping[str, str]) -> None:
        super().__init__(items)
        self._nearest: dict[str, str | None] = {}

    def reason(self, path: str) -> str | None:
        try:
            return self._nearest[path]
        except KeyError:
            pass
        found: str | None = nearest(self, path)
        if len(self._nearest) < 65536:  # bounded: paths come from policies
            self._nearest[path] = found
        return found


def unavailable_reason(facts: HostFacts, path: str) -> str | None:
    """The reason ``path`` (or a prefix of it, such as ``db`` for ``db.revision``) is
    unavailable, if it is."""
    table = facts.unavailable
    if not table:
        return None
    if type(table) is ReasonTable:
        return table.reason(path)
    reason: str | None = nearest(table, path)
    return reason


def lookup(facts: HostFacts, path: str) -> Lookup:
    # unavailable_reason and dig, inlined: every rule makes one lookup per host and fact
    table = facts.unavailable
    if table:
        reason = table.reason(path) if type(table) is ReasonTable else nearest(table, path)
        if reason is not None:
            return Lookup(present=False, unavailable=reason)
    parts = _PARTS.get(path)
    if parts is None:
        if len(_PARTS) > 65536:
            _PARTS.clear()
        parts = _PARTS[path] = tuple(path.split("."))
    node: Any = facts.facts
    for part in parts:
        if type(node) is dict:
            node = node.get(part, MISSING)
            if node is MISSING:
                return ABSENT
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return ABSENT
    return Lookup(True, node)


# fact path -> its parts. Keyed by the path's text, not by an object's identity, and
# bounded: safe to share between runs and threads (a race only splits a path twice).
_PARTS: dict[str, tuple[str, ...]] = {}


def vaulted_at(facts: HostFacts, path: str) -> bool:
    """``path`` or a mapping above it is vaulted on this host."""
    vaulted = facts.vaulted_paths
    if not vaulted:
        return False
    covers = getattr(vaulted, "covers", None)  # a fact-path view caches the answer
    return bool(covers(path)) if covers is not None else covered(vaulted, path)


def covered(paths: AbstractSet[str], path: str) -> bool:
    """``path`` or one of its dotted ancestors is in ``paths``."""
    probe = path
    while probe:
        if probe in paths:
            return True
        probe = probe.rpartition(".")[0]
    return False


def provenance_for(facts: HostFacts, path: str) -> Any:
    """The location of ``path``'s value, falling back to its nearest located ancestor."""
    return nearest(facts.provenance, path)
