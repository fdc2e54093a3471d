"""Per-host results of a live gathering pass, as plain typed values.

Both ways of gathering end here: ansible-runner events (``check --live``) and the result
files a user's own ``ansible-playbook`` run leaves (``gather-playbook``) carry the same
module result, which :func:`from_module_result` turns into a :class:`LiveHostResult`.

Facts are keyed by their fact path (``mlflow.version``, ``server.workers``, ``env`` with a
mapping value), so the engine's observed document is built from ``facts`` and explained
with ``sources`` and ``unavailable``. Facts derived from the built-in catalogue
(``db.expected_revision``, ``db.schema_current``, ``db.missing_tables``,
``db.extra_tables``) and the clock offset are computed here, on the controller.

:meth:`LiveHostResult.to_json` never carries a secret, in clear or as a digest: secret
values are masked and their paths listed in ``withheld`` (their value is unknown to
whoever reads the snapshot). Only the live run's own process holds them in clear.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "unreachable", "failed", "timeout"]
SCHEMA = 1
MODULE_KEY = "mlflow_policy"
# fact paths the module returns that are not facts themselves (turned into db.* facts)
_RAW_ONLY = ("db.tables",)


@dataclass(frozen=True)
class LiveHostResult:
    """What one host's live gathering gave.

    ``inventory_hostname`` is the key (on a loopback fleet every host is the same machine);
    ``host`` is the address Ansible reached (``ansible_host``), when known. ``failure`` is
    Ansible's reason when the host could not be gathered (then ``status`` says how);
    ``facts`` is empty then.
    """

    inventory_hostname: str
    host: str | None
    status: Status
    facts: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    failure: str | None = None
    withheld: tuple[str, ...] = ()
    # the host's declared hostvars as Ansible resolved them (``vars``, ``groups``,
    # ``unrendered``), when the run asked for them; in memory only, never in to_json
    declared: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def nested(self) -> dict[str, Any]:
        """The facts as a nested document (``{"server": {"workers": 1}}``)."""
        doc: dict[str, Any] = {}
        for path, value in self.facts.items():
            parts = path.split(".")
            node = doc
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return doc

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe document without any secret (see the module docstring)."""
        facts, withheld = _masked(self.facts)
        return {
            "schema": SCHEMA,
            "inventory_hostname": self.inventory_hostname,
            "host": self.host,
            "status": self.status,
            "failure": _mask_text(self.failure) if self.failure else None,
            "facts": facts,
            "sources": {k: _mask_text(v) for k, v in sorted(self.sources.items())},
            "unavailable": {k: _mask_text(v) for k, v in sorted(self.unavailable.items())},
            "withheld": sorted(set(self.withheld) | set(withheld)),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> LiveHostResult:
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"unsupported live result schema {doc.get('schema')!r}")
        status = doc.get("status")
        if status not in ("ok", "unreachable", "failed", "timeout"):
            raise ValueError(f"bad live result status {status!r}")
        name = doc.get("inventory_hostname")
        if not isinstance(name, str) or not name:
            raise ValueError("live result without inventory_hostname")
        return cls(
            inventory_hostname=name,
            host=doc.get("host"),
            status=status,
            facts=dict(doc.get("facts") or {}),
            sources=dict(doc.get("sources") or {}),
            unavailable=dict(doc.get("unavailable") or {}),
            failure=doc.get("failure"),
            withheld=tuple(doc.get("withheld") or ()),
        )


def failed(name: str, host: str | None, status: Status, reason: str) -> LiveHostResult:
    return LiveHostResult(name, host, status, failure=_mask_text(reason.strip()) or status)


def from_module_result(name: str, host: str | None, res: Mapping[str, Any],
                       received: float | None) -> LiveHostResult:
    """A host's result from the gather module's return value (``res``) and the controller
    time its result came back (for the clock offset)."""
    raw = res.get(MODULE_KEY)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("facts"), Mapping):
        # the runner callback drops results larger than MAX_EVENT_RES: never "no facts"
        return failed(name, host, "failed", "the gather module returned no facts "
                      "(result missing or truncated)")
    facts: dict[str, Any] = dict(raw["facts"])
    sources = {k: f"live: {v}" for k, v in dict(raw.get("sources") or {}).items()}
    unavailable = {k: str(v) for k, v in dict(raw.get("unavailable") or {}).items()}
    _derive_db(facts, sources, unavailable)
    _clock(raw, received, facts, sources, unavailable)
    for path in _RAW_ONLY:
        facts.pop(path, None)
        sources.pop(path, None)
        unavailable.pop(path, None)
    return LiveHostResult(name, host, "ok", facts, sources, unavailable,
                          withheld=tuple(raw.get("withheld") or ()))


