"""Drift: where what a host runs (observed) differs from what its inventory says (declared).

A diff of the two documents over the config's ``drift:`` entries (facts, groups such as
``server``, or ``env``), restricted to the facts the table says exist on both sides. An
open mapping (``env``) is compared key by key, over the keys of both sides: which keys an
observed document holds is its source's business (the live gatherer decides which
variables of a process it reports).

Each compared path is one of: equal (not reported), ``drift`` (both sides known and
different, or set on one side only), or ``unknown`` with the reason: the observed side is
unavailable (the host could not be read, the fact could not be), or a value is vaulted and
so cannot be compared (we never decrypt to compare). A vaulted value is never drift.

``db.revision`` is observed only, yet compared when a ``drift:`` entry names it (or
``db``; it is among the defaults): its declared value is the alembic head of the declared
``mlflow.version`` (the built-in catalogue), so a database an upgrade left behind is drift,
located at the line that declares the version. A host whose observed document has no
``db.revision`` at all (no backend store there) is not compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlflow_policy.core import FactDocument, Location, VaultedValue
from mlflow_policy.facts.document import find, paths_under
from mlflow_policy.facts.lookup import covered
from mlflow_policy.facts.table import BY_PATH

Status = Literal["drift", "unknown"]
VAULTED_REASON = "the declared or observed value is vaulted: it cannot be compared"


@dataclass(frozen=True, slots=True)
class DriftItem:
    path: str
    status: Status
    declared: Any  # the raw values: mask before printing (reporters do)
    observed: Any
    declared_present: bool
    observed_present: bool
    reason: str | None = None  # why unknown
    location: Location | None = None  # where the declared value is written


def _canon(value: Any) -> Any:
    """Scalars compared by their text: an INI inventory declares ``5000`` where a process
    argument reads ``"5000"``, and both mean one port."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(map(str, a)) == set(map(str, b)) and all(
            same(a[k], b[k]) for k in a if k in b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or bool(_canon(a) == _canon(b))


def _unavailable(doc: FactDocument, path: str) -> str | None:
    if doc.host_unavailable is not None:
        return doc.host_unavailable
    probe = path
    while probe:
        reason = doc.unavailable.get(probe)
        if reason is not None:
            return reason
        probe = probe.rpartition(".")[0]
    return None


def _vaulted(doc: FactDocument, path: str, value: Any) -> bool:
    return isinstance(value, VaultedValue) or (bool(doc.vaulted) and covered(doc.vaulted, path))


# Observed-only in the fact table, but drift all the same: its declared value is the
# alembic head of the declared mlflow.version (a database left behind by an upgrade).
DB_REVISION = "db.revision"


def _with_revision(entries: Sequence[str], paths: list[str]) -> list[str]:
    if any(e in ("db", DB_REVISION) for e in entries) and DB_REVISION not in paths:
        paths.append(DB_REVISION)
    return paths


def declared_revision(declared: FactDocument) -> tuple[bool, Any, str | None]:
    """(found, the head revision of the declared mlflow.version, why unknown)."""
    from mlflow_policy import catalogue

    found, version = find(declared.values, "mlflow.version")
    if not found or not isinstance(version, str):
        return False, None, None
    head = catalogue.head_for(version)
    if head is None:
        return False, None, f"MLflow {version} is not in the built-in catalogue"
    return True, head, None


def _compared_paths(declared: FactDocument, observed: FactDocument,
                    entries: Sequence[str]) -> list[str]:
    out: list[str] = []
    _with_revision(entries, out)
    for path in paths_under(entries):
        fact = BY_PATH.get(path)
        if fact is not None and fact.open_mapping:
            keys: set[str] = set()
            for doc in (declared, observed):
                found, value = find(doc.values, path)
                if found and isinstance(value, Mapping):
                    keys.update(str(k) for k in value)
            out.extend(f"{path}.{k}" for k in sorted(keys))
        else:
            out.append(path)
    return out


def diff(declared: FactDocument, observed: FactDocument, entries: Sequence[str]
         ) -> list[DriftItem]:
    """The drifted and the undecidable paths among ``entries``, sorted by path."""
    items: list[DriftItem] = []
    if observed.host_unavailable is not None:
        # nothing observed: one unknown per entry, not one per key of the declared side
        return [DriftItem(p, "unknown", find(declared.values, p)[1], None,
                          find(declared.values, p)[0], False, observed.host_unavailable,
                          _location(declared, p))
                for p in sorted(_with_revision(entries, paths_under(entries)))]
    for path in _compared_paths(declared, observed, entries):
        d_found, d_value = find(declared.values, path)
        o_found, o_value = find(observed.values, path)
        where = _location(declared, path)
        reason = _unavailable(observed, path)
        if path == DB_REVISION:
            d_found, d_value, unknown = declared_revision(declared)
            where = _location(declared, "mlflow.version")
            if reason is None and not o_found:
                continue  # not a host with a backend store: nothing to compare
            if reason is None and unknown is not None:
                reason = unknown
            elif reason is None and not d_found:
                continue  # no declared version: no declared revision
        if reason is not None:
            items.append(DriftItem(path, "unknown", d_value, None, d_found, False, reason,
                                   where))
            continue
        if d_found and o_found and (_vaulted(declared, path, d_value)
                                    or _vaulted(observed, path, o_value)):
            items.append(DriftItem(path, "unknown", d_value, o_value, True, True,
                                   VAULTED_REASON, where))
            continue
        if not d_found and not o_found:
            continue
        if d_found and o_found and same(d_value, o_value):
            continue
        items.append(DriftItem(path, "drift", d_value, o_value, d_found, o_found, None, where))
    return sorted(items, key=lambda i: i.path)


def _location(doc: FactDocument, path: str) -> Location | None:
    origin = doc.origin(path)
    return origin if isinstance(origin, Location) else None
