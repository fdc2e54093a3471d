"""``run_check``: fact source -> facts -> engine -> Result, the one pipeline behind
``check``, ``test`` (PolicyTest), pull-request mode and, later, ``remediate``.

The caller (the CLI, a test runner, a program embedding mlflow-policy) loads policies and
waivers and picks a fact source; nothing here prints, exits, changes directory or reads
the current directory. Built-in findings the run can produce besides the loaders'
diagnostics (``schema-migration`` in pull-request mode, ``drift`` in live mode) go through
the engine with the rules, so ``--rule``/``--skip-rule`` and waivers apply to them alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from mlflow_policy.config import DEFAULT_DRIFT
from mlflow_policy.core import HostFacts
from mlflow_policy.findings import DRIFT, UNREACHABLE, Finding, Result

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedPolicy, LoadedWaiver
    from mlflow_policy.sources import FactSource


@dataclass(frozen=True)
class Filters:
    """``--rule`` globs (empty: every rule) and ``--skip-rule`` globs, on full rule ids
    (built-in ids too)."""

    rules: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()


def drift_findings(hosts: Sequence[HostFacts], entries: Sequence[str]) -> list[Finding]:
    """``mlflow-policy/drift``, one warning per drifted path of each live host (unknown
    paths are not findings: the rules on them are skipped with the reason)."""
    from mlflow_policy.facts.drift import diff
    from mlflow_policy.secrets import mask

    out: list[Finding] = []
    for h in hosts:
        if h.observed is None:
            continue
        for item in diff(h.declared, h.observed, entries):
            if item.status != "drift":
                continue
            # the message is text: secrets masked here (a token is not recognisable later)
            declared = (repr(mask(item.declared, item.path, h)) if item.declared_present
                        else "absent")
            observed = (repr(mask(item.observed, item.path, h)) if item.observed_present
                        else "absent")
            out.append(Finding(
                rule=DRIFT, severity="warning", host=h.host, inventory=h.inventory,
                fact=item.path, actual=item.observed if item.observed_present else None,
                expected=f"the declared value ({declared})", location=item.location,
                message=_drift_message(h, item.path, observed, declared)))
    return out


def _drift_message(h: HostFacts, path: str, observed: str, declared: str) -> str:
    from mlflow_policy.facts.document import find

    if path == "db.revision" and h.declared_doc is not None:
        # declared through the version: say which one, and that the head is derived
        _, version = find(h.declared_doc.values, "mlflow.version")
        return (f"db.revision is {observed} on the host, but the declared mlflow.version "
                f"{version} expects {declared} (its alembic head): the database was not "
                "migrated")
    return f"{path} is {observed} on the host, but the inventory declares {declared}"


def run_check(
    source: FactSource,
    policies: Sequence[LoadedPolicy],
    waivers: Sequence[LoadedWaiver] = (),
    filters: Filters = Filters(),
    *,
    today: date,
    drift: Sequence[str] = DEFAULT_DRIFT,
    builtins: Sequence[Finding] = (),
    builtin_ids: Sequence[str] = (),
) -> Result:
    """Load the fleet from ``source`` and evaluate it (the Result keeps every host, so a
    caller can compare two runs' facts, as pull-request mode does). ``drift``: the
    config's ``drift:`` entries (live mode only). ``builtins`` / ``builtin_ids``: the
    caller's own built-in findings (pull-request mode's schema migrations) and the ids
    they may carry."""
    from mlflow_policy.engine import evaluate

    fleet = source.load()
    extra = list(builtins)
    ids = list(builtin_ids)
    if fleet.mode == "live":
        extra.extend(drift_findings(fleet.hosts, drift))
        ids.extend((DRIFT, UNREACHABLE))
    return evaluate(
        policies, fleet.hosts, fleet.diagnostics, waivers, today=today,
        rule_filter=filters.rules, skip_filter=filters.skip,
        inventories=fleet.inventories, mode=fleet.mode, builtins=extra, builtin_ids=ids)
