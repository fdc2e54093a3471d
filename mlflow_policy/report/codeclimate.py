"""``--format codeclimate``: GitLab Code Quality JSON (a subset of the Code Climate issue
spec): one issue per unwaived finding, with ``location.path`` and ``lines.begin``.

GitLab compares fingerprints between the merge request and its target to show new and
fixed issues, and drops duplicates, so each issue's fingerprint is the finding's stable
fingerprint (32 hex digits, the shape of the MD5 GitLab documents), made unique by
re-hashing in the rare case two findings share one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from mlflow_policy.findings import INTERNAL_ERROR, Result
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.sarif import located, rules_by_id
from mlflow_policy.report.view import views
from mlflow_policy.secrets import mask_text

SEVERITY: Mapping[str, str] = {"error": "critical", "warning": "major", "info": "info"}
# A finding with nowhere to point (rare: a diagnostic without a file) still needs a path.
NO_PATH = "."


def unique_fingerprint(fingerprint: str, taken: set[str]) -> str:
    candidate, n = fingerprint, 1
    while candidate in taken:
        candidate = hashlib.md5(f"{fingerprint}/{n}".encode(), usedforsecurity=False).hexdigest()
        n += 1
    taken.add(candidate)
    return candidate


def issues(result: Result) -> list[dict[str, Any]]:
    rules = rules_by_id(result)
    taken: set[str] = set()
    out: list[dict[str, Any]] = []
    for v in views(result):
        f = v.finding
        if f.waived:
            continue
        loc = located(f, rules)
        issue: dict[str, Any] = {
            "type": "issue",
            "engine_name": "mlflow-policy",
            "check_name": f.rule,
            "description": v.message,
            "categories": ["Bug Risk"],
            "severity": "blocker" if f.rule == INTERNAL_ERROR else SEVERITY.get(f.severity,
                                                                                "minor"),
            "fingerprint": unique_fingerprint(f.fingerprint, taken),
            "location": {"path": loc.path if loc else NO_PATH,
                         "lines": {"begin": max(1, loc.line) if loc else 1}},
        }
        loaded = rules.get(f.rule)
        remediation = loaded.rule.remediation if loaded is not None else None
        if remediation is not None and remediation.hint:
            issue["content"] = {"body": mask_text(remediation.hint)}
        out.append(issue)
    return out


def render(result: Result, options: ReportOptions) -> str:
    return json.dumps(issues(result), indent=2, ensure_ascii=False) + "\n"
