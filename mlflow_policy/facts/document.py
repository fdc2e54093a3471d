"""The document rules read in each mode, made from a host's declared and observed documents.

Static mode reads the declared document as it is. Live mode reads what the host runs: each
fact the table (:mod:`mlflow_policy.facts.table`) marks as observed (``both`` or
``observed``) comes from the observed document, and each fact only an inventory knows
(``declared``: ``server.url``, ``mlflow.python``, ``mlflow.env_file``, ``server.managed``;
and the identity facts: ``host``, ``groups``, ``role``, ``vars``...) from the declared one.
Composed fact by fact, never by a shallow merge of top-level keys: an observed ``server``
mapping must not hide the declared ``server.url``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from mlflow_policy.core import FactDocument, HostFacts
from mlflow_policy.dotted import MISSING, dig, put
from mlflow_policy.facts.lookup import covered
from mlflow_policy.facts.table import FACTS

MODES = ("static", "live")
# Paths each side contributes to the live document, from the one fact table.
DECLARED_SIDE: tuple[str, ...] = tuple(f.path for f in FACTS if f.modes in ("declared",
                                                                              "identity"))
# (a computed fact comes from the observed side: it is computed from the observed inputs)
OBSERVED_SIDE: tuple[str, ...] = tuple(f.path for f in FACTS if f.modes in ("both",
                                                                             "observed",
                                                                             "computed"))


def find(values: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path in a nested document."""
    node = dig(values, path.split("."))
    return (False, None) if node is MISSING else (True, node)


class VaultedUnion(AbstractSet[str]):
    """Paths vaulted on either side: a value the inventory vaults stays masked when a live
    run reads it in clear on the host."""

    __slots__ = ("_sets",)

    def __init__(self, *sets: AbstractSet[str]) -> None:
        self._sets = tuple(s for s in sets if s)

    def __contains__(self, path: object) -> bool:
        return any(path in s for s in self._sets)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for s in self._sets:
            for p in s:
                if p not in seen:
                    seen.add(p)
                    yield p

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return bool(self._sets)

    def covers(self, path: str) -> bool:
        return any(covered(s, path) for s in self._sets)


def host_unavailable_paths(reason: str) -> dict[str, str]:
    """What a host that could not be read at all cannot know: every observed fact."""
    return dict.fromkeys(OBSERVED_SIDE, reason)


def for_mode(host: str, inventory: str, declared: FactDocument,
             observed: FactDocument | None, mode: str) -> HostFacts:
    """The host as rules see it in ``mode`` (``static``: the declared document; ``live``:
    see the module docstring). A live host without an observed document counts as a host
    that could not be read."""
    if mode == "static":
        return HostFacts(host=host, inventory=inventory, facts=declared.values,
                         provenance=declared.provenance, unavailable=declared.unavailable,
                         vaulted_paths=declared.vaulted, declared_doc=declared)
    if mode != "live":
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    if observed is None:
        observed = FactDocument(values={}, host_unavailable="no observed facts for this host")
    values: dict[str, Any] = {}
    for side, paths in ((declared, DECLARED_SIDE), (observed, OBSERVED_SIDE)):
        for path in paths:
            found, value = find(side.values, path)
            if found:
                put(values, path, value)
    unavailable: dict[str, str] = dict(observed.unavailable)
    if observed.host_unavailable is not None:
        unavailable.update(host_unavailable_paths(observed.host_unavailable))
    return HostFacts(
        host=host, inventory=inventory, facts=values,
        # findings about a live value still point at the inventory line that declares it
        provenance=declared.provenance, unavailable=unavailable,
        vaulted_paths=VaultedUnion(declared.vaulted, observed.vaulted),
        declared_doc=declared, observed=observed,
    )


def paths_under(prefixes: Sequence[str]) -> list[str]:
    """The table's facts that exist on both sides (so can drift) named by ``prefixes``
    (the config's ``drift:`` entries: a fact, a group such as ``server``, or ``env``)."""
    out: list[str] = []
    for f in FACTS:
        if f.modes != "both":
            continue
        if any(f.path == p or f.path.startswith(p + ".") for p in prefixes):
            out.append(f.path)
    # an entry below an open mapping (env.MLFLOW_TRACKING_URI) names that one key
    for p in prefixes:
        head = p.partition(".")[0]
        if p not in out and any(f.path == head and f.open_mapping and f.modes == "both"
                                for f in FACTS) and p != head:
            out.append(p)
    return out
