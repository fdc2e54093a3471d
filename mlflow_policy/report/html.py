"""``--format html``: one self-contained page for people who would rather look than read.

A fleet matrix, hosts (rows) by rules (columns), each cell one (rule, inventory, host)
outcome: pass, fail, waived, skipped, unreachable, error, or empty where the rule does not
select the host. Filters (inventory, group, severity, rule, problems only) and a cell's
findings (``path:line``, message, expected, actual; declared vs observed in live mode)
run in the page's own script, so the file works from ``file://`` with no network.

Safety, since every string in it comes from a pull request's inventories and policies:
- the data is one JSON blob in a ``<script type="application/json">`` with ``<``, ``>``,
  ``&`` and every non-ASCII character (U+2028/2029 included) escaped, so no text can close
  the element; the page's script builds the DOM with ``textContent`` only;
- values and texts come from :mod:`mlflow_policy.report.view` (secrets masked exactly as
  every other format masks them), rule texts and reasons through ``mask_text``;
- a Content-Security-Policy meta tag allows nothing but the page's own inline script and
  style (by hash), no network at all, and Trusted Types with no policy, so even a future
  ``innerHTML`` with a string would throw instead of parsing markup.

The page is deterministic: the same Result gives the same bytes (no timestamp unless
``--timestamps``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any

from mlflow_policy import __version__
from mlflow_policy.core import HostFacts
from mlflow_policy.findings import (
    BUILTIN_RULES,
    ERROR,
    FAIL,
    SEVERITIES,
    SKIP,
    Finding,
    Result,
)
from mlflow_policy.report.json_report import summary
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.sarif import (
    BUILTIN_POLICY,
    located,
    policy_of,
    rules_by_id,
    waiver_justifications,
    waiver_text,
)
from mlflow_policy.report.view import FindingView, view, views
from mlflow_policy.secrets import mask_text

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule

DATA_VERSION = 1
# One character per cell in a host's row (a 1,000-host fleet by 60 rules is 60 kB).
NOT_SELECTED, PASSED, FAILED, WAIVED, SKIPPED, DOWN, RAISED = ".", "p", "f", "w", "s", "u", "e"
_ASSETS = "mlflow_policy.report"


@cache
def _asset(name: str) -> str:
    # imported here: importlib.resources pulls in tempfile, shutil... for every command
    from importlib import resources

    return resources.files(_ASSETS).joinpath(name).read_text("utf-8")


def _json_value(value: Any) -> str:
    """A masked value as the other formats print it (junit's ``actual:`` line)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _column(rule_id: str, loaded: LoadedRule | None, shown: list[FindingView],
            error: str | None) -> dict[str, Any]:
    severities = sorted({v.finding.severity for v in shown}, key=_severity_rank)
    if loaded is not None:
        rule = loaded.rule
        severities = [loaded.severity, *(s for s in severities if s != loaded.severity)]
        title = rule.title or ""
        description = rule.description or ""
        hint = rule.remediation.hint if rule.remediation is not None else None
        references = list(rule.references or ())
        where = f"{loaded.location.path}:{loaded.location.line}"
    else:
        title, description = "", BUILTIN_RULES.get(rule_id, "")
        hint, references, where = None, [], None
    return {
        "id": rule_id,
        "policy": policy_of(rule_id, {}) if loaded is None else str(loaded.policy),
        "builtin": loaded is None,
        # the rule's own severity first, then any other its findings carry
        "sev": severities or ["warning"],
        "title": mask_text(title),
        "description": mask_text(description),
        "hint": mask_text(hint) if hint else None,
        "references": [mask_text(str(r)) for r in references],
        "where": where,
        "error": mask_text(error) if error is not None else None,
    }


def _groups(h: HostFacts) -> list[str]:
    groups = h.declared.values.get("groups")
    return [str(g) for g in groups] if isinstance(groups, list) else []


def _unreachable(h: HostFacts) -> str | None:
    if h.observed is None or h.observed.host_unavailable is None:
        return None
    return mask_text(h.observed.host_unavailable)


def _side(f: Finding, result: Result, h: HostFacts, observed: bool) -> dict[str, Any]:
    """One side of a live finding's fact, masked as the finding's own value would be (a
    copy of the finding carrying that value goes through the same view)."""
    from mlflow_policy.facts.document import find

    path = f.fact or ""
    doc = h.observed if observed else h.declared
    if doc is None:
        return {"state": "unavailable", "text": "not gathered"}
    if observed and doc.host_unavailable is not None:
        return {"state": "unavailable", "text": mask_text(doc.host_unavailable)}
    found, value = find(doc.values, path)
    origin = doc.origin(path)
    if not observed and path == "db.revision":
        # declared through the version: its alembic head, as the drift check compares it
        from mlflow_policy.facts.drift import declared_revision

        found, value, unknown = declared_revision(doc)
        origin = "the alembic head of the declared mlflow.version"
        if unknown is not None:
            return {"state": "unavailable", "text": mask_text(unknown)}
    if not found:
        reason = doc.unavailable.get(path) or next(
            (r for p, r in doc.unavailable.items() if path.startswith(p + ".")), None)
        if reason is not None:
            return {"state": "unavailable", "text": mask_text(reason)}
        return {"state": "absent", "text": "absent"}
    masked = view(replace(f, actual=value), result).actual
    return {"state": "value", "text": _json_value(masked),
            "from": mask_text(str(origin)) if origin is not None else None}


