"""``--format json``: the machine report of cli-and-reports.md. Deterministic: sorted
findings, no timestamps, the same bytes for the same input."""

from __future__ import annotations

import json
from typing import Any

from mlflow_policy import __version__
from mlflow_policy.findings import SEVERITIES, Result
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.view import views

SCHEMA_VERSION = 1


def summary(result: Result, options: ReportOptions) -> dict[str, Any]:
    """The report's counts; the html report shows these very numbers."""
    s = result.summary
    return {
        "hosts": s.hosts,
        "rules": s.rules,
        "findings": {sev: s.findings.get(sev, 0) for sev in SEVERITIES},
        "waived": s.waived,
        "skipped": s.skipped,
        "unmatched_rules": list(s.unmatched_rules),
        "configured": [c.to_json() for c in result.configured],
        "failed": result.exit_code(options.fail_on) != 0,
        **_diff(result),
    }


def document(result: Result, options: ReportOptions) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "mlflow-policy", "version": __version__},
        "mode": result.mode,
        "inventories": list(result.inventories),
        **({"generated_at": options.timestamp} if options.timestamp else {}),
        "summary": summary(result, options),
        "findings": [
            {
                "rule": v.finding.rule,
                "severity": v.finding.severity,
                "host": v.finding.host,
                "inventory": v.finding.inventory,
                "fact": v.finding.fact,
                "actual": v.actual,
                "expected": v.expected,
                "message": v.message,
                "location": v.finding.location.to_json() if v.finding.location else None,
                "waived": v.finding.waived,
                "waiver": v.finding.waiver,
                "fingerprint": v.finding.fingerprint,
            }
            for v in views(result)
        ],
    }


def _diff(result: Result) -> dict[str, Any]:
    if result.diff is None:
        return {}
    d = result.diff
    return {"diff": {"base": d.base, "merge_base": d.merge_base, "new": d.new, "fixed": d.fixed}}


def render(result: Result, options: ReportOptions) -> str:
    """Indented, with one finding per line: as readable in a diff as fully indented JSON,
    and encoded by the C encoder (a fully indented dump of 27k findings takes seconds)."""
    doc = document(result, options)
    findings = doc.pop("findings")
    head = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    if not findings:
        return head[:-2] + ',\n  "findings": []\n}\n'
    encode = json.JSONEncoder(ensure_ascii=False, default=str, separators=(", ", ": ")).encode
    rows = ",\n".join("    " + encode(f) for f in findings)
    return head[:-2] + ',\n  "findings": [\n' + rows + "\n  ]\n}\n"