def _derive_db(facts: dict[str, Any], sources: dict[str, str],
               unavailable: dict[str, str]) -> None:
    from mlflow_policy import catalogue

    derived = ("db.expected_revision", "db.schema_current", "db.missing_tables",
               "db.extra_tables")
    version = facts.get("mlflow.version")
    expected = catalogue.head_for(version) if isinstance(version, str) else None
    if expected is not None:
        facts["db.expected_revision"] = expected
        sources["db.expected_revision"] = f"catalogue: alembic head of MLflow {version}"
    else:
        unavailable["db.expected_revision"] = (
            f"MLflow {version} is not in the built-in catalogue" if version
            else unavailable.get("mlflow.version", "mlflow.version unavailable"))
    revision = facts.get("db.revision")
    if revision is None:
        reason = unavailable.get("db.revision", "db.revision unavailable")
        for path in derived[1:]:
            unavailable[path] = reason
        return
    if expected is not None:
        facts["db.schema_current"] = revision == expected
        sources["db.schema_current"] = "catalogue: db.revision == db.expected_revision"
    else:
        unavailable["db.schema_current"] = unavailable["db.expected_revision"]
    tables = facts.get("db.tables")
    known = catalogue.tables_for(revision)
    if not isinstance(tables, list):
        reason = unavailable.get("db.tables", "table list unavailable")
        unavailable["db.missing_tables"] = unavailable["db.extra_tables"] = reason
    elif not known:
        reason = f"revision {revision} is not in the built-in catalogue"
        unavailable["db.missing_tables"] = unavailable["db.extra_tables"] = reason
    else:
        facts["db.missing_tables"] = sorted(known - set(tables))
        facts["db.extra_tables"] = sorted(set(tables) - known)
        src = f"live: backend store tables against the catalogue's tables of {revision}"
        sources["db.missing_tables"] = sources["db.extra_tables"] = src


def _clock(raw: Mapping[str, Any], received: float | None, facts: dict[str, Any],
           sources: dict[str, str], unavailable: dict[str, str]) -> None:
    """Host clock minus controller clock.

    The controller's time when it sent the task (``controller_time``) and when the result
    came back (``received``) bracket the host's readings, so the offset lies between
    ``host_time - sent`` and ``host_time_end - received``. The way out is long (connection,
    module transfer, interpreter start) and the way back short (a small JSON reply), so the
    estimate is the host's clock at its reply against the controller's at receipt: it errs
    by the reply's transit only; the bracket is given in the source.
    """
    sent, start = raw.get("controller_time"), raw.get("host_time")
    end = raw.get("host_time_end", start)
    values = (sent, start, end, received)
    numbers = [float(v) for v in values
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(numbers) != len(values):
        unavailable["clock.offset_seconds"] = "no controller timestamps for this result"
        return
    sent_f, start_f, end_f, received_f = numbers
    low, high = end_f - received_f, start_f - sent_f
    facts["clock.offset_seconds"] = round(low, 3)
    sources["clock.offset_seconds"] = (
        f"live: host clock at its reply against the controller's at receipt (the offset "
        f"lies between {low:.3f}s and {high:.3f}s)")


def _mask_text(text: str) -> str:
    from mlflow_policy.secrets import mask_text

    return mask_text(text)


def _masked(facts: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Facts with every secret masked, and the paths whose value that hid."""
    from mlflow_policy.secrets import MASK, is_secret_name, mask_text

    out: dict[str, Any] = {}
    withheld: list[str] = []

    def leaf(path: str, name: str, value: Any) -> Any:
        if value is not None and is_secret_name(name):
            if value != MASK:
                withheld.append(path)
            return MASK
        if isinstance(value, str) and "://" in value:
            masked = mask_text(value)
            if masked != value:
                withheld.append(path)
            return masked
        return value

    for path, value in facts.items():
        if isinstance(value, Mapping):
            out[path] = {k: leaf(f"{path}.{k}", k, v) for k, v in value.items()}
        else:
            out[path] = leaf(path, path.rsplit(".", 1)[-1], value)
    return out, withheld
