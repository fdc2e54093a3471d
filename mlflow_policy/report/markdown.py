"""``--format markdown``: a pull-request comment or a GitHub step summary.

A headline with pass/fail and counts, one table row per unwaived finding (capped, so a
drifted fleet does not blow GitHub's comment and summary size limits), and waived findings
folded away in ``<details>``. Every cell is escaped: a value can hold ``|``, backticks,
newlines or HTML, and must not break the table or inject markup.
"""

from __future__ import annotations

import re

from mlflow_policy.findings import SEVERITIES, Result
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.text import _plural
from mlflow_policy.report.view import FindingView, views

MAX_ROWS = 200
_ICONS = {"error": ":x:", "warning": ":warning:", "info": ":information_source:"}
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can
# start emphasis, code, links, HTML, entities, strikethrough or end a table cell.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# "@name" in a PR comment pings a user or team; escaping doesn't stop it (GitHub matches the
# rendered text), a word joiner after the "@" does, invisibly.
_MENTION = re.compile(r"(?<![0-9A-Za-z_])@(?=[0-9A-Za-z])")
WORD_JOINER = "\u2060"


def cell(text: str) -> str:
    """Text as one GitHub-flavoured Markdown table cell, rendered literally."""
    text = _MENTION.sub("@" + WORD_JOINER, _SPECIAL.sub(r"\\\1", text))
    return _NEWLINES.sub("<br>", text).strip() or " "


def code_cell(text: str) -> str:
    """A path in a code span when it can be one (no backtick, no pipe, one line)."""
    if text and not re.search(r"[`|\r\n]", text):
        return f"`{text}`"
    return cell(text)


def headline(result: Result, options: ReportOptions) -> list[str]:
    s = result.summary
    code = result.exit_code(options.fail_on)
    if code == 3:
        verdict = f":boom: internal error ({s.internal_errors} rule(s) raised)"
    elif code:
        verdict = f":x: failed (`--fail-on {options.fail_on}`)"
    else:
        verdict = ":white_check_mark: passed"
    counts = ", ".join(_plural(s.findings.get(sev, 0), sev) for sev in SEVERITIES)
    parts = [f"**{counts}**", f"{s.waived} waived", f"{s.skipped} skipped",
             _plural(s.hosts, "host"), _plural(s.rules, "rule")]
    if s.unmatched_rules:
        parts.append(f"{len(s.unmatched_rules)} unmatched")
    return [f"### mlflow-policy: {verdict}", "", " · ".join(parts)]


def _row(v: FindingView, waived: bool) -> str:
    f = v.finding
    host = f"{f.inventory or ''}/{f.host}" if f.host is not None else (f.inventory or "")
    where = f"{f.location.path}:{f.location.line}" if f.location is not None else ""
    cells = [f"{_ICONS.get(f.severity, '')} {cell(f.severity)}", code_cell(f.rule),
             cell(host), code_cell(f.fact or ""), cell(v.message), code_cell(where)]
    if waived:
        cells.append(cell(f.waiver or ""))
    return "| " + " | ".join(c if c.strip() else " " for c in cells) + " |"


def _table(rows: list[FindingView], waived: bool) -> list[str]:
    head = ["Severity", "Rule", "Host", "Fact", "Message", "Location"]
    if waived:
        head.append("Waiver")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += [_row(v, waived) for v in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out += ["", f"… and {len(rows) - MAX_ROWS} more (see `--format json` for all)."]
    return out


def render(result: Result, options: ReportOptions) -> str:
    shown = views(result)
    open_ = [v for v in shown if not v.finding.waived]
    waived = [v for v in shown if v.finding.waived]
    out = [*headline(result, options), ""]
    if open_:
        out += _table(open_, waived=False)
    else:
        out.append("No unwaived findings.")
    if waived:
        out += ["", "<details>", f"<summary>{_plural(len(waived), 'waived finding')}</summary>",
                ""]
        out += _table(waived, waived=True)
        out += ["", "</details>"]
    return "\n".join(out) + "\n"
