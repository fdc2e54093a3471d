"""``--format junit``: JUnit XML as GitLab's test reports and Jenkins' junit step read it.

``testsuites`` > one ``testsuite`` per policy (and ``mlflow-policy`` for the engine's own
findings) > one ``testcase`` per (rule, host) the rule evaluated: ``classname`` is the rule
id, ``name`` is ``inventory/host``. A testcase with unwaived findings fails (``type`` is
the highest severity, the body lists each ``path:line:col: message``), one whose findings
are all waived is ``skipped``, so is one the rule could not decide (a fact it needs is
unavailable in this mode: the message says which and why), and a rule that raised gives
its testcases an ``error``.
Built with ElementTree so every text is escaped; characters XML 1.0 cannot carry
(terminal escapes in a value...) are written as ``\\xNN``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlflow_policy.findings import INTERNAL_ERROR, SEVERITIES, Result
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.sarif import (
    BUILTIN_POLICY,
    policy_of,
    rules_by_id,
    waiver_justifications,
    waiver_text,
)
from mlflow_policy.report.view import FindingView, views
from mlflow_policy.secrets import mask_text

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
NO_HOST = "(run)"


def xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass
class _Case:
    suite: str
    classname: str
    name: str
    findings: list[FindingView] = field(default_factory=list)
    error: FindingView | None = None
    skip: str | None = None  # why the rule could not decide on this host (its outcome)


def _case_name(v: FindingView) -> str:
    f = v.finding
    if f.host is not None:
        return f"{f.inventory or NO_HOST}/{f.host}"
    where = f"{f.location.path}:{f.location.line}" if f.location else f.fingerprint[:12]
    return f"{f.inventory or NO_HOST}: {where}"


def _cases(result: Result, rules: Mapping[str, LoadedRule]) -> list[_Case]:
    cases: dict[tuple[str, ...], _Case] = {}
    for rule_id, inventory, host in result.evaluated:
        cases.setdefault((rule_id, inventory, host), _Case(
            policy_of(rule_id, rules), rule_id, f"{inventory}/{host}",
            skip=result.skips.get((rule_id, inventory, host))))
    by_location = {r.location: r.full_id for r in rules.values()}
    for v in views(result):
        f = v.finding
        broken = by_location.get(f.location) if f.rule == INTERNAL_ERROR and f.location else None
        if broken is not None and any(k[0] == broken for k in cases):
            # The rule raised, so none of its hosts was checked: each testcase errors.
            for key, case in cases.items():
                if key[0] == broken:
                    case.error = v
            continue
        key = ((f.rule, f.inventory or "", f.host) if f.host is not None
               else (f.rule, f.inventory or "", "", f.fingerprint))
        suite = BUILTIN_POLICY if f.rule not in rules else policy_of(f.rule, rules)
        case = cases.setdefault(key, _Case(suite, f.rule, _case_name(v)))
        if f.rule == INTERNAL_ERROR:
            case.error = v
        else:
            case.findings.append(v)
    return list(cases.values())


def _line(v: FindingView, justifications: Mapping[str, str]) -> str:
    f = v.finding
    where = f"{f.location}: " if f.location is not None else ""
    text = f"{f.severity}: {where}{v.message}"
    if f.fact is not None and v.expected is not None:
        actual = json.dumps(v.actual, ensure_ascii=False, sort_keys=True, default=str)
        text += f"\n  expected: {v.expected}\n  actual:   {actual}"
    if f.waived:
        text += f"\n  ({waiver_text(f, justifications)})"
    return text


def _testcase(parent: ET.Element, case: _Case, justifications: Mapping[str, str]) -> str:
    """Add the testcase; returns its outcome: passed, failure, error or skipped."""
    first = case.error or (case.findings[0] if case.findings else None)
    attrs = {"classname": case.classname, "name": xml_safe(case.name)}
    if first is not None and first.finding.location is not None:
        attrs["file"] = xml_safe(first.finding.location.path)
    attrs["time"] = "0"
    el = ET.SubElement(parent, "testcase", attrs)
    if case.error is not None:
        err = ET.SubElement(el, "error", {"message": xml_safe(case.error.message),
                                          "type": "internal-error"})
        err.text = xml_safe(_line(case.error, justifications))
        return "error"
    failing = [v for v in case.findings if not v.finding.waived]
    if failing:
        worst = min((v.finding.severity for v in failing),
                    key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else len(SEVERITIES))
        message = failing[0].message if len(failing) == 1 else (
            f"{len(failing)} findings: {failing[0].message}")
        failure = ET.SubElement(el, "failure", {"message": xml_safe(message), "type": worst})
        failure.text = xml_safe("\n".join(_line(v, justifications) for v in case.findings))
        return "failure"
    if case.findings:
        waived = sorted({waiver_text(v.finding, justifications) for v in case.findings})
        skipped = ET.SubElement(el, "skipped", {"message": xml_safe("; ".join(waived))})
        skipped.text = xml_safe("\n".join(_line(v, justifications) for v in case.findings))
        return "skipped"
    if case.skip is not None:
        ET.SubElement(el, "skipped", {"message": xml_safe(mask_text(case.skip))})
        return "skipped"
    return "passed"


def _counts(el: ET.Element, tally: Mapping[str, int], tests: int) -> None:
    el.set("tests", str(tests))
    el.set("failures", str(tally.get("failure", 0)))
    el.set("errors", str(tally.get("error", 0)))
    el.set("skipped", str(tally.get("skipped", 0)))
    el.set("time", "0")


def render(result: Result, options: ReportOptions) -> str:
    rules = rules_by_id(result)
    justifications = waiver_justifications(result)
    cases = _cases(result, rules)
    policies = list(dict.fromkeys(policy_of(r, rules) for r in rules))
    suites = policies + sorted({c.suite for c in cases} - set(policies) - {BUILTIN_POLICY})
    if any(c.suite == BUILTIN_POLICY for c in cases):
        suites.append(BUILTIN_POLICY)
    root = ET.Element("testsuites", {"name": "mlflow-policy"})
    total: dict[str, int] = {}
    for name in suites:
        suite = ET.SubElement(root, "testsuite", {"name": xml_safe(name)})
        members = [c for c in cases if c.suite == name]
        tally: dict[str, int] = {}
        for case in members:
            outcome = _testcase(suite, case, justifications)
            tally[outcome] = tally.get(outcome, 0) + 1
            total[outcome] = total.get(outcome, 0) + 1
        _counts(suite, tally, len(members))
    _counts(root, total, len(cases))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
