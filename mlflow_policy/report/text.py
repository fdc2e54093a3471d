"""``--format text``: for people. Findings grouped by inventory, then host, each with the
inventory line to change, expected vs actual; one summary line at the end. Colour only
when the caller says so (a terminal, no ``--no-color``, no ``NO_COLOR``)."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from mlflow_policy.display import escape_controls
from mlflow_policy.findings import SEVERITIES, Result
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.view import FindingView, views

_COLORS = {"error": "31", "warning": "33", "info": "36", "waived": "2", "bold": "1",
           "ok": "32"}
NO_HOST = "(no host)"
NO_INVENTORY = "(run)"


# What the summary line's words mean: `check --help` prints it, docs/reports.md repeats it.
SUMMARY_HELP = """\
the summary line:
  mlflow-policy: 2 errors, 1 warning, 0 info; 1 waived; 31 skipped; 16 hosts; 28 rules;
  1 unmatched: FAILED (--fail-on error)

  errors, warnings, info  unwaived findings by severity (--fail-on decides the verdict)
  waived     findings a Waiver covers: listed (-q hides them), never fail the run
  skipped    (rule, host) pairs the run could not decide, neither violation nor pass: the
             rule needs a fact this mode cannot know (db.*, http.*, clock.* are observed
             only: a live run reads them) or the plaintext of a vault-encrypted value
  hosts, rules  hosts read from the inventories; rules evaluated (after --rule/--skip-rule)
  unmatched  rules whose match selected no host (-v lists them): often a typo in match
  (run)      the heading of findings about the run itself rather than a host (a waiver
             that expired or matched nothing, an internal error)
  with --diff-base the line starts "N new, N fixed since REF (merge base)": only the new
  findings are listed and can fail the run"""


def _paint(text: str, style: str, on: bool) -> str:
    return f"\x1b[{_COLORS[style]}m{text}\x1b[0m" if on else text


def _value(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _finding_lines(v: FindingView, color: bool) -> list[str]:
    f = v.finding
    if f.waived:
        tag = _paint(f"waived ({f.waiver})", "waived", color)
        head = f"    {_paint(f.severity, 'waived', color):<7} {f.rule}  {tag}"
    else:
        sev = _paint(f"{f.severity:<7}", f.severity, color)
        head = f"    {sev} {_paint(f.rule, 'bold', color)}"
    lines = [head, f"            {v.message}"]
    if f.location is not None:
        lines.append(f"            at {f.location.path}:{f.location.line}")
    if f.fact is not None and v.expected is not None:
        lines.append(f"            expected: {v.expected}")
        lines.append(f"            actual:   {_value(v.actual)}")
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 or word == 'info' else 's'}"


def summary_line(result: Result, options: ReportOptions) -> str:
    s = result.summary
    counts = ", ".join(_plural(s.findings.get(sev, 0), sev) for sev in SEVERITIES)
    parts = [counts, f"{s.waived} waived", f"{s.skipped} skipped",
             _plural(s.hosts, "host"), _plural(s.rules, "rule")]
    if s.unmatched_rules:
        parts.append(f"{len(s.unmatched_rules)} unmatched")
    if result.diff is not None:
        parts.insert(0, f"{result.diff.new} new, {result.diff.fixed} fixed since "
                        f"{result.diff.base} ({result.diff.merge_base[:12]})")
    code = result.exit_code(options.fail_on)
    if code == 3:
        verdict = _paint(f"INTERNAL ERROR ({s.internal_errors} rule(s) raised)", "error",
                         options.color)
    elif code:
        verdict = _paint(f"FAILED (--fail-on {options.fail_on})", "error", options.color)
    else:
        verdict = _paint("passed", "ok", options.color)
    return f"mlflow-policy: {'; '.join(parts)}: {verdict}"


def render(result: Result, options: ReportOptions) -> str:
    shown = [v for v in views(result) if not (options.quiet and v.finding.waived)]
    out: list[str] = []
    for inventory, by_inv in groupby(shown, key=lambda v: v.finding.inventory):
        out.append(_paint(inventory or NO_INVENTORY, "bold", options.color))
        for host, by_host in groupby(by_inv, key=lambda v: v.finding.host):
            out.append(f"  {host or NO_HOST}")
            for v in by_host:
                out.extend(_finding_lines(v, options.color))
        out.append("")
    if options.verbose:
        for rule in result.summary.unmatched_rules:
            out.append(f"unmatched: {rule} selects no host")
        if result.summary.unmatched_rules:
            out.append("")
        for configured in result.configured:
            out.append(f"configured: {configured.describe()}")
        if result.configured:
            out.append("")
    out.append(summary_line(result, options))
    # names, paths and values come from pull requests: no control or bidi character
    # reaches the terminal raw
    return escape_controls("\n".join(out) + "\n", keep_colors=options.color)
