"""Waivers: accountable, expiring exceptions applied to finished findings.

A waiver is valid through its ``expires`` day in UTC; from the next day on it no longer
applies and says so (``waiver-expired``). A live waiver that waives nothing says so too
(``waiver-unused``), so stale exceptions surface instead of piling up.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from mlflow_policy.core import HostFacts
from mlflow_policy.findings import INTERNAL_ERROR, WAIVER_EXPIRED, WAIVER_UNUSED, Finding

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedWaiver

HostResolver = Callable[[Finding], HostFacts]


def glob_match(rule_id: str, globs: Sequence[str]) -> bool:
    return any(fnmatchcase(rule_id, g) for g in globs)


@dataclass
class _Applier:
    waivers: Sequence[LoadedWaiver]
    host_of: HostResolver

    def __post_init__(self) -> None:
        self.used: set[str] = set()

    def apply(self, findings: Sequence[Finding], *, not_self: bool = False) -> list[Finding]:
        from mlflow_policy.policy.selectors import selects

        out: list[Finding] = []
        for f in findings:
            out.append(f)
            # An internal error is a bug in a rule: it is never waivable.
            if f.rule == INTERNAL_ERROR:
                continue
            for w in self.waivers:
                if not_self and f.about_waiver == w.name:
                    continue
                if glob_match(f.rule, w.rules) and (
                    w.match is None or selects(w.match, self.host_of(f))
                ):
                    self.used.add(w.name)
                    out[-1] = f.with_waiver(w.name)
                    break
        return out


def apply_waivers(
    findings: Sequence[Finding], waivers: Sequence[LoadedWaiver], *, today: date,
    host_of: HostResolver, in_scope: Callable[[str], bool], keep: Callable[[str], bool],
) -> list[Finding]:
    """Waive what the live waivers cover and add the engine's waiver findings.

    ``in_scope(glob)``: whether a waiver glob names any rule this run evaluated; a waiver
    for rules filtered out with ``--rule``/``--skip-rule`` is not reported unused.
    ``keep(rule_id)``: the run's rule filter, for the waiver findings themselves.
    """
    ordered = sorted(waivers, key=lambda w: w.name)
    live = [w for w in ordered if w.expires >= today]
    applier = _Applier(live, host_of)
    result = applier.apply(findings)
    expired = [
        Finding(rule=WAIVER_EXPIRED, severity="warning", location=w.location,
                about_waiver=w.name,
                message=(f"waiver '{w.name}' expired on {w.expires.isoformat()}; the findings "
                         f"it waived fail again (owner: {w.owner})"))
        for w in ordered if w.expires < today
    ]
    result += applier.apply([f for f in expired if keep(f.rule)])
    candidates = [w for w in live
                  if w.name not in applier.used and any(in_scope(g) for g in w.rules)]
    unused = [
        Finding(rule=WAIVER_UNUSED, severity="warning", location=w.location,
                about_waiver=w.name,
                message=f"waiver '{w.name}' matches no finding; remove it (owner: {w.owner})")
        for w in candidates
    ]
    waived_unused = applier.apply([f for f in unused if keep(f.rule)], not_self=True)
    # A waiver whose only job is to silence other waivers' unused warnings is used now.
    late = {w.name for w in candidates if w.name in applier.used}
    result += [f for f in waived_unused
               if f.about_waiver not in late]
    return result


def scope_checker(rule_ids: Collection[str]) -> Callable[[str], bool]:
    ids = sorted(rule_ids)
    return lambda glob: any(fnmatchcase(r, glob) for r in ids)