def _finding(v: FindingView, result: Result, rules: Mapping[str, LoadedRule],
             justifications: Mapping[str, str]) -> dict[str, Any]:
    f = v.finding
    loc = located(f, rules)
    out: dict[str, Any] = {
        "rule": f.rule,
        "sev": f.severity,
        "inv": f.inventory,
        "host": f.host,
        "fact": f.fact,
        "msg": v.message,
        "exp": v.expected,
        "act": _json_value(v.actual) if f.fact is not None else None,
        "loc": f"{loc.path}:{loc.line}" if loc is not None else None,
        "col": loc.column if loc is not None else None,
        "waived": waiver_text(f, justifications) if f.waived else None,
    }
    if result.mode == "live" and f.fact is not None:
        h = result.facts_for(f.inventory, f.host)
        if h is not None:
            out["declared"] = _side(f, result, h, observed=False)
            out["observed"] = _side(f, result, h, observed=True)
    return out


def data(result: Result, options: ReportOptions) -> dict[str, Any]:
    """Everything the page shows, JSON-safe and masked: the blob the script renders."""
    rules = rules_by_id(result)
    shown = views(result)
    justifications = waiver_justifications(result)

    hosts: list[HostFacts | tuple[str, str]] = list(result.hosts)
    row = {h.key: n for n, h in enumerate(result.hosts)}
    for v in shown:  # a finding about a host the run did not list still gets its row
        where = (v.finding.inventory or "", v.finding.host or "")
        if v.finding.host is not None and where not in row:
            row[where] = len(hosts)
            hosts.append(where)

    by_rule: dict[str, list[FindingView]] = {}
    for v in shown:
        by_rule.setdefault(v.rule, []).append(v)
    ids = list(rules)
    ids += sorted({v.rule for v in shown if v.finding.host is not None} - set(ids))
    col = {rule_id: n for n, rule_id in enumerate(ids)}

    cells = [[NOT_SELECTED] * len(ids) for _ in hosts]
    reasons: dict[str, int] = {}
    skips: list[list[int]] = []
    down = {n: _unreachable(h) for n, h in enumerate(hosts) if isinstance(h, HostFacts)}
    unwaived = {(v.rule, v.finding.inventory or "", v.finding.host) for v in shown
                if v.finding.host is not None and not v.finding.waived}
    for key in result.evaluated:
        rule_id, inventory, host = key
        r, c = row.get((inventory, host)), col.get(rule_id)
        if r is None or c is None:
            continue
        outcome = result.outcome(*key)
        if outcome.status == ERROR:
            cells[r][c] = RAISED
        elif outcome.status == FAIL:
            cells[r][c] = FAILED if key in unwaived else WAIVED
        elif outcome.status == SKIP:
            cells[r][c] = DOWN if down.get(r) else SKIPPED
            reason = mask_text(outcome.reason or "")
            skips.append([r, c, reasons.setdefault(reason, len(reasons))])
        else:
            cells[r][c] = PASSED
    for v in shown:  # built-in findings (drift, unreachable...) are not in `evaluated`
        f = v.finding
        if f.host is None:
            continue
        r, c = row[(f.inventory or "", f.host)], col[f.rule]
        if cells[r][c] in (NOT_SELECTED, PASSED, SKIPPED, DOWN):
            cells[r][c] = FAILED if not f.waived else WAIVED
        elif cells[r][c] == WAIVED and not f.waived:
            cells[r][c] = FAILED

    doc_summary = summary(result, options)
    return {
        "version": DATA_VERSION,
        "tool": {"name": "mlflow-policy", "version": __version__},
        "mode": result.mode,
        "inventories": list(result.inventories),
        "generated_at": options.timestamp,
        "fail_on": options.fail_on,
        "exit_code": result.exit_code(options.fail_on),
        "summary": doc_summary,
        "rules": [_column(i, rules.get(i), by_rule.get(i, []), result.errors.get(i))
                  for i in ids],
        "hosts": [
            {"name": h.host, "inv": h.inventory, "groups": _groups(h), "down": down.get(n)}
            if isinstance(h, HostFacts) else
            {"name": h[1], "inv": h[0], "groups": [], "down": None}
            for n, h in enumerate(hosts)],
        "cells": ["".join(states) for states in cells],
        "reasons": list(reasons),
        "skips": skips,
        "findings": [_finding(v, result, rules, justifications) for v in shown],
        "builtin_policy": BUILTIN_POLICY,
    }


def embed(value: Any) -> str:
    """JSON that is inert inside ``<script type="application/json">``: ``<``, ``>`` and
    ``&`` escaped (no ``</script>``, no ``<!--``), every non-ASCII character too (U+2028
    and U+2029, bidi controls)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hash(source: str) -> str:
    import base64

    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def csp(script: str, style: str) -> str:
    return "; ".join([
        "default-src 'none'",
        f"script-src {_hash(script)}",
        f"style-src {_hash(style)}",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ])


def render(result: Result, options: ReportOptions) -> str:
    script, style = _asset("html_report.js"), _asset("html_report.css")
    # the assets are ours, but a stray closing tag in them would end the element early
    assert "</script" not in script.lower()
    assert "</style" not in style.lower()
    verdict = "FAILED" if result.exit_code(options.fail_on) else "passed"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp(script, style)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>mlflow-policy report: {verdict}</title>\n"
        f"<style>{style}</style>\n"
        "</head>\n<body>\n"
        '<noscript>This report is drawn by its own inline script: allow JavaScript for '
        "this file, or read the same run with --format text or json.</noscript>\n"
        '<main id="app"></main>\n'
        f'<script type="application/json" id="report-data">{embed(data(result, options))}'
        "</script>\n"
        f"<script>{script}</script>\n"
        "</body>\n</html>\n"
    )
