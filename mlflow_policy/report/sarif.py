"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

One ``tool.driver.rules[]`` descriptor per evaluated rule and per built-in id that appears,
one result per finding. Waived findings stay in the log as suppressed results, so code
scanning shows them closed instead of forgetting them. Paths are repo-relative under the
``SRCROOT`` base id, whose absolute location is left to the consumer (``upload-sarif``
resolves it to the checkout): the log stays byte-identical across checkouts.

The rule metadata helpers here are shared with the other CI formats (junit, codeclimate).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlflow_policy import __version__
from mlflow_policy.core import Location
from mlflow_policy.findings import BUILTIN_RULES, INTERNAL_ERROR, Finding, Result
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.view import FindingView, views
from mlflow_policy.secrets import mask_text

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "mlflowPolicy/v1"
LEVELS: Mapping[str, str] = {"error": "error", "warning": "warning", "info": "note"}
BUILTIN_POLICY = "mlflow-policy"


# ----------------------------------------------------------------- shared rule metadata


def rules_by_id(result: Result) -> dict[str, LoadedRule]:
    """The evaluated rules by full id (``Result.rules`` is typed loosely: report must not
    import the loader at runtime)."""
    return {r.full_id: r for r in result.rules}


def policy_of(rule_id: str, rules: Mapping[str, LoadedRule]) -> str:
    loaded = rules.get(rule_id)
    if loaded is not None:
        return str(loaded.policy)
    return rule_id.split("/", 1)[0]


def waiver_justifications(result: Result) -> dict[str, str]:
    """Waiver name -> its justification (findings name their waiver only)."""
    return {str(w.name): mask_text(str(w.justification)) for w in result.waivers}


def waiver_text(f: Finding, justifications: Mapping[str, str]) -> str:
    name = f.waiver or "a waiver"
    why = justifications.get(f.waiver or "")
    return f"waived by {name}: {why}" if why else f"waived by {name}"


def located(f: Finding, rules: Mapping[str, LoadedRule]) -> Location | None:
    """Where a finding points; a finding the engine could not place (a fact required but
    absent everywhere) points at its rule, so a code-scanning alert still has a file."""
    if f.location is not None:
        return f.location
    loaded = rules.get(f.rule)
    return loaded.location if loaded is not None else None


# ----------------------------------------------------------------- descriptors


def _camel(rule_id: str) -> str:
    local = rule_id.rsplit("/", 1)[-1]
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]+", local) if part)


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    head, dot, _ = flat.partition(". ")
    return head + ("." if dot else "")


def _descriptor(rule_id: str, loaded: LoadedRule | None, severity: str) -> dict[str, Any]:
    if loaded is not None:
        rule = loaded.rule
        title = rule.title or rule_id
        description = rule.description or rule.title or f"mlflow-policy rule {rule_id}"
        hint = rule.remediation.hint if rule.remediation is not None else None
        severity = loaded.severity
        tags = ["mlflow", "mlflow-policy", f"policy:{loaded.policy}", f"kind:{rule.kind}"]
    else:
        description = BUILTIN_RULES.get(rule_id, f"mlflow-policy finding {rule_id}")
        title = _first_sentence(description)
        hint = None
        tags = ["mlflow", "mlflow-policy", f"policy:{BUILTIN_POLICY}", "built-in"]
    title, description = mask_text(title), mask_text(description)
    text = description
    markdown = f"**{title}**\n\n{description}"
    if hint:
        hint = mask_text(hint)
        text += f"\n\nRemediation: {hint}"
        markdown += f"\n\n**Remediation:** {hint}"
    markdown += f"\n\nMore: `mlflow-policy explain {rule_id}`"
    return {
        "id": rule_id,
        "name": _camel(rule_id),
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
        "properties": {"tags": tags},
    }


# ----------------------------------------------------------------- results


def artifact_uri(path: str) -> tuple[str, bool]:
    """(URI, relative?) for a Location path: repo-relative paths stay relative (under
    SRCROOT); a path outside the run's root is an absolute file URI."""
    p = PurePosixPath(path)
    if p.is_absolute():
        return p.as_uri(), False
    return quote(p.as_posix(), safe="/-._~!$&'()*+,;=:@"), True


def _location(f: Finding, loc: Location | None) -> list[dict[str, Any]]:
    out: dict[str, Any] = {}
    if loc is not None:
        uri, relative = artifact_uri(loc.path)
        artifact: dict[str, Any] = {"uri": uri}
        if relative:
            artifact["uriBaseId"] = "SRCROOT"
        out["physicalLocation"] = {
            "artifactLocation": artifact,
            "region": {"startLine": max(1, loc.line), "startColumn": max(1, loc.column)},
        }
    if f.host is not None:
        out["logicalLocations"] = [{
            "name": f.host, "fullyQualifiedName": f"{f.inventory or ''}/{f.host}",
            "kind": "resource"}]
    return [out] if out else []


def _result(v: FindingView, index: int, loc: Location | None,
            justifications: Mapping[str, str]) -> dict[str, Any]:
    f = v.finding
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": LEVELS.get(f.severity, "warning"),
        "message": {"text": v.message},
    }
    locations = _location(f, loc)
    if locations:
        out["locations"] = locations
    out["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    if f.waived:
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": waiver_text(f, justifications)}]
    out["properties"] = {
        "severity": f.severity, "inventory": f.inventory, "host": f.host, "fact": f.fact,
        "expected": v.expected, "actual": v.actual, "waiver": f.waiver,
    }
    return out


def _invocation(shown: list[FindingView]) -> dict[str, Any]:
    """A rule that raised is the tool failing, not a finding about the repository: SARIF
    says so in the invocation (the result stays too, so the failure is never missed)."""
    raised = [v for v in shown if v.rule == INTERNAL_ERROR]
    out: dict[str, Any] = {"executionSuccessful": not raised}
    if raised:
        out["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": v.message},
             "descriptor": {"id": INTERNAL_ERROR}} for v in raised]
    return out


def document(result: Result, options: ReportOptions) -> dict[str, Any]:
    rules = rules_by_id(result)
    shown = views(result)
    ids = list(rules)
    extra = sorted({v.rule for v in shown} - set(ids))
    severity_of = {v.rule: v.finding.severity for v in shown}
    descriptors = [_descriptor(i, rules.get(i), severity_of.get(i, "warning"))
                   for i in ids + extra]
    index = {rule_id: n for n, rule_id in enumerate(ids + extra)}
    justifications = waiver_justifications(result)
    results = [_result(v, index[v.rule], located(v.finding, rules), justifications)
               for v in shown]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "mlflow-policy", "version": __version__,
                "semanticVersion": __version__, "rules": descriptors}},
            "invocations": [_invocation(shown)],
            "originalUriBaseIds": {"SRCROOT": {"description": {
                "text": "The configuration repository's root, where mlflow-policy ran."}}},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {"mode": result.mode, "inventories": list(result.inventories),
                           "failOn": options.fail_on},
        }],
    }


def render(result: Result, options: ReportOptions) -> str:
    return json.dumps(document(result, options), indent=2, ensure_ascii=False,
                      default=str) + "\n"
